// Hugging Face over libcurl: repository listings, search, and verified,
// resumable file downloads. Every call blocks the calling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/model_ref.h"

namespace kiln::store {

struct HfOptions {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
    std::string token;                                // HF_TOKEN; sent only to the endpoint's host
    int         max_retries = 5;                      // per request, on network errors, 5xx and 429
    std::chrono::milliseconds backoff{500};           // doubled after each retry, capped at 30 s
    std::chrono::seconds      connect_timeout{20};
    std::chrono::seconds      stall_timeout{60};      // no bytes for this long: a network error
    const std::atomic<bool> * cancel = nullptr;       // set (e.g. by SIGINT) to stop at once
    // HF_ENDPOINT and HF_TOKEN from the environment over the defaults.
    static HfOptions from_env();
};

// A file of a repository as the tree API lists it.
struct HfFile {
    std::string path;
    uint64_t    size = 0;
    std::string sha256;  // the LFS oid; empty for small non-LFS files
};

struct HfModel {
    std::string id;          // "org/repo"
    uint64_t    downloads = 0;
    uint64_t    likes = 0;
    std::string pipeline_tag;
    std::string updated;     // lastModified, ISO 8601
};

// The Hugging Face API's answers, read: a page of /api/models/{repo}/tree
// (files only; lfs.oid is the sha256) and of /api/models (search). Errors
// (io) for anything not a JSON list; entries of the wrong shape are skipped.
Result<std::vector<HfFile>>  parse_file_list(std::string_view body);
Result<std::vector<HfModel>> parse_search(std::string_view body);

struct DownloadProgress {
    uint64_t done  = 0;  // bytes of the file on disk (including a resumed part)
    uint64_t total = 0;
    double   bytes_per_second = 0;
    bool     resumed = false;  // started from an earlier partial file
};

class HfClient {
  public:
    explicit HfClient(HfOptions options);

    // Files of `repo` at `main` (recursive), with sizes and LFS sha256s.
    // Errors: model_not_found (no such repo, or private without a token),
    // unavailable (gated: the message says how to get access), io.
    Result<std::vector<HfFile>> list_files(const std::string & repo);
    // GGUF repositories matching `query`. sort: downloads | likes | updated.
    Result<std::vector<HfModel>> search(const std::string & query, const std::string & author, int limit,
                                        const std::string & sort);

    // Downloads `repo`/`file.path` to `dest`, through `dest`.partial: resumes
    // a partial file with an HTTP Range (restarting when the server answers
    // 200), retries, checks free disk space first, and renames into place only
    // when size and sha256 (if known) match. On a mismatch the partial file is
    // deleted. On cancel or a failure after retries it is kept for the next
    // attempt. progress is called at most ~10 times a second.
    Status download(const std::string & repo, const HfFile & file, const std::filesystem::path & dest,
                    const std::function<void(const DownloadProgress &)> & progress);

    const HfOptions & options() const { return opts_; }

  private:
    struct Response;
    // GET `url` (following redirects, retrying). `repo` names the repository
    // in error messages (empty: a search); `missing` is the error for a 404
    // (empty: "not found").
    Result<Response> get_json(const std::string & repo, std::string url, const std::string & missing = "");

    HfOptions opts_;
};

}  // namespace kiln::store
