#include "server/ollama_routes.h"

#include <chrono>

#include <cpp-httplib/httplib.h>
#include <nlohmann/json.hpp>

#include "api/models_api.h"
#include "api/ollama_chat.h"
#include "api/ollama_pull.h"
#include "server/channel_io.h"

namespace kiln::server {
namespace {

using Clock = std::chrono::steady_clock;
namespace ollama = api::ollama;

// The Ollama API level kiln answers for (clients compare it against minimums).
constexpr const char * kOllamaVersion = "0.12.0";

void send_error(httplib::Response & res, const Error & e) {
    auto b     = ollama::error_body(e);
    res.status = b.status;
    if (b.status == 503) res.set_header("Retry-After", "1");
    res.set_content(b.body, "application/json");
}

// Ollama's load (empty prompt) and unload (empty prompt, keep_alive 0).
void load_or_unload(httplib::Response & res, router::Router & router, const ollama::GenerateCall & call) {
    const bool unload = call.keep_alive && !call.keep_alive->is_forever() && call.keep_alive->duration.count() == 0;
    std::string id    = call.model;
    if (unload) {
        auto gone = router.unload(call.model);
        if (!gone && gone.error().code != ErrorCode::not_found) return send_error(res, gone.error());
        if (gone) id = gone->id;
    } else {
        router::Ask ask;
        ask.keep_alive = call.keep_alive;
        ask.n_ctx      = call.n_ctx;
        auto loaded    = router.load(call.model, ask);
        if (!loaded) return send_error(res, loaded.error());
        id = loaded->id;
    }
    res.set_content(ollama::load_object(call, id, unload), call.stream ? "application/x-ndjson" : "application/json");
}

httplib::Server::Handler generation_route(router::Router & router, Result<ollama::GenerateCall> (*parse)(std::string_view)) {
    return [&router, parse](const httplib::Request & req, httplib::Response & res) {
        const auto t0   = Clock::now();
        auto       call = parse(req.body);
        if (!call) return send_error(res, call.error());
        if (call->load_only) return load_or_unload(res, router, *call);
        router::Ask ask;
        ask.keep_alive = call->keep_alive;
        ask.n_ctx      = call->n_ctx;
        ask.gone       = [&req] { return req.is_connection_closed(); };
        auto lease     = router.acquire(call->model, ask);
        if (!lease) return send_error(res, lease.error());
        ollama::Durations d;
        d.load       = Clock::now() - t0;
        auto channel = call->raw && !call->chat ? (*lease)->backend().submit(call->completion)
                                                : (*lease)->backend().submit(call->messages);
        if (!channel) return send_error(res, channel.error());
        const std::string id = (*lease)->info().id;
        if (call->stream) {
            auto render = [call = *call, id, t0, d](const backend::Event & ev) mutable -> std::string {
                switch (ev.kind) {
                    case backend::Event::Kind::delta: return ollama::delta_line(call, id, ev.text);
                    case backend::Event::Kind::error: return ollama::error_line(ev.error);
                    case backend::Event::Kind::done:
                        d.total = Clock::now() - t0;
                        return ollama::final_object(call, id, "", ev, d);
                }
                return {};
            };
            return stream_events(res, *channel, "application/x-ndjson", "", render, *lease);
        }
        std::string    text;
        backend::Event last;
        if (!collect(**channel, req, text, last)) return;
        if (last.kind == backend::Event::Kind::error) return send_error(res, last.error);
        d.total = Clock::now() - t0;
        res.set_content(ollama::final_object(*call, id, text, last, d), "application/json");
    };
}

}  // namespace

void register_ollama_routes(httplib::Server & http, router::Router & router, ModelLister list_models) {
    http.Get("/", [](const httplib::Request &, httplib::Response & res) { res.set_content("Ollama is running", "text/plain"); });
    http.Get("/api/version", [](const httplib::Request &, httplib::Response & res) {
        res.set_content(nlohmann::json{{"version", kOllamaVersion}}.dump(), "application/json");
    });
    http.Get("/api/tags", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(api::tags_response(list_models()), "application/json");
    });
    http.Post("/api/generate", generation_route(router, ollama::parse_generate));
    http.Post("/api/chat", generation_route(router, ollama::parse_chat));
}

}  // namespace kiln::server
