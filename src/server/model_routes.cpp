#include "server/model_routes.h"

#include <cpp-httplib/httplib.h>

#include "api/models_api.h"
#include "api/observability.h"
#include "server/openai_routes.h"

namespace kiln::server {

void register_model_routes(httplib::Server & http, router::Router & router, const ConnectionStats & connections) {
    http.Get("/api/ps", [&router](const httplib::Request &, httplib::Response & res) {
        std::map<std::string, int> busy;
        router.with_ready([&](const std::vector<router::Router::Ready> & ready) {
            for (const auto & r : ready) {
                for (const auto & slot : r.backend->snapshot().slots) busy[r.model.id] += slot.state == "prefill" || slot.state == "decode";
            }
        });
        res.set_content(api::ps_response(router.loaded(), busy), "application/json");
    });
    // One model's slots: ?model=NAME, else the only (or first) loaded model.
    http.Get("/slots", [&router](const httplib::Request & req, httplib::Response & res) {
        const std::string wanted = req.get_param_value("model");
        bool              found  = false;
        router.with_ready([&](const std::vector<router::Router::Ready> & ready) {
            for (const auto & r : ready) {
                if (!wanted.empty() && r.model.id != wanted) continue;
                res.set_content(api::slots_json(r.model.id, r.backend->snapshot()), "application/json");
                found = true;
                return;
            }
        });
        if (!found) {
            send_openai_error(res, make_error(ErrorCode::not_found,
                                              wanted.empty() ? "no model is loaded" : "model '" + wanted + "' is not loaded",
                                              "model"));
        }
    });
    http.Get("/metrics", [&router, &connections](const httplib::Request &, httplib::Response & res) {
        std::string text;
        router.with_ready([&](const std::vector<router::Router::Ready> & ready) {
            std::vector<api::ModelMetrics> models;
            for (const auto & r : ready) {
                if (const auto * m = r.backend->metrics()) models.push_back({r.model.id, m, r.backend->snapshot()});
            }
            text = api::metrics_text(models);
        });
        text += api::connection_metrics_text({connections.open.load(), connections.accepted.load(),
                                              connections.refused.load(), connections.timed_out.load()});
        text += api::process_metrics_text(process_stats());
        res.set_content(text, "text/plain; version=0.0.4");
    });
}

}  // namespace kiln::server
