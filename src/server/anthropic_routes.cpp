#include "server/anthropic_routes.h"

#include <cpp-httplib/httplib.h>

#include "api/anthropic.h"
#include "api/errors.h"
#include "server/channel_io.h"
#include "server/pipeline.h"
#include "server/reply.h"

namespace kiln::server {
namespace {

namespace anthropic = api::anthropic;

void send_error(httplib::Response & res, const Error & e) { server::send_error(res, api::Family::anthropic, e); }

// A message, whole or as its stream of content blocks.
class MessageRender : public Render {
  public:
    explicit MessageRender(const Answering & a)
        : meta_{anthropic::new_message_id(), a.model.id}, prompt_tokens_(a.prompt_tokens) {}
    std::string start() override { return anthropic::stream_start(meta_, prompt_tokens_); }
    std::string event(const backend::Event & ev) override {
        if (const auto * d = ev.as_delta()) return blocks_.delta(*d);
        if (const auto * f = ev.as_failure()) return anthropic::stream_error(f->error);
        return blocks_.end(*ev.as_done());
    }
    std::string whole(const std::string & text, const backend::Done & done) override {
        return anthropic::message_response(meta_, text, done);
    }

  private:
    anthropic::Meta   meta_;
    int32_t           prompt_tokens_;
    anthropic::Stream blocks_;
};

}  // namespace

void register_anthropic_routes(httplib::Server & http, router::Router & router) {
    http.Post("/v1/messages", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = anthropic::parse_messages(req.body);
        if (!call) return send_error(res, call.error());
        Job job;
        job.family = api::Family::anthropic;
        job.model  = call->request.model;
        job.stream = call->stream;
        job.request = std::move(call->request);
        job.render  = [](const Answering & a) { return std::make_unique<MessageRender>(a); };
        run(req, res, router, std::move(job));
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
