#include "server/openai_routes.h"

#include <chrono>
#include <ctime>

#include <cpp-httplib/httplib.h>

#include "api/lmstudio.h"
#include "api/openai.h"
#include "api/rerank.h"
#include "core/log.h"
#include "router/resolver.h"
#include "server/access.h"
#include "server/channel_io.h"
#include "server/proxy.h"
#include "server/reply.h"

namespace kiln::server {
namespace {

using namespace std::chrono_literals;
namespace oai = api::openai;

void send_error(httplib::Response & res, const Error & e) { send_openai_error(res, e); }


// How one kind of response (chat or completion) is rendered, streamed or whole.
struct ResponseKind {
    const char * id_prefix;
    const char * object;  // of the streamed usage chunk
    std::string (*start)(const oai::ResponseMeta &);
    std::string (*delta)(const oai::ResponseMeta &, const backend::Event &);
    std::string (*finish)(const oai::ResponseMeta &, backend::FinishReason);
    std::string (*whole)(const oai::ResponseMeta &, const std::string &, const backend::Event &);
};

std::string no_start(const oai::ResponseMeta &) { return {}; }
std::string completion_delta(const oai::ResponseMeta & m, const backend::Event & ev) {
    return oai::sse_completion_event(m, ev);
}
std::string chat_whole(const oai::ResponseMeta & m, const std::string & text, const backend::Event & done) {
    return oai::chat_response(m, text, done);
}
std::string completion_whole(const oai::ResponseMeta & m, const std::string & text, const backend::Event & done) {
    return oai::completion_response(m, text, done);
}

const ResponseKind kChat{"chatcmpl-", "chat.completion.chunk", oai::sse_chat_role, oai::sse_chat_event,
                         oai::sse_chat_finish, chat_whole};
const ResponseKind kCompletion{"cmpl-", "text_completion", no_start, completion_delta, oai::sse_completion_finish,
                               completion_whole};

// Writes the channel's events as SSE until the response ends or the client
// goes away, in which case the request is cancelled.
void stream_response(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::Channel> channel, oai::ResponseMeta meta,
                     const ResponseKind & format, bool include_usage, std::shared_ptr<router::Lease> lease,
                     const std::string & echo = {}) {
    auto render = [meta, &format, include_usage](const backend::Event & ev) -> std::string {
        switch (ev.kind) {
            case backend::Event::Kind::delta: return format.delta(meta, ev);
            case backend::Event::Kind::error: return oai::sse_error(ev.error) + oai::sse_done();
            case backend::Event::Kind::done:
                return format.finish(meta, ev.finish) +
                       (include_usage ? oai::sse_usage(meta, format.object, ev.usage) : std::string()) + oai::sse_done();
        }
        return {};
    };
    std::string start = format.start(meta);
    if (!echo.empty()) start += format.delta(meta, backend::Event::delta(echo));  // echo: the prompt comes first
    stream_events(req, res, std::move(channel), "text/event-stream", std::move(start), render, std::move(lease));
}

// Waits for the whole answer. Returns false (and writes the error) on failure.
bool collect(httplib::Response & res, backend::Channel & channel, const httplib::Request & req, std::string & text,
             backend::Event & done) {
    if (!server::collect(channel, req, text, done)) return false;
    if (done.kind == backend::Event::Kind::error) {
        send_error(res, done.error);
        return false;
    }
    return true;
}

// n > 1: n requests (a seed moves by one per choice, so seeded choices
// differ); the prefix cache computes the shared prompt once. Streamed, their
// chunks interleave by index; whole, the answers merge into one.
// One generation per choice, with the text an answer starts with (echo).
template <typename Request>
struct Choice {
    Request     request;
    std::string echo;
};
template <typename Request>
void answer_n(const httplib::Request & req, httplib::Response & res, const std::shared_ptr<router::Lease> & lease,
              std::vector<Choice<Request>> choices, int n, const ResponseKind & kind, bool stream, bool include_usage,
              oai::ResponseMeta meta);

// n choices for each prompt (a seed moves by one per choice, so seeded
// choices differ).
template <typename Request>
void add_choices(std::vector<Choice<Request>> & out, const Request & request, int n, std::string echo) {
    for (int i = 0; i < n; ++i) {
        Choice<Request> c{request, echo};
        if (c.request.params.sampling.seed) c.request.params.sampling.seed = *c.request.params.sampling.seed + static_cast<uint32_t>(i);
        out.push_back(std::move(c));
    }
}
std::vector<Choice<backend::ChatRequest>> choices_of(const oai::ChatCall & call, backend::Backend &) {
    std::vector<Choice<backend::ChatRequest>> out;
    add_choices(out, call.request, call.n, {});
    return out;
}
std::vector<Choice<backend::CompletionRequest>> choices_of(const oai::CompletionCall & call, backend::Backend & b) {
    std::vector<Choice<backend::CompletionRequest>> out;
    auto echo_of = [&](const backend::CompletionRequest & r) -> std::string {
        if (!call.echo) return {};
        if (r.tokens.empty()) return r.prompt;
        auto text = b.detokenize(r.tokens);
        return text ? *text : std::string();
    };
    add_choices(out, call.request, call.n, echo_of(call.request));
    for (const auto & more : call.more_prompts) add_choices(out, more, call.n, echo_of(more));
    return out;
}

oai::ResponseMeta make_meta(const char * prefix, const router::Lease & lease, bool logprobs) {
    oai::ResponseMeta m{oai::new_id(prefix), lease.info().id, static_cast<int64_t>(std::time(nullptr))};
    m.logprobs = logprobs;
    return m;
}

// One generation endpoint: parse, check the model, submit, then stream the
// events or answer once with the whole text.
// `lmstudio`: LM Studio's /api/v0 form, whose whole answers add stats.
template <typename Call>
httplib::Server::Handler generation_route(router::Router & router, Result<Call> (*parse)(std::string_view),
                                          const ResponseKind & kind, bool lmstudio = false) {
    return [&router, parse, &kind, lmstudio](const httplib::Request & req, httplib::Response & res) {
        auto call = parse(req.body);
        if (!call) return send_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req, call->keep_alive, call->n_ctx);
        if (!lease) return send_error(res, lease.error());
        if ((*lease)->backend().upstream()) return forward(req, res, *lease);
        auto choices = choices_of(*call, (*lease)->backend());
        if (choices.size() > 1) {
            return answer_n(req, res, *lease, std::move(choices), call->n, kind, call->stream, call->include_usage,
                            make_meta(kind.id_prefix, **lease, call->logprobs));
        }
        auto & one     = choices.front();
        auto   channel = (*lease)->backend().submit(std::move(one.request));
        if (!channel) return send_error(res, channel.error());
        auto meta = make_meta(kind.id_prefix, **lease, call->logprobs);
        if (call->stream) return stream_response(req, res, *channel, meta, kind, call->include_usage, *lease, one.echo);
        std::string    text = one.echo;
        backend::Event done;
        if (collect(res, **channel, req, text, done)) {
            std::string body = kind.whole(meta, text, done);
            if (lmstudio) body = api::lmstudio::add_v0_stats(body, done, (*lease)->info());
            res.set_content(body, "application/json");
        }
    };
}

template <typename Request>
void answer_n(const httplib::Request & req, httplib::Response & res, const std::shared_ptr<router::Lease> & lease,
              std::vector<Choice<Request>> choices, int n, const ResponseKind & kind, bool stream, bool include_usage,
              oai::ResponseMeta meta) {
    std::vector<std::shared_ptr<backend::Channel>> channels;
    std::vector<std::string>                       echoes;
    for (auto & c : choices) {
        auto channel = lease->backend().submit(std::move(c.request));
        if (!channel) {
            for (auto & ch : channels) ch->cancel();
            return send_error(res, channel.error());
        }
        channels.push_back(*channel);
        echoes.push_back(std::move(c.echo));
    }
    // Each prompt counted once (its n choices share it).
    auto usage_of = [n](const std::vector<backend::Event> & dones) {
        backend::Usage u;
        for (const auto & d : dones) {
            u.prompt_tokens += d.usage.prompt_tokens;
            u.completion_tokens += d.usage.completion_tokens;
            u.cached_tokens += d.usage.cached_tokens;
        }
        u.prompt_tokens /= std::max(1, n);
        u.cached_tokens /= std::max(1, n);
        return u;
    };
    if (!stream) {
        std::vector<std::string>    answers;
        std::vector<backend::Event> dones;
        for (size_t i = 0; i < channels.size(); ++i) {
            std::string    text = echoes[i];
            backend::Event done;
            if (!collect(res, *channels[i], req, text, done)) {
                for (auto & c : channels) c->cancel();
                return;
            }
            meta.index = static_cast<int>(i);
            answers.push_back(kind.whole(meta, text, done));
            dones.push_back(std::move(done));
        }
        return res.set_content(oai::merge_choices(answers, usage_of(dones)), "application/json");
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [channels, echoes, meta, &kind, include_usage, usage_of, charge = token_charger(req)](size_t, httplib::DataSink & sink) mutable {
            auto write = [&](const std::string & s) { return s.empty() || sink.write(s.data(), s.size()); };
            const int count = static_cast<int>(channels.size());
            for (int i = 0; i < count; ++i) {
                meta.index = i;
                if (!write(kind.start(meta))) return false;
                if (!echoes[static_cast<size_t>(i)].empty() && !write(kind.delta(meta, backend::Event::delta(echoes[static_cast<size_t>(i)])))) {
                    return false;
                }
            }
            std::vector<bool>           finished(static_cast<size_t>(count), false);
            std::vector<backend::Event> dones;
            for (int left = count; left > 0;) {
                for (int i = 0; i < count; ++i) {
                    if (finished[static_cast<size_t>(i)]) continue;
                    // A short wait on each in turn: tokens of all choices come from one run loop.
                    auto ev = channels[static_cast<size_t>(i)]->pop(std::chrono::milliseconds(left > 1 ? 2 : 100));
                    if (!ev) continue;
                    meta.index = i;
                    if (ev->kind == backend::Event::Kind::delta) {
                        if (!write(kind.delta(meta, *ev))) return false;
                    } else if (ev->kind == backend::Event::Kind::error) {
                        write(oai::sse_error(ev->error) + oai::sse_done());
                        sink.done();
                        return true;
                    } else {
                        charge(ev->usage.prompt_tokens + ev->usage.completion_tokens);
                        if (!write(kind.finish(meta, ev->finish))) return false;
                        finished[static_cast<size_t>(i)] = true;
                        dones.push_back(std::move(*ev));
                        --left;
                    }
                }
                if (!sink.is_writable()) return false;  // the client left
            }
            meta.index = 0;
            write((include_usage ? oai::sse_usage(meta, kind.object, usage_of(dones)) : std::string()) + oai::sse_done());
            sink.done();
            return true;
        },
        [channels, lease](bool) {
            for (auto & c : channels) c->cancel();
        });
}

}  // namespace

