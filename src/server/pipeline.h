// The request pipeline: what every model request does between its API
// family's parse and its family's render. A route parses the body into a
// Job (a typed backend request and how to answer it); run() does the rest:
// leases the model (the wait ends if the client leaves), submits the request
// (a chat to an upstream runner is bridged), then streams each event through
// the family's Render or collects the whole answer, charges the tokens to the
// client's key, cancels the request when the client goes away, and writes
// every error in the family's envelope (server/reply.h: one status map,
// Retry-After in one place). Adding a family or a route is a parse and a
// Render. Internal to server/.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/errors.h"
#include "backend/types.h"
#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

using Clock = std::chrono::steady_clock;

// What the model a request runs on is, once leased, and when things happened:
// what a Render needs to know of the run it answers for.
struct Answering {
    const backend::ModelInfo & model;
    backend::Backend &         backend;   // its tokenizer (an echoed prompt of token ids)
    int32_t                    prompt_tokens;  // known when queued (0: the backend does not say)
    Clock::time_point          received;  // the request arrived
    Clock::time_point          leased;    // its model was ready
    size_t                     choice  = 0;  // which of the job's generations (Job::more) this answers
    size_t                     choices = 1;  // how many the job has
};

// One family's answer to one request. Streamed: start(), then event() of
// each event until a Done or a Failure. Whole: whole() of the answer's text
// and its Done (a Failure is written by the pipeline, in the family's
// envelope). A Render may keep state across events.
class Render {
  public:
    virtual ~Render() = default;
    virtual std::string start() { return {}; }
    virtual std::string event(const backend::Event & ev) = 0;
    virtual std::string whole(const std::string & text, const backend::Done & done) = 0;
};

// A Render of answers that are never streamed (embeddings, rerank).
using WholeAnswer = std::function<std::string(const std::string & text, const backend::Done & done)>;
std::unique_ptr<Render> whole_only(WholeAnswer whole);

using BackendRequest =
    std::variant<backend::ChatRequest, backend::CompletionRequest, backend::EmbedRequest, backend::RerankRequest>;

// How a job of several generations (OpenAI's n > 1, a list of prompts) ends:
// each generation has its Render (Answering::choice), and these join them.
struct Joined {
    // Streamed, after every generation's done event: the trailer (usage, [DONE]).
    std::function<std::string(const std::vector<backend::Done> & dones)> stream_end;
    // Whole: one body of the answers each Render's whole() gave, in order.
    std::function<std::string(const std::vector<std::string> & answers, const std::vector<backend::Done> & dones)> whole;
};

// A parsed request, as the pipeline runs it.
struct Job {
    api::Family                      family = api::Family::openai;
    std::string                      model;  // as the client named it
    BackendRequest                   request;
    // More generations answered with `request` (each submitted on its own,
    // together: the prefix cache computes a shared prompt once), joined by
    // `joined`. Streamed, their events interleave as they come.
    std::vector<BackendRequest>      more;
    Joined                           joined;
    std::optional<router::KeepAlive> keep_alive;
    int32_t                          n_ctx  = 0;   // 0: the model's own
    bool                             stream = false;
    const char *                     stream_type = "text/event-stream";
    // Non-empty: the body is a request of this OpenAI route ("/v1/chat/
    // completions"), as the client sent it (OpenAI's own routes, and LM
    // Studio's /api/v0 ones of the same shape). A backend that is an OpenAI
    // server answers it verbatim (submit_verbatim); any other takes `request`.
    std::string                      openai_path;
    // Nothing to run (Ollama's empty legacy embedding): once the model is
    // leased, the answer is whole() of no text and an empty done event.
    bool                             nothing_to_run = false;
    Clock::time_point                received = Clock::now();
    // Made once the model is leased and the request submitted.
    std::function<std::unique_ptr<Render>(const Answering &)> render;
};

void run(const httplib::Request & req, httplib::Response & res, router::Router & router, Job job);

}  // namespace kiln::server
