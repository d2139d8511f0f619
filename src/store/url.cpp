#include "store/url.h"

#include <memory>

#include <curl/curl.h>

#include "core/utf8.h"

namespace kiln::store {
namespace {

struct UrlDeleter {
    void operator()(CURLU * u) const { curl_url_cleanup(u); }
};
struct CurlFree {
    void operator()(char * p) const { curl_free(p); }
};

// One part, "" when the URL has none.
std::string part(CURLU * u, CURLUPart which, unsigned flags = 0) {
    char * raw = nullptr;
    if (curl_url_get(u, which, &raw, flags) != CURLUE_OK) return {};
    std::unique_ptr<char, CurlFree> p(raw);
    return p.get();
}

}  // namespace

std::string url_escape(std::string_view s) {
    if (s.empty()) return {};  // (a length of 0 tells libcurl to take strlen)
    // The handle argument is unused since libcurl 7.82.
    std::unique_ptr<char, CurlFree> p(curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size())));
    return p ? std::string(p.get()) : std::string();
}

std::string url_escape_path(std::string_view path) {
    std::string out;
    for (size_t start = 0;;) {
        const size_t end = path.find('/', start);
        out += url_escape(path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        out += '/';
        start = end + 1;
    }
}

Result<UrlParts> parse_url(std::string_view url) {
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    const std::string                  text(url);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
        return make_error(ErrorCode::invalid_request, "not an absolute URL: " + text);
    }
    UrlParts p;
    p.scheme   = utf8::ascii_lower(part(u.get(), CURLUPART_SCHEME));
    p.host     = utf8::ascii_lower(part(u.get(), CURLUPART_HOST));
    p.port     = part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    p.path     = part(u.get(), CURLUPART_PATH);
    p.query    = part(u.get(), CURLUPART_QUERY);
    p.fragment = part(u.get(), CURLUPART_FRAGMENT);
    p.user     = part(u.get(), CURLUPART_USER);
    if (p.host.empty()) return make_error(ErrorCode::invalid_request, "a URL without a host: " + text);
    return p;
}

std::string url_authority(std::string_view url) {
    auto p = parse_url(url);
    if (!p) return {};
    return p->port.empty() ? p->host : p->host + ":" + p->port;
}

}  // namespace kiln::store
