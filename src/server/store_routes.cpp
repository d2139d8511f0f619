#include "server/store_routes.h"

#include <atomic>
#include <memory>

#include <cpp-httplib/httplib.h>

#include "api/ollama_pull.h"
#include "store/catalog.h"
#include "store/puller.h"

namespace kiln::server {

void register_store_routes(httplib::Server & http, const StoreOptions & options) {
    http.Post("/api/pull", [options](const httplib::Request & req, httplib::Response & res) {
        auto call = api::ollama::parse_pull(req.body);
        auto fail = [&](const Error & e) {
            auto b     = api::ollama::error_body(e);
            res.status = b.status;
            res.set_content(b.body, "application/json");
        };
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
