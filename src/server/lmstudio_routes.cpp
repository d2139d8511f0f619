#include "server/lmstudio_routes.h"

#include <cpp-httplib/httplib.h>

#include "api/lmstudio.h"
#include "api/models_api.h"

namespace kiln::server {
namespace {

namespace lms = api::lmstudio;

// A chat of /api/v1/chat, whole or as its named SSE events.
class V1ChatRender : public KeptRender {
  public:
    V1ChatRender(std::string model, std::string id, ResponseStore::Keeper keep, std::vector<engine::ChatMessage> history)
        : KeptRender(std::move(keep), std::move(history)), model_(model), id_(std::move(id)), stream_(std::move(model)) {}
    std::string start() override { return stream_.start(); }

  protected:
    std::string delta(const backend::Delta & ev) override { return stream_.delta(ev); }
    std::string error(const Error & e) override { return stream_.error(e); }
    std::string end(const backend::Done & done, const std::string & text, std::string & answered) override {
        answered = object(text, done);
        return stream_.end(done, text, id_);
    }
    std::string object(const std::string & text, const backend::Done & done) override {
        return lms::v1_chat_result(model_, text, done, id_);
    }

  private:
    std::string       model_, id_;
    lms::V1ChatStream stream_;
};

}  // namespace

void register_lmstudio_routes(httplib::Server & http, router::Router & router, ModelLister list_models, ResponseStore & store) {
    http.Post("/api/v0/chat/completions", chat_completions_handler(router, true));
    http.Post("/api/v0/completions", completions_handler(router, true));
    http.Post("/api/v0/embeddings", embeddings_handler(router));
    http.Get("/api/v0/models", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(lms::models_v0(list_models()), "application/json");
    });
    http.Get(R"(/api/v0/models/(.+))", [list_models](const httplib::Request & req, httplib::Response & res) {
        const std::string id = req.matches[1];
        if (auto m = find_listed(list_models(), id)) return res.set_content(lms::model_v0(*m), "application/json");
        send_openai_error(res, make_error(ErrorCode::model_not_found, "model '" + id + "' not found", "model"));
    });
    http.Get("/api/v1/models", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(lms::models_v1(list_models()), "application/json");
    });
    http.Post("/api/v1/models/load", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = api::parse_load(req.body);
        if (!call) return send_openai_error(res, call.error());
        router::Ask ask;
        ask.keep_alive = call->keep_alive;
        ask.n_ctx      = call->n_ctx;
        auto loaded    = router.load(call->model, ask);
        if (!loaded) return send_openai_error(res, loaded.error());
        res.set_content(api::load_response(*loaded), "application/json");
    });
    http.Post("/api/v1/models/unload", [&router](const httplib::Request & req, httplib::Response & res) {
        auto id = api::parse_unload(req.body);
        if (!id) return send_openai_error(res, id.error());
        auto gone = router.unload(*id);
        if (!gone) return send_openai_error(res, gone.error());
        res.set_content(api::unload_response(*gone), "application/json");
    });
    http.Post("/api/v1/chat", [&router, &store](const httplib::Request & req, httplib::Response & res) {
        auto call = lms::parse_v1_chat(req.body);
        if (!call) return send_openai_error(res, call.error());
        auto history = store.continued(*call);
        if (!history) return send_openai_error(res, history.error());
        Job job;
        job.model  = call->request.model;
        job.n_ctx  = call->n_ctx;
        job.stream = call->stream;
        job.request = std::move(call->request);
        job.render  = [&store, history = std::move(*history), stored = call->store](const Answering & a) {
            const std::string id = stored ? api::responses::new_response_id() : std::string();
            return std::make_unique<V1ChatRender>(a.model.id, id, store.keeper(id, a.model.id), history);
        };
        run(req, res, router, std::move(job));
    });
}

}  // namespace kiln::server
