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
#include "server/pipeline.h"
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

// The text an answer to `r` starts with: its prompt, when the call echoes.
std::string echo_of(const oai::ChatCall &, const backend::ChatRequest &, backend::Backend &) { return {}; }
std::string echo_of(const oai::CompletionCall & call, const backend::CompletionRequest & r, backend::Backend & b) {
    if (!call.echo) return {};
    if (r.tokens.empty()) return r.prompt;
    auto text = b.detokenize(r.tokens);
    return text ? *text : std::string();
}

std::vector<Choice<backend::ChatRequest>> choices_of(const oai::ChatCall & call, backend::Backend &) {
    std::vector<Choice<backend::ChatRequest>> out;
    add_choices(out, call.request, call.n, {});
    return out;
}
std::vector<Choice<backend::CompletionRequest>> choices_of(const oai::CompletionCall & call, backend::Backend & b) {
    std::vector<Choice<backend::CompletionRequest>> out;
    add_choices(out, call.request, call.n, echo_of(call, call.request, b));
    for (const auto & more : call.more_prompts) add_choices(out, more, call.n, echo_of(call, more, b));
    return out;
}
// Generations a call asks for: n for each of its prompts.
size_t choice_count(const oai::ChatCall & call) { return static_cast<size_t>(std::max(1, call.n)); }
size_t choice_count(const oai::CompletionCall & call) {
    return static_cast<size_t>(std::max(1, call.n)) * (1 + call.more_prompts.size());
}

oai::ResponseMeta make_meta(const char * prefix, const backend::ModelInfo & model, bool logprobs) {
    oai::ResponseMeta m{oai::new_id(prefix), model.id, static_cast<int64_t>(std::time(nullptr))};
    m.logprobs = logprobs;
    return m;
}

// One choice of a chat or completion, streamed as SSE chunks or whole. An
// answer with an echo starts with it (its prompt). `lmstudio`: the model, for
// LM Studio's /api/v0 form, whose whole answers add stats.
class ChoiceRender : public Render {
  public:
    ChoiceRender(const ResponseKind & kind, oai::ResponseMeta meta, bool include_usage, std::string echo,
                 const backend::ModelInfo * lmstudio)
        : kind_(kind), meta_(std::move(meta)), include_usage_(include_usage), echo_(std::move(echo)), lmstudio_(lmstudio) {}
    std::string start() override {
        std::string out = kind_.start(meta_);
        if (!echo_.empty()) out += kind_.delta(meta_, backend::Event::delta(echo_));
        return out;
    }
    std::string event(const backend::Event & ev) override {
        switch (ev.kind) {
            case backend::Event::Kind::delta: return kind_.delta(meta_, ev);
            case backend::Event::Kind::error: return oai::sse_error(ev.error) + oai::sse_done();
            case backend::Event::Kind::done:
                return kind_.finish(meta_, ev.finish) +
                       (include_usage_ ? oai::sse_usage(meta_, kind_.object, ev.usage) : std::string()) + oai::sse_done();
        }
        return {};
    }
    std::string whole(const std::string & text, const backend::Event & done) override {
        std::string body = kind_.whole(meta_, echo_ + text, done);
        return lmstudio_ ? api::lmstudio::add_v0_stats(body, done, *lmstudio_) : body;
    }