void send_openai_error(httplib::Response & res, const Error & e) { send_error(res, api::Family::openai, e); }

std::optional<backend::ModelInfo> find_listed(const std::vector<backend::ModelInfo> & models, std::string_view name) {
    for (const auto & m : models) {
        if (router::same_model_name(m.id, name)) return m;
    }
    return std::nullopt;
}

void register_openai_routes(httplib::Server & http, router::Router & router, ModelLister list_models) {
    http.Get("/v1/models", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(oai::models_response(list_models()), "application/json");
    });
    http.Get(R"(/v1/models/(.+))", [list_models](const httplib::Request & req, httplib::Response & res) {
        const std::string id = req.matches[1];
        if (auto m = find_listed(list_models(), id)) return res.set_content(oai::model_object(*m), "application/json");
        send_error(res, make_error(ErrorCode::model_not_found, "model '" + id + "' not found", "model"));
    });
    http.Post("/v1/chat/completions", generation_route(router, oai::parse_chat, kChat));
    http.Post("/v1/completions", generation_route(router, oai::parse_completion, kCompletion));
    http.Post("/api/v0/chat/completions", generation_route(router, oai::parse_chat, kChat, true));
    http.Post("/api/v0/completions", generation_route(router, oai::parse_completion, kCompletion, true));
    http.Get("/api/v0/models", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(api::lmstudio::models_v0(list_models()), "application/json");
    });
    http.Get(R"(/api/v0/models/(.+))", [list_models](const httplib::Request & req, httplib::Response & res) {
        const std::string id = req.matches[1];
        if (auto m = find_listed(list_models(), id)) return res.set_content(api::lmstudio::model_v0(*m), "application/json");
        send_error(res, make_error(ErrorCode::model_not_found, "model '" + id + "' not found", "model"));
    });
    http.Get("/api/v1/models", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(api::lmstudio::models_v1(list_models()), "application/json");
    });
    auto embeddings = [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = oai::parse_embeddings(req.body);
        if (!call) return send_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req, call->keep_alive);
        if (!lease) return send_error(res, lease.error());
        if ((*lease)->backend().upstream()) return forward(req, res, *lease);
        auto channel = (*lease)->backend().submit(std::move(call->request));
        if (!channel) return send_error(res, channel.error());
        std::string    unused;
        backend::Event done;
        if (collect(res, **channel, req, unused, done)) {
            res.set_content(oai::embeddings_response((*lease)->info().id, done.embeddings, call->base64,
                                                     done.usage.prompt_tokens),
                            "application/json");
        }
    };
    http.Post("/v1/embeddings", embeddings);
    http.Post("/api/v0/embeddings", embeddings);
    auto rerank = [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = api::rerank::parse(req.body);
        if (!call) return send_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req);
        if (!lease) return send_error(res, lease.error());
        if ((*lease)->backend().upstream()) return forward(req, res, *lease);
        auto channel = (*lease)->backend().submit(call->request);
        if (!channel) return send_error(res, channel.error());
        std::string    unused;
        backend::Event done;
        if (collect(res, **channel, req, unused, done)) {
            std::vector<float> scores;
            for (const auto & e : done.embeddings) scores.push_back(e.empty() ? 0.0f : e[0]);
            res.set_content(api::rerank::response(*call, (*lease)->info().id, scores, done.usage.prompt_tokens),
                            "application/json");
        }
    };
    http.Post("/v1/rerank", rerank);
    http.Post("/rerank", rerank);
}

}  // namespace kiln::server
