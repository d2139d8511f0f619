// Routes that manage models on disk rather than run them: Ollama's POST
// /api/pull, LM Studio's POST /api/v1/models/download and its status.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"

#include "store/hf_client.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

struct StoreOptions {
    std::filesystem::path home;  // $KILN_HOME: kiln.db and models/
    store::HfOptions      hf;
};

// Downloads that outlive their request (LM Studio's): each job pulls on a
// thread of its own, with store::pull_model as kiln pull does; a request for
// a model already downloading gets that job. Thread-safe; the destructor
// cancels what still runs (a later pull resumes it) and joins.
class DownloadJobs {
  public:
    struct Job {
        std::string id;      // job_...
        std::string model;   // as asked
        std::string status;  // downloading | completed | failed | already_downloaded
        uint64_t    downloaded = 0;
        uint64_t    total      = 0;
        double      bytes_per_second = 0;
        int64_t     started_ms   = 0;  // unix ms
        int64_t     completed_ms = 0;
        std::optional<Error> error;
    };
    explicit DownloadJobs(StoreOptions options) : options_(std::move(options)) {}
    ~DownloadJobs();
    // Starts (or finds) the job for `reference` and waits a little for how
    // it begins, so a model that is there already, or not on Hugging Face,
    // is answered at once.
    Job                start(const std::string & reference);
    std::optional<Job> get(const std::string & id) const;
    std::vector<Job>   all() const;

  private:
    struct Running {
        Job                                job;
        std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
        uint64_t                           done_files = 0;  // bytes of files finished
        bool                               fetched    = false;  // a file was downloaded, not found up to date
    };
    void run(const std::string & id, const std::string & reference);

    StoreOptions                                     options_;
    mutable std::mutex                               mutex_;
    std::condition_variable                          changed_;
    std::map<std::string, std::shared_ptr<Running>> jobs_;
    std::vector<std::thread>                         threads_;
};

// Each request opens its own catalog (SQLite serializes writers) and runs
// on its handler thread; a client that goes away stops its /api/pull
// download, which resumes on the next pull.
void register_store_routes(httplib::Server & http, const StoreOptions & options, DownloadJobs & jobs);

}  // namespace kiln::server
