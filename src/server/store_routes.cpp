#include "server/store_routes.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <random>

#include <cpp-httplib/httplib.h>

#include "api/errors.h"
#include "api/lmstudio.h"
#include "api/ollama_pull.h"
#include "server/reply.h"
#include "store/catalog.h"
#include "store/puller.h"

namespace kiln::server {

namespace {

api::lmstudio::DownloadView to_view(const DownloadJobs::Job & j) {
    return {j.id, j.status, j.downloaded, j.total, j.bytes_per_second, j.started_ms, j.completed_ms,
            j.error ? j.error->message : std::string()};
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

DownloadJobs::~DownloadJobs() {
    {
        std::lock_guard lock(mutex_);
        for (auto & [id, r] : jobs_) r->cancel->store(true);
    }
    for (auto & t : threads_) {
        if (t.joinable()) t.join();
    }
}

void DownloadJobs::run(const std::string & id, const std::string & reference) {
    std::shared_ptr<Running> r;
    {
        std::lock_guard lock(mutex_);
        r = jobs_.at(id);
    }
    auto catalog = store::Catalog::open(options_.home);
    Result<std::string> name = catalog ? Result<std::string>(std::string()) : Result<std::string>(catalog.error());
    if (catalog) {
        auto hf_opts   = options_.hf;
        hf_opts.cancel = r->cancel.get();
        store::HfClient hf(hf_opts);
        name = store::pull_model(**catalog, hf, reference, [&](const store::PullEvent & e) {
            std::lock_guard lock(mutex_);
            Job & j = r->job;
            switch (e.kind) {
                case store::PullEvent::Kind::file_start:
                    r->fetched = true;
                    j.total += e.total;
                    j.status = "downloading";
                    break;
                case store::PullEvent::Kind::file_progress:
                    j.downloaded       = r->done_files + e.completed;
                    j.bytes_per_second = e.bytes_per_second;
                    break;
                case store::PullEvent::Kind::file_done:
                    r->done_files += e.total;
                    j.downloaded = r->done_files;
                    break;
                case store::PullEvent::Kind::up_to_date:
                    j.total += e.total;
                    r->done_files += e.total;
                    j.downloaded = r->done_files;
                    break;
                default: break;
            }
            changed_.notify_all();
        });
    }
    std::lock_guard lock(mutex_);
    Job & j = r->job;
    if (!name) {
        j.status = "failed";
        j.error  = name.error();
    } else {
        j.status       = r->fetched ? "completed" : "already_downloaded";
        j.completed_ms = now_ms();
        j.downloaded   = j.total;
    }
    changed_.notify_all();
}

DownloadJobs::Job DownloadJobs::start(const std::string & reference) {
    std::unique_lock lock(mutex_);
    for (const auto & [id, r] : jobs_) {
        if (r->job.model == reference && r->job.status == "downloading") return r->job;
    }
    auto r = std::make_shared<Running>();
    static const char kHex[] = "0123456789abcdef";
    std::string id = "job_";
    std::random_device rd;
    for (int i = 0; i < 10; ++i) id += kHex[rd() % 16];
    r->job.id         = id;
    r->job.model      = reference;
    r->job.status     = "downloading";
    r->job.started_ms = now_ms();
    jobs_[id]         = r;
    threads_.emplace_back([this, id, reference] { run(id, reference); });
    // How it begins: a file to fetch, nothing to fetch, or an error.
    changed_.wait_for(lock, std::chrono::seconds(2), [&] { return r->fetched || r->job.status != "downloading"; });
    return r->job;
}

std::optional<DownloadJobs::Job> DownloadJobs::get(const std::string & id) const {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second->job;
}

std::vector<DownloadJobs::Job> DownloadJobs::all() const {
    std::lock_guard lock(mutex_);
    std::vector<Job> out;
    for (const auto & [id, r] : jobs_) out.push_back(r->job);
    return out;
}

void register_store_routes(httplib::Server & http, const StoreOptions & options, DownloadJobs & jobs) {
    auto lms_error = [](httplib::Response & res, const Error & e) { send_error(res, api::Family::openai, e); };
    http.Post("/api/v1/models/download", [&jobs, lms_error](const httplib::Request & req, httplib::Response & res) {
        auto reference = api::lmstudio::parse_download(req.body);
        if (!reference) return lms_error(res, reference.error());
        const auto job = jobs.start(*reference);
        if (job.error) return lms_error(res, *job.error);
        res.set_content(api::lmstudio::download_json(to_view(job)), "application/json");
    });
    http.Get("/api/v1/models/download/status", [&jobs](const httplib::Request &, httplib::Response & res) {
        std::vector<api::lmstudio::DownloadView> views;
        for (const auto & j : jobs.all()) views.push_back(to_view(j));
        res.set_content(api::lmstudio::download_status_json(views), "application/json");
    });
    http.Get(R"(/api/v1/models/download/status/([^/]+))", [&jobs, lms_error](const httplib::Request & req, httplib::Response & res) {
        auto job = jobs.get(req.matches[1]);
        if (!job) return lms_error(res, make_error(ErrorCode::not_found, "no download job '" + std::string(req.matches[1]).substr(0, 40) + "'", "job_id"));
        res.set_content(api::lmstudio::download_json(to_view(*job)), "application/json");
    });
    http.Post("/api/pull", [options](const httplib::Request & req, httplib::Response & res) {
        auto call = api::ollama::parse_pull(req.body);
        auto fail = [&](const Error & e) { send_error(res, api::Family::ollama, e); };
        if (!call) return fail(call.error());
        auto cancel = std::make_shared<std::atomic<bool>>(false);
        auto run    = [options, cancel, model = call->model](const std::function<void(const store::PullEvent &)> & on) {
            auto catalog = store::Catalog::open(options.home);
            if (!catalog) return Result<std::string>(catalog.error());
            auto hf_opts   = options.hf;
            hf_opts.cancel = cancel.get();
            store::HfClient hf(hf_opts);
            return store::pull_model(**catalog, hf, model, on);
        };
        if (!call->stream) {
            auto name = run({});
            if (!name) return fail(name.error());
            res.set_content(R"({"status":"success"})", "application/json");
            return;
        }
        res.set_chunked_content_provider("application/x-ndjson", [run, cancel](size_t, httplib::DataSink & sink) {
            auto write = [&](const std::string & line) {
                if (line.empty() || cancel->load()) return;
                if (!sink.write(line.data(), line.size())) cancel->store(true);  // the client went away
            };
            auto name = run([&](const store::PullEvent & e) { write(api::ollama::pull_event_line(e)); });
            if (!name && !cancel->load()) write(api::ollama::error_line(name.error()));
            sink.done();
            return true;
        });
    });
}

}  // namespace kiln::server
