#include "server/anthropic_routes.h"

#include <cpp-httplib/httplib.h>

#include "api/anthropic.h"
#include "api/errors.h"
#include "server/channel_io.h"
#include "server/reply.h"

namespace kiln::server {
namespace {

namespace anthropic = api::anthropic;

void send_error(httplib::Response & res, const Error & e) { server::send_error(res, api::Family::anthropic, e); }

}  // namespace

void register_anthropic_routes(httplib::Server & http, router::Router & router) {
    http.Post("/v1/messages", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = anthropic::parse_messages(req.body);
        if (!call) return send_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req);
        if (!lease) return send_error(res, lease.error());
        auto submitted = submit_chat(*lease, call->request);
        if (!submitted) return send_error(res, submitted.error());
        const auto & channel = submitted->channel;
        const anthropic::Meta meta{anthropic::new_message_id(), (*lease)->info().id};
        if (call->stream) {
            auto render = [blocks = std::make_shared<anthropic::Stream>()](const backend::Event & ev) -> std::string {
                switch (ev.kind) {
                    case backend::Event::Kind::delta: return blocks->delta(ev);
                    case backend::Event::Kind::error: return anthropic::stream_error(ev.error);
                    case backend::Event::Kind::done:  return blocks->end(ev);
                }
                return {};
            };
            const std::string start = anthropic::stream_start(meta, channel->prompt_tokens);
            return stream_events(req, res, channel, "text/event-stream", start, render, submitted->keep);
        }
        std::string    text;
        backend::Event last;
        if (!collect(*channel, req, text, last)) return;
        if (last.kind == backend::Event::Kind::error) return send_error(res, last.error);
        res.set_content(anthropic::message_response(meta, text, last), "application/json");
    });
    http.Post("/v1/messages/count_tokens", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = anthropic::parse_messages(req.body, true);
        if (!call) return send_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req);
        if (!lease) return send_error(res, lease.error());
        auto n = (*lease)->backend().count_tokens(call->request);
        if (!n) return send_error(res, n.error());
        res.set_content(anthropic::count_tokens_response(*n), "application/json");
    });
}

}  // namespace kiln::server