  private:
    const ResponseKind &              kind_;
    oai::ResponseMeta                 meta_;
    bool                              include_usage_;
    std::string                       echo_;
    const backend::ModelInfo *        lmstudio_;  // its lease outlives the answer
};

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
        [group = std::make_shared<backend::ChannelGroup>(channels), echoes, meta, &kind, include_usage, usage_of,
         charge = token_charger(req)](size_t, httplib::DataSink & sink) mutable {
            auto write = [&](const std::string & s) { return s.empty() || sink.write(s.data(), s.size()); };
            const int count = static_cast<int>(echoes.size());
            for (int i = 0; i < count; ++i) {
                meta.index = i;
                if (!write(kind.start(meta))) return false;
                if (!echoes[static_cast<size_t>(i)].empty() && !write(kind.delta(meta, backend::Event::delta(echoes[static_cast<size_t>(i)])))) {
                    return false;
                }
            }
            std::vector<backend::Event> dones;
            for (int left = count; left > 0;) {
                auto got = group->pop(std::chrono::milliseconds(100));
                if (!got) {
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                auto & [i, ev] = *got;
                meta.index     = static_cast<int>(i);
                if (ev.kind == backend::Event::Kind::delta) {
                    if (!write(kind.delta(meta, ev))) return false;
                } else if (ev.kind == backend::Event::Kind::error) {
                    write(oai::sse_error(ev.error) + oai::sse_done());
                    sink.done();
                    return true;
                } else {
                    charge(ev.usage.prompt_tokens + ev.usage.completion_tokens);
                    if (!write(kind.finish(meta, ev.finish))) return false;
                    dones.push_back(std::move(ev));
                    --left;
                }
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


// Several choices: each submitted on its own, answered together.
template <typename Call>
void answer_choices(const httplib::Request & req, httplib::Response & res, router::Router & router, const Call & call,
                    const ResponseKind & kind) {
    auto lease = lease_model(router, call.request.model, req, call.keep_alive, call.n_ctx);
    if (!lease) return send_error(res, lease.error());
    if ((*lease)->backend().upstream()) return forward(req, res, *lease);
    answer_n(req, res, *lease, choices_of(call, (*lease)->backend()), call.n, kind, call.stream, call.include_usage,
             make_meta(kind.id_prefix, (*lease)->info(), call.logprobs));
}

// One generation endpoint: one choice goes through the pipeline; more (n > 1,
// or several prompts) are answered together.
template <typename Call>
Handler generation_route(router::Router & router, Result<Call> (*parse)(std::string_view),
                                          const ResponseKind & kind, bool lmstudio = false) {
    return [&router, parse, &kind, lmstudio](const httplib::Request & req, httplib::Response & res) {
        auto call = parse(req.body);
        if (!call) return send_error(res, call.error());
        if (choice_count(*call) > 1) return answer_choices(req, res, router, *call, kind);
        Job job;
        job.model        = call->request.model;
        job.keep_alive   = call->keep_alive;
        job.n_ctx        = call->n_ctx;
        job.stream       = call->stream;
        job.pass_through = true;
        job.request      = call->request;
        job.render = [&kind, lmstudio, call = std::make_shared<const Call>(std::move(*call))](const Answering & a) {
            return std::make_unique<ChoiceRender>(kind, make_meta(kind.id_prefix, a.model, call->logprobs), call->include_usage,
                                                  echo_of(*call, call->request, a.backend), lmstudio ? &a.model : nullptr);
        };
        run(req, res, router, std::move(job));
    };
}

}  // namespace

void send_openai_error(httplib::Response & res, const Error & e) { send_error(res, api::Family::openai, e); }

std::optional<backend::ModelInfo> find_listed(const std::vector<backend::ModelInfo> & models, std::string_view name) {
    for (const auto & m : models) {
        if (router::same_model_name(m.id, name)) return m;
    }
    return std::nullopt;
}

Handler chat_completions_handler(router::Router & router, bool lmstudio) {
    return generation_route(router, oai::parse_chat, kChat, lmstudio);
}
Handler completions_handler(router::Router & router, bool lmstudio) {
    return generation_route(router, oai::parse_completion, kCompletion, lmstudio);
}
Handler embeddings_handler(router::Router & router) {
    return [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = oai::parse_embeddings(req.body);
        if (!call) return send_error(res, call.error());
        Job job;
        job.model        = call->request.model;
        job.keep_alive   = call->keep_alive;
        job.pass_through = true;
        job.request      = call->request;
        job.render       = [base64 = call->base64](const Answering & a) {
            return whole_only([id = a.model.id, base64](const std::string &, const backend::Event & done) {
                return oai::embeddings_response(id, done.embeddings, base64, done.usage.prompt_tokens);
            });
        };
        run(req, res, router, std::move(job));
    };
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
    http.Post("/v1/chat/completions", chat_completions_handler(router, false));
    http.Post("/v1/completions", completions_handler(router, false));
    http.Post("/v1/embeddings", embeddings_handler(router));
    auto rerank = [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = api::rerank::parse(req.body);
        if (!call) return send_error(res, call.error());
        Job job;
        job.model        = call->request.model;
        job.pass_through = true;
        job.request      = call->request;
        job.render = [call = std::make_shared<const api::rerank::RerankCall>(std::move(*call))](const Answering & a) {
            return whole_only([call, id = a.model.id](const std::string &, const backend::Event & done) {
                std::vector<float> scores;
                for (const auto & e : done.embeddings) scores.push_back(e.empty() ? 0.0f : e[0]);
                return api::rerank::response(*call, id, scores, done.usage.prompt_tokens);
            });
        };
        run(req, res, router, std::move(job));
    };
    http.Post("/v1/rerank", rerank);
    http.Post("/rerank", rerank);
}

}  // namespace kiln::server
