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
#include "server/reply.h"

namespace kiln::server {
namespace {

using namespace std::chrono_literals;
namespace oai = api::openai;

void send_error(httplib::Response & res, const Error & e) { send_openai_error(res, e); }


// How one kind of response (chat or completion) is rendered, streamed or whole.
struct ResponseKind {
    const char * openai_path;  // where a runner that is an OpenAI server takes it
    const char * id_prefix;
    const char * object;  // of the streamed usage chunk
    std::string (*start)(const oai::ResponseMeta &);
    std::string (*delta)(const oai::ResponseMeta &, const backend::Delta &);
    std::string (*finish)(const oai::ResponseMeta &, backend::FinishReason);
    std::string (*whole)(const oai::ResponseMeta &, const std::string &, const backend::Done &);
};

std::string no_start(const oai::ResponseMeta &) { return {}; }
std::string completion_delta(const oai::ResponseMeta & m, const backend::Delta & ev) {
    return oai::sse_completion_event(m, ev);
}
std::string chat_whole(const oai::ResponseMeta & m, const std::string & text, const backend::Done & done) {
    return oai::chat_response(m, text, done);
}
std::string completion_whole(const oai::ResponseMeta & m, const std::string & text, const backend::Done & done) {
    return oai::completion_response(m, text, done);
}

const ResponseKind kChat{"/v1/chat/completions", "chatcmpl-", "chat.completion.chunk", oai::sse_chat_role, oai::sse_chat_event,
                         oai::sse_chat_finish, chat_whole};
const ResponseKind kCompletion{"/v1/completions", "cmpl-", "text_completion", no_start, completion_delta, oai::sse_completion_finish,
                               completion_whole};

// n > 1 and several prompts: one generation per choice, n for each prompt
// (a seed moves by one per choice, so seeded choices differ); the prefix
// cache computes a shared prompt once.
template <typename Request>
void add_choices(std::vector<Request> & out, const Request & request, int n) {
    for (int i = 0; i < std::max(1, n); ++i) {
        Request r = request;
        if (r.params.sampling.seed) r.params.sampling.seed = *r.params.sampling.seed + static_cast<uint32_t>(i);
        out.push_back(std::move(r));
    }
}
std::vector<backend::ChatRequest> choices_of(const oai::ChatCall & call) {
    std::vector<backend::ChatRequest> out;
    add_choices(out, call.request, call.n);
    return out;
}
std::vector<backend::CompletionRequest> choices_of(const oai::CompletionCall & call) {
    std::vector<backend::CompletionRequest> out;
    add_choices(out, call.request, call.n);
    for (const auto & more : call.more_prompts) add_choices(out, more, call.n);
    return out;
}

// The text the answer of `choice` starts with: its prompt, when the call echoes.
std::string echo_of(const oai::ChatCall &, size_t, backend::Backend &) { return {}; }
std::string echo_of(const oai::CompletionCall & call, size_t choice, backend::Backend & b) {
    if (!call.echo) return {};
    const size_t                         prompt = choice / static_cast<size_t>(std::max(1, call.n));
    const backend::CompletionRequest &   r      = prompt == 0 ? call.request : call.more_prompts[prompt - 1];
    if (r.tokens.empty()) return r.prompt;
    auto text = b.detokenize(r.tokens);
    return text ? *text : std::string();
}

oai::ResponseMeta make_meta(const char * prefix, const backend::ModelInfo & model, bool logprobs) {
    oai::ResponseMeta m{oai::new_id(prefix), model.id, static_cast<int64_t>(std::time(nullptr))};
    m.logprobs = logprobs;
    return m;
}

// One choice of a chat or completion, streamed as SSE chunks or whole. An
// answer with an echo starts with it (its prompt). `lmstudio`: the model, for
// LM Studio's /api/v0 form, whose whole answers add stats. One of several
// choices (`joined`) ends with its finish chunk: the job's Joined writes the
// usage and [DONE] once all are done.
class ChoiceRender : public Render {
  public:
    ChoiceRender(const ResponseKind & kind, oai::ResponseMeta meta, bool include_usage, std::string echo,
                 const backend::ModelInfo * lmstudio, bool joined)
        : kind_(kind), meta_(std::move(meta)), include_usage_(include_usage), echo_(std::move(echo)), lmstudio_(lmstudio),
          joined_(joined) {}
    std::string start() override {
        std::string out = kind_.start(meta_);
        if (!echo_.empty()) out += kind_.delta(meta_, backend::Delta::of_text(echo_));
        return out;
    }
    std::string event(const backend::Event & ev) override {
        if (const auto * d = ev.as_delta()) return kind_.delta(meta_, *d);
        if (const auto * f = ev.as_failure()) return oai::sse_error(f->error) + oai::sse_done();
        const auto & done = *ev.as_done();
        if (joined_) return kind_.finish(meta_, done.finish);
        return kind_.finish(meta_, done.finish) +
               (include_usage_ ? oai::sse_usage(meta_, kind_.object, done.usage) : std::string()) + oai::sse_done();
    }
    std::string whole(const std::string & text, const backend::Done & done) override {
        std::string body = kind_.whole(meta_, echo_ + text, done);
        return lmstudio_ ? api::lmstudio::add_v0_stats(body, done, *lmstudio_) : body;
    }

