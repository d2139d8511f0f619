#include "store/hf_client.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <unistd.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "core/json_number.h"
#include "core/units.h"
#include "core/utf8.h"
#include "store/sha256.h"
#include "store/url.h"

namespace kiln::store {
namespace fs = std::filesystem;
using json   = nlohmann::json;
using clock_ = std::chrono::steady_clock;

namespace {

void curl_init_once() {
    static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
    (void)done;
}

struct EasyDeleter {
    void operator()(CURL * h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist * l) const { curl_slist_free_all(l); }
};

// One HTTP exchange, no redirects followed.
struct Exchange {
    CURLcode    code = CURLE_OK;
    long        status = 0;
    std::string location;     // of a 3xx
    std::string retry_after;  // header value, of a 429/503
    std::string next;         // the Link header's rel="next" URL (a paginated listing)
    std::string error;        // curl's words when code != OK
};

struct HeaderSink {
    std::string retry_after;
    std::string next;
};

// `Link: <https://host/api/...&cursor=X>; rel="next", <...>; rel="prev"`
std::string next_link(const std::string & value) {
    size_t start = 0;
    while ((start = value.find('<', start)) != std::string::npos) {
        const auto close = value.find('>', start);
        if (close == std::string::npos) break;
        const auto end    = value.find('<', close);
        const auto params = value.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
        if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos) {
            return value.substr(start + 1, close - start - 1);
        }
        start = close;
    }
    return {};
}

size_t on_header(char * data, size_t size, size_t n, void * user) {
    auto *       sink = static_cast<HeaderSink *>(user);
    const size_t len  = size * n;
    std::string  line(data, len);
    if (line.size() > 12 && strncasecmp(line.c_str(), "retry-after:", 12) == 0) {
        auto v = line.substr(12);
        v.erase(0, v.find_first_not_of(" \t"));
        v.erase(v.find_last_not_of(" \t\r\n") + 1);
        sink->retry_after = v;
    } else if (line.size() > 5 && strncasecmp(line.c_str(), "link:", 5) == 0) {
        sink->next = next_link(line.substr(5));
    }
    return len;
}

struct CancelFlag {
    const std::atomic<bool> * flag = nullptr;
};

int on_xfer(void * user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto * c = static_cast<CancelFlag *>(user);
    return c->flag && c->flag->load() ? 1 : 0;
}

// Runs one GET; `write` receives the body (return false to abort).
Exchange perform(const HfOptions & o, const std::string & url, uint64_t range_from,
                 const std::function<bool(CURL *, const char *, size_t)> & write) {
    curl_init_once();
    std::unique_ptr<CURL, EasyDeleter> h(curl_easy_init());
    Exchange ex;
    if (!h) {
        ex.code  = CURLE_FAILED_INIT;
        ex.error = "cannot start libcurl";
        return ex;
    }
    curl_slist * raw = nullptr;
    raw = curl_slist_append(raw, "User-Agent: kiln");
    // The token goes to the endpoint's host only, never to a redirect target.
    if (const auto host = url_authority(url); !o.token.empty() && !host.empty() && host == url_authority(o.endpoint)) {
        raw = curl_slist_append(raw, ("Authorization: Bearer " + o.token).c_str());
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
    struct WriteCtx {
        CURL *                                                     h;
        const std::function<bool(CURL *, const char *, size_t)> * write;
    } wctx{h.get(), &write};
    auto on_write = +[](char * data, size_t size, size_t n, void * user) -> size_t {
        auto * c = static_cast<WriteCtx *>(user);
        return (*c->write)(c->h, data, size * n) ? size * n : 0;
    };
    HeaderSink hs;
    CancelFlag cf{o.cancel};
    char       errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h.get(), CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &wctx);
    curl_easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(h.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h.get(), CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(h.get(), CURLOPT_XFERINFODATA, &cf);
    curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(h.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h.get(), CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.stall_timeout.count()));
    curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    if (range_from > 0) {
        curl_easy_setopt(h.get(), CURLOPT_RANGE, (std::to_string(range_from) + "-").c_str());
    }
    ex.code = curl_easy_perform(h.get());
    curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &ex.status);
    if (ex.code != CURLE_OK) ex.error = errbuf[0] ? errbuf : curl_easy_strerror(ex.code);
    if (ex.status >= 300 && ex.status < 400) {
        char * loc = nullptr;
        curl_easy_getinfo(h.get(), CURLINFO_REDIRECT_URL, &loc);
        if (loc) ex.location = loc;
    }
    ex.retry_after = hs.retry_after;
    ex.next        = hs.next;
    return ex;
}

bool retryable(const Exchange & ex) {
    if (ex.code == CURLE_ABORTED_BY_CALLBACK || ex.code == CURLE_WRITE_ERROR) return false;
    if (ex.code != CURLE_OK) return true;  // connection refused/reset, timeouts, a body cut short
    return ex.status == 429 || ex.status >= 500;
}

void back_off(const HfOptions & o, int attempt, const std::string & retry_after) {
    auto wait = o.backoff * (1 << std::min(attempt, 6));
    if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
        wait = std::chrono::milliseconds(std::stoll(retry_after) * 1000);
    }
    wait = std::min<std::chrono::milliseconds>(wait, std::chrono::seconds(30));
    const auto until = clock_::now() + wait;
    while (clock_::now() < until && !(o.cancel && o.cancel->load())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// `missing`: what a 404 means here, if it means more than "not found".
Error http_error(const std::string & repo, const Exchange & ex, const std::string & what, const std::string & missing = "") {
    if (ex.code == CURLE_ABORTED_BY_CALLBACK) return make_error(ErrorCode::cancelled, "stopped");
    if (ex.code != CURLE_OK) return make_error(ErrorCode::io, what + ": " + ex.error);
    switch (ex.status) {
        case 401:
            return make_error(ErrorCode::model_not_found,
                              "repository " + repo + " not found, or private: set HF_TOKEN to a token that can read it");
        case 403:
            return make_error(ErrorCode::unavailable,
                              "repository " + repo + " is gated: accept its terms at https://huggingface.co/" + repo +
                                  " and set HF_TOKEN to a token of that account");
        case 404: return make_error(ErrorCode::model_not_found, missing.empty() ? what + ": not found (HTTP 404)" : missing);
        default:  return make_error(ErrorCode::io, what + ": HTTP " + std::to_string(ex.status));
    }
}

// obj[key] when it is text, else `fallback`: an entry of the wrong shape is
// skipped or defaulted, never a throw that loses the whole listing.
std::string text_of(const json & obj, const char * key, const std::string & fallback = "") {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

HfOptions HfOptions::from_env() {
    HfOptions o;
    if (const char * e = std::getenv("HF_ENDPOINT"); e && *e) {
        o.endpoint = e;
        while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
    }
    if (const char * t = std::getenv("HF_TOKEN"); t && *t) o.token = t;
    return o;
}

HfClient::HfClient(HfOptions options) : opts_(std::move(options)) {}

struct HfClient::Response {
    long        status = 0;
    std::string body;
    std::string next;  // the next page's URL, if the listing has one
};

Result<HfClient::Response> HfClient::get_json(const std::string & repo, std::string url, const std::string & missing) {
    for (int attempt = 0, redirects = 0;;) {
        std::string body;
        auto ex = perform(opts_, url, 0, [&](CURL *, const char * d, size_t n) {
            if (body.size() + n > (64u << 20)) return false;  // no listing is this big
            body.append(d, n);
            return true;
        });
        if (ex.code == CURLE_OK && ex.status >= 300 && ex.status < 400 && !ex.location.empty() && redirects++ < 10) {
            url = ex.location;
            continue;
        }
        if (ex.code == CURLE_OK && ex.status == 200) return Response{ex.status, std::move(body), ex.next};
        if (retryable(ex) && attempt < opts_.max_retries) {
            back_off(opts_, attempt++, ex.retry_after);
            continue;
        }
        return http_error(repo, ex, repo.empty() ? "Hugging Face search" : "listing " + repo, missing);
    }
}

Result<std::vector<HfFile>> parse_file_list(std::string_view body) {
    std::vector<HfFile> files;
    try {
        const auto j = json::parse(body);
        if (!j.is_array()) return make_error(ErrorCode::io, "not a list");
        for (const auto & item : j) {
            if (!item.is_object() || text_of(item, "type") != "file") continue;
            HfFile f;
            f.path = text_of(item, "path");
            f.size = json_count_field<uint64_t>(item, "size", 0);
            if (item.contains("lfs") && item["lfs"].is_object()) {
                f.sha256 = text_of(item["lfs"], "oid");
                f.size   = json_count_field<uint64_t>(item["lfs"], "size", f.size);
            }
            if (!f.path.empty()) files.push_back(std::move(f));
        }
    } catch (const std::exception & e) {
        return make_error(ErrorCode::io, e.what());
    }
    return files;
}

Result<std::vector<HfModel>> parse_search(std::string_view body) {
    std::vector<HfModel> out;
    try {
        const auto j = json::parse(body);
        if (!j.is_array()) return make_error(ErrorCode::io, "not a list");
        for (const auto & item : j) {
            if (!item.is_object()) continue;
            HfModel m;
            m.id           = text_of(item, "id", text_of(item, "modelId"));
            m.downloads    = json_count_field<uint64_t>(item, "downloads", 0);
            m.likes        = json_count_field<uint64_t>(item, "likes", 0);
            m.pipeline_tag = text_of(item, "pipeline_tag");
            m.updated      = text_of(item, "lastModified", text_of(item, "createdAt"));
            if (!m.id.empty()) out.push_back(std::move(m));
        }
    } catch (const std::exception & e) {
        return make_error(ErrorCode::io, e.what());
    }
    return out;
}

Result<std::vector<HfFile>> HfClient::list_files(const std::string & repo) {
    std::vector<HfFile> files;
    // The tree API pages large repositories (a Link header names the next
    // page); follow it, on the endpoint's host only.
    std::string url = opts_.endpoint + "/api/models/" + repo + "/tree/main?recursive=true";
    for (int page = 0; !url.empty(); ++page) {
        if (page == 1000) return make_error(ErrorCode::io, "the file list of " + repo + " does not end");
        auto r = get_json(repo, url, "repository " + repo + " not found on Hugging Face");
        if (!r) return r.error();
        auto page_files = parse_file_list(r->body);
        if (!page_files) return make_error(ErrorCode::io, "Hugging Face answered the file list of " + repo + " with something not JSON");
        for (auto & f : *page_files) files.push_back(std::move(f));
        url = r->next;
        if (!url.empty() && url_authority(url) != url_authority(opts_.endpoint)) {
            return make_error(ErrorCode::io, "the file list of " + repo + " continues on another host (" +
                                                 url_authority(url) + "); refusing to follow");
        }
    }
    return files;
}

Result<std::vector<HfModel>> HfClient::search(const std::string & query, const std::string & author, int limit,
                                              const std::string & sort) {
    std::string q = "/api/models?filter=gguf&limit=" + std::to_string(std::clamp(limit, 1, 1000));
    if (!query.empty()) q += "&search=" + url_escape(query);
    if (!author.empty()) q += "&author=" + url_escape(author);
    q += "&sort=" + url_escape(sort == "likes" ? "likes" : sort == "updated" ? "lastModified" : "downloads") + "&direction=-1";
    auto r = get_json("", opts_.endpoint + q);
    if (!r) return r.error();
    auto out = parse_search(r->body);
    if (!out) return make_error(ErrorCode::io, "Hugging Face answered the search with something not JSON");
    return out;
}

namespace {

// What `.partial` already holds from an earlier attempt, and its hash.
struct Partial {
    uint64_t                size = 0;
    std::unique_ptr<Sha256> hash = std::make_unique<Sha256>();
    void                    restart() {
        size = 0;
        hash = std::make_unique<Sha256>();
    }
};

// Hashes what `path` holds from an earlier attempt. A file larger than
// `expected` (when known), or one that cannot be read, is removed.
Partial open_partial(const fs::path & path, uint64_t expected) {
    Partial         part;
    std::error_code ec;
    part.size = fs::exists(path, ec) ? fs::file_size(path, ec) : 0;
    if (ec || (expected > 0 && part.size > expected)) {
        fs::remove(path, ec);
        part.size = 0;
        return part;
    }
    std::unique_ptr<FILE, int (*)(FILE *)> in(part.size > 0 ? std::fopen(path.c_str(), "rb") : nullptr, std::fclose);
    std::vector<char>                      buf(part.size > 0 ? 1 << 20 : 0);
    uint64_t                               left = part.size;
    while (in && left > 0) {
        const size_t n = std::fread(buf.data(), 1, std::min<uint64_t>(buf.size(), left), in.get());
        if (n == 0) break;
        part.hash->update(buf.data(), n);
        left -= n;
    }
    if (left > 0) {  // unreadable: start over
        fs::remove(path, ec);
        part.restart();
    }
    return part;
}

// Free space in `dir` for `need` more bytes of `name`, plus a little.
Status check_space(const fs::path & dir, uint64_t need, const std::string & name) {
    constexpr uint64_t spare = 16u << 20;  // the catalog, logs, and a little air
    std::error_code    ec;
    const auto         space = fs::space(dir, ec);
    if (ec || space.available >= need + spare) return {};
    return make_error(ErrorCode::io, "not enough disk space for " + name + ": it needs " + format_bytes(static_cast<double>(need)) +
                                         " (and " + format_bytes(static_cast<double>(spare)) + " to spare), " +
                                         format_bytes(static_cast<double>(space.available)) + " is free");
}

// Reports a download's progress at most ~10 times a second, with the speed
// of this run (bytes resumed from an earlier one do not count).
class ProgressMeter {
  public:
    ProgressMeter(const std::function<void(const DownloadProgress &)> & report, uint64_t total, uint64_t from)
        : report_(report), from_(from) {
        p_.total   = total;
        p_.resumed = from > 0;
    }
    void restarted() { from_ = 0; }
    void update(uint64_t done, bool always = false) {
        const auto now = clock_::now();
        if (!report_ || (!always && now - last_ < std::chrono::milliseconds(100))) return;
        last_             = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        p_.done           = done;
        p_.bytes_per_second = secs > 0 && done >= from_ ? static_cast<double>(done - from_) / secs : 0;
        report_(p_);
    }

  private:
    const std::function<void(const DownloadProgress &)> & report_;
    uint64_t                                              from_;
    DownloadProgress                                      p_;
    clock_::time_point                                    start_ = clock_::now(), last_{};
};

// Appends one response's body to the partial file and its hash. A 200 to a
// ranged request is the whole file: the partial file then starts over.
class RangeWriter {
  public:
    RangeWriter(FILE * out, Partial & part, uint64_t file_size, ProgressMeter & meter)
        : out_(out), part_(part), file_size_(file_size), requested_(part.size), meter_(meter) {}

    // curl's write callback; false stops the transfer (error() says why).
    bool write(long status, const char * d, size_t n) {
        if (status != 200 && status != 206) return true;  // a redirect's body or an error page, judged after
        if (status == 200 && requested_ > 0 && !restarted_) {
            restarted_ = true;
            std::fflush(out_);
            if (ftruncate(fileno(out_), 0) != 0 || std::fseek(out_, 0, SEEK_SET) != 0) return fail(errno);
            part_.restart();
            meter_.restarted();
        }
        if (file_size_ > 0 && part_.size + n > file_size_) return fail(EFBIG);  // more bytes than the file has
        if (std::fwrite(d, 1, n, out_) != n) return fail(errno ? errno : EIO);
        part_.hash->update(d, n);
        part_.size += n;
        meter_.update(part_.size);
        return true;
    }
    // The errno that stopped the writes, including one of the final flush; 0 if none.
    int close() {
        if (std::fflush(out_) != 0 && !errno_) errno_ = errno;
        return errno_;
    }

  private:
    bool fail(int e) {
        errno_ = e;
        return false;
    }
    FILE *          out_;
    Partial &       part_;
    uint64_t        file_size_, requested_;
    ProgressMeter & meter_;
    bool            restarted_ = false;
    int             errno_     = 0;
};

Error stopped(const std::string & name) { return make_error(ErrorCode::cancelled, "stopped; " + name + " resumes on the next pull"); }

// GETs `first_url` into `partial` from part.size on, following redirects,
// retrying and resuming until the body is whole (file_size bytes, when known).
Status transfer(const HfOptions & o, const std::string & repo, const std::string & first_url, const fs::path & partial,
                uint64_t file_size, Partial & part, ProgressMeter & meter) {
    const std::string name = partial.stem().string();
    std::string       url  = first_url;
    for (int attempt = 0, redirects = 0;;) {
        std::unique_ptr<FILE, int (*)(FILE *)> out(std::fopen(partial.c_str(), part.size > 0 ? "ab" : "wb"), std::fclose);
        if (!out) return make_error(ErrorCode::io, "cannot write " + partial.filename().string() + ": " + std::strerror(errno));
        RangeWriter writer(out.get(), part, file_size, meter);
        const auto  ex = perform(o, url, part.size, [&](CURL * h, const char * d, size_t n) {
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            return writer.write(status, d, n);
        });
        const int write_errno = writer.close();
        out.reset();
        std::error_code ec;
        if (write_errno == ENOSPC || write_errno == EDQUOT) {
            return make_error(ErrorCode::io, "disk full while writing " + name + "; free some space and pull again (it resumes)");
        }
        if (write_errno == EFBIG) {
            fs::remove(partial, ec);
            return make_error(ErrorCode::io, name + ": the server sent more bytes than the file has; nothing was kept");
        }
        if (write_errno) return make_error(ErrorCode::io, "cannot write " + name + ": " + std::strerror(write_errno));
        if (ex.code == CURLE_OK && ex.status >= 300 && ex.status < 400 && !ex.location.empty()) {
            if (redirects++ >= 10) return make_error(ErrorCode::io, name + ": too many redirects");
            url = ex.location;
            continue;
        }
        if (ex.code == CURLE_OK && ex.status == 416 && part.size > 0) {
            // Our partial file does not fit what the server has: start over.
            fs::remove(partial, ec);
            part.restart();
            meter.restarted();
            if (attempt++ >= o.max_retries) return make_error(ErrorCode::io, name + ": the server refuses to resume");
            url = first_url;
            continue;
        }
        const bool body = ex.code == CURLE_OK && (ex.status == 200 || ex.status == 206);
        if (body && (file_size == 0 || part.size == file_size)) return {};
        if (ex.code == CURLE_ABORTED_BY_CALLBACK) return stopped(name);
        if ((body || retryable(ex)) && attempt < o.max_retries) {  // a body cut short resumes too
            back_off(o, attempt++, ex.retry_after);
            if (o.cancel && o.cancel->load()) return stopped(name);
            url = first_url;  // a redirect target may have expired
            continue;
        }
        if (body) return make_error(ErrorCode::io, name + ": the connection kept dropping; pull again to resume");
        return http_error(repo, ex, "downloading " + name);
    }
}

// Checks the whole partial file against `sha256` (when known) and moves it
// to `dest`, synced; a file that does not match is deleted.
Status finish(const fs::path & partial, const fs::path & dest, Partial & part, const std::string & sha256) {
    const std::string name = dest.filename().string();
    std::error_code   ec;
    const std::string got = part.hash->finish();
    if (!sha256.empty() && got != sha256) {
        fs::remove(partial, ec);
        return make_error(ErrorCode::io, name + " is corrupt: sha256 " + got + ", Hugging Face says " + sha256 +
                                             "; the download was deleted, pull again");
    }
    {
        std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(partial.c_str(), "rb+"), std::fclose);
        if (f) (void)fsync(fileno(f.get()));
    }
    fs::rename(partial, dest, ec);
    if (ec) return make_error(ErrorCode::io, "cannot move " + name + " into place: " + ec.message());
    return {};
}

}  // namespace

Status HfClient::download(const std::string & repo, const HfFile & file, const fs::path & dest,
                          const std::function<void(const DownloadProgress &)> & progress) {
    if (!is_safe_repo_path(file.path)) {
        return make_error(ErrorCode::invalid_request, "refusing the file name '" + file.path + "' from " + repo);
    }
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return make_error(ErrorCode::io, "cannot create the folder for " + dest.filename().string() + ": " + ec.message());
    const fs::path partial = dest.string() + ".partial";
    Partial        part    = open_partial(partial, file.size);
    if (file.size > part.size) KILN_CHECK(check_space(dest.parent_path(), file.size - part.size, dest.filename().string()));
    ProgressMeter meter(progress, file.size, part.size);
    KILN_CHECK(transfer(opts_, repo, opts_.endpoint + "/" + repo + "/resolve/main/" + url_escape_path(file.path), partial,
                        file.size, part, meter));
    KILN_CHECK(finish(partial, dest, part, file.sha256));
    meter.update(part.size, true);
    return {};
}

}  // namespace kiln::store