  private:
    const ResponseKind &              kind_;
    oai::ResponseMeta                 meta_;
    bool                              include_usage_;
    std::string                       echo_;
    const backend::ModelInfo *        lmstudio_;  // its lease outlives the answer
    bool                              joined_;
};

// Several choices' answers as one: their choices merged, usage summed with
// each prompt counted once (its n choices share it).
Joined join_choices(const ResponseKind & kind, std::shared_ptr<std::optional<oai::ResponseMeta>> meta, int n,
                    bool include_usage) {
    auto usage_of = [n](const std::vector<backend::Done> & dones) {
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
    Joined j;
    j.stream_end = [&kind, meta, usage_of, include_usage](const std::vector<backend::Done> & dones) {
        return (include_usage ? oai::sse_usage(**meta, kind.object, usage_of(dones)) : std::string()) + oai::sse_done();
    };
    j.whole = [usage_of](const std::vector<std::string> & answers, const std::vector<backend::Done> & dones) {
        return oai::merge_choices(answers, usage_of(dones));
    };
    return j;
}

// One generation endpoint: a chat or completion of one or more choices
// (n > 1, or several prompts), through the pipeline.
template <typename Call>
Handler generation_route(router::Router & router, Result<Call> (*parse)(std::string_view),
                                          const ResponseKind & kind, bool lmstudio = false) {
    return [&router, parse, &kind, lmstudio](const httplib::Request & req, httplib::Response & res) {
        auto call = parse(req.body);
        if (!call) return send_error(res, call.error());
        Job job;
        job.model        = call->request.model;
        job.keep_alive   = call->keep_alive;
        job.n_ctx        = call->n_ctx;
        job.stream       = call->stream;
        job.openai_path  = kind.openai_path;
        auto choices     = choices_of(*call);
        job.request      = std::move(choices.front());
        for (size_t i = 1; i < choices.size(); ++i) job.more.push_back(std::move(choices[i]));
        // One id for all choices: made with the first one's Render.
        auto meta = std::make_shared<std::optional<oai::ResponseMeta>>();
        if (!job.more.empty()) job.joined = join_choices(kind, meta, call->n, call->include_usage);
        job.render = [&kind, lmstudio, meta, call = std::make_shared<const Call>(std::move(*call))](const Answering & a) {
            if (!*meta) *meta = make_meta(kind.id_prefix, a.model, call->logprobs);
            oai::ResponseMeta m = **meta;
            m.index             = static_cast<int>(a.choice);
            const bool one      = a.choices == 1;
            return std::make_unique<ChoiceRender>(kind, std::move(m), call->include_usage, echo_of(*call, a.choice, a.backend),
                                                  lmstudio && one ? &a.model : nullptr, !one);
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
        job.openai_path  = "/v1/embeddings";
        job.request      = call->request;
        job.render       = [base64 = call->base64](const Answering & a) {
            return whole_only([id = a.model.id, base64](const std::string &, const backend::Done & done) {
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
        job.openai_path  = "/v1/rerank";
        job.request      = call->request;
        job.render = [call = std::make_shared<const api::rerank::RerankCall>(std::move(*call))](const Answering & a) {
            return whole_only([call, id = a.model.id](const std::string &, const backend::Done & done) {
                return api::rerank::response(*call, id, done.scores, done.usage.prompt_tokens);
            });
        };
        run(req, res, router, std::move(job));
    };
    http.Post("/v1/rerank", rerank);
    http.Post("/rerank", rerank);
}

}  // namespace kiln::server
