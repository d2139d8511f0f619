// The internal request and event types every API adapter speaks, and the
// interface every backend implements. No JSON, no HTTP below this line.
#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/token.h"
#include "engine/chat_template.h"
#include "engine/sampling_params.h"
#include "scheduler/scheduler.h"

namespace kiln::backend {

enum class FinishReason { stop, length, cancelled, tool_calls };
const char * finish_reason_name(FinishReason reason);

// What a generation asks for, besides its prompt.
struct GenerateParams {
    engine::SamplingParams   sampling;
    int32_t                  max_tokens = -1;  // -1: until EOS, a stop string or the context is full
    std::vector<std::string> stop;
    bool                     ignore_eos = false;
    // A JSON schema (serialized) the output must follow: structured output.
    std::string              json_schema;
    // The done event carries the prompt's and the answer's tokens (Ollama's context).
    bool                     return_context = false;
};

struct ChatRequest {
    std::string                      model;  // empty: the backend's model
    std::vector<engine::ChatMessage> messages;
    engine::ChatOptions              options;  // tools, tool choice, thinking
    std::vector<Token>               context;  // tokens before the rendered chat (Ollama's context)
    std::string                      chat_template;  // a Jinja template for this request only; empty: the model's
    bool                             must_think = false;  // thinking asked for outright: an error when the model cannot
    GenerateParams                   params;
};

struct CompletionRequest {
    std::string          model;
    std::string          prompt;
    std::vector<Token>   tokens;  // the prompt as token ids instead (used as they are)
    std::vector<Token>   context;  // tokens before the prompt (Ollama's context)
    // Fill in the middle: the text after the gap, the prompt being the text
    // before it (models with FIM tokens).
    std::string          suffix;
    GenerateParams       params;
};

struct EmbedRequest {
    std::string              model;
    std::vector<std::string> inputs;
    bool                     normalize = true;  // L2
};

// Scores each document against the query with a reranker model; the done
// event's `embeddings` hold one single-number vector (the score) per document.
struct RerankRequest {
    std::string              model;
    std::string              query;
    std::vector<std::string> documents;
};

struct Usage {
    int32_t prompt_tokens     = 0;
    int32_t completion_tokens = 0;
    int32_t cached_tokens     = 0;
};

struct Timings {
    double prompt_ms     = 0;
    double generation_ms = 0;
};

// One generated token's log-probability, and its most likely alternatives
// (logprobs): the token's bytes, which may be part of a UTF-8 character.
struct TokenLogprob {
    std::string                               token;
    float                                     logprob = 0;
    std::vector<std::pair<std::string, float>> top;
};

// A delta carries one of: text, thinking, or a piece of a tool call (the
// first piece of a call has its id and name, later ones more arguments).
// A piece of the answer, as it is generated.
struct Delta {
    std::string               text;             // more of the answer's text
    std::string               reasoning;        // more thinking
    int32_t                   tool_index = -1;  // >= 0 for a piece of that tool call
    engine::ToolCall          tool;             // the piece
    std::vector<TokenLogprob> logprobs;         // the tokens that made it (when asked for)

    static Delta of_text(std::string t) {
        Delta d;
        d.text = std::move(t);
        return d;
    }
};

// How a request ended well: a generation's end, or what an embedding or a
// rerank request computed.
struct Done {
    std::string                   reasoning;      // all the thinking
    std::vector<engine::ToolCall> tool_calls;     // every call the answer made
    std::vector<TokenLogprob>     logprobs;       // the deltas' (collect() gathers them for a whole answer)
    std::vector<Token>            context;        // prompt and answer tokens (with return_context)
    FinishReason                  finish = FinishReason::stop;
    std::string                   stop_sequence;  // the request's stop string that ended it, if one did
    Usage                         usage;
    Timings                       timings;
    std::vector<std::vector<float>> embeddings;   // an EmbedRequest's: one per input
    std::vector<float>              scores;       // a RerankRequest's: one per document
};

// How a request ended badly.
struct Failure {
    Error error;
};

// What a channel carries: deltas, then one Done or Failure.
struct Event : std::variant<Delta, Done, Failure> {
    using variant::variant;
    static Event delta(std::string text) { return Event(Delta::of_text(std::move(text))); }
    static Event fail(Error e) { return Event(Failure{std::move(e)}); }
    const Delta *   as_delta() const { return std::get_if<Delta>(this); }
    const Done *    as_done() const { return std::get_if<Done>(this); }
    const Failure * as_failure() const { return std::get_if<Failure>(this); }
    Delta *         as_delta() { return std::get_if<Delta>(this); }
    Done *          as_done() { return std::get_if<Done>(this); }
    bool            last() const { return !as_delta(); }  // a Done or a Failure ends the stream
};

// Rings for whoever reads several channels at once (ChannelGroup) when any
// of them gets an event. Thread-safe.
class Doorbell {
  public:
    void     ring();
    uint64_t rings();
    // Waits until it rang after `seen` (a value rings() gave) or `timeout` passed.
    void     wait(uint64_t seen, std::chrono::milliseconds timeout);

  private:
    std::mutex              mutex_;
    std::condition_variable cv_;
    uint64_t                rings_ = 0;
};

// One request's way back from the run loop: the loop pushes events, the
// requester pops them. The requester cancels by calling cancel(); the loop
// sees it within one step. Thread-safe.
class Channel {
  public:
    void push(Event e);
    // Waits up to `timeout` for the next event.
    std::optional<Event> pop(std::chrono::milliseconds timeout);
    void                 cancel() { cancelled_->store(true); }
    // `bell` rings after every push from now on (events already queued are
    // there to pop).
    void                 attach(std::shared_ptr<Doorbell> bell);
    bool                 cancelled() const { return cancelled_->load(); }
    // The flag cancel() sets, for whoever runs the request to watch.
    const std::shared_ptr<std::atomic<bool>> & cancel_flag() const { return cancelled_; }
    // Prompt tokens, known when the request was queued (0 if the backend
    // does not say): for formats that report them before the first token.
    int32_t prompt_tokens = 0;

  private:
    std::mutex              mutex_;
    std::condition_variable cv_;
    std::deque<Event>       events_;
    std::shared_ptr<Doorbell> bell_;
    std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
};

// Several requests' channels read as one (OpenAI's n > 1): the next event of
// any of them, waiting without polling. Thread-safe against the pushers; one
// reader.
class ChannelGroup {
  public:
    explicit ChannelGroup(std::vector<std::shared_ptr<Channel>> channels);
    // The next event and the index of its channel, taking the channels with
    // events in turn; nullopt once `timeout` passed with none.
    std::optional<std::pair<size_t, Event>> pop(std::chrono::milliseconds timeout);
    void cancel();  // every request

  private:
    std::vector<std::shared_ptr<Channel>> channels_;
    std::shared_ptr<Doorbell>             bell_ = std::make_shared<Doorbell>();
    size_t                                next_ = 0;
};

struct ModelInfo {
    std::string id;           // what clients put in "model"
    std::string file_name;
    std::string arch;
    std::string quant;        // "Q8_0", "Q4_K_M" (llama.cpp's name for the file type)
    int64_t     created = 0;  // unix seconds (file mtime)
    int32_t     n_ctx = 0;        // KV cells shared by all requests
    int32_t     n_ctx_seq = 0;    // context of one request
    int32_t     n_ctx_train = 0;
    int32_t     slots = 0;
    std::string flash_attn;     // on, off, or auto (llama.cpp's choice); empty: not an in-process generation model
    bool        embedding = false;  // an embedding model: embeddings only, no generation
    bool        reranker  = false;  // an embedding model that scores (query, document) pairs
    int32_t     n_embd = 0;
    uint64_t    n_params = 0;
    uint64_t    size_bytes = 0;
    std::string chat_template;  // the template's source (in-process models)
};

// An OpenAI request as its client sent it (method, path, body, content
// type, Accept). A backend that is itself an OpenAI-compatible server may
// answer it verbatim: the fast path of process and remote runners.
struct VerbatimRequest {
    std::string method = "POST";
    std::string path;
    std::string body;
    std::string content_type = "application/json";
    std::string accept;
};

// Such an answer as it arrives: status and content type are in once it is
// returned; then the body's bytes. Cancelling (or dropping) it ends the exchange.
class VerbatimAnswer {
  public:
    virtual ~VerbatimAnswer() = default;
    virtual int                 status() const       = 0;
    virtual const std::string & content_type() const = 0;
    struct Chunk {
        std::string          bytes;
        bool                 ended = false;  // the body is complete, or broke off
        std::optional<Error> failure;        // why it broke off (the runner failed), when it did
    };
    // The next bytes, or nullopt when `timeout` passed without any.
    virtual std::optional<Chunk> next(std::chrono::milliseconds timeout) = 0;
    virtual void                 cancel() = 0;
};

// How a backend that is an OpenAI server puts a typed chat to it: the body
// of a streamed POST /v1/chat/completions, and its SSE answer read back into
// events. api/ implements it (api::openai::chat_codec()); whoever builds the
// backends injects it, since backend/ sits below api/.
class ChatCodec {
  public:
    virtual ~ChatCodec() = default;
    virtual std::string body(const ChatRequest & request, const std::string & model) const = 0;
    class Reader {
      public:
        virtual ~Reader() = default;
        // Events for the chunks these bytes complete.
        virtual std::vector<Event> feed(std::string_view bytes) = 0;
        // The done event (or the upstream's error) once the body ended.
        virtual Event end() = 0;
    };
    virtual std::unique_ptr<Reader> reader() const = 0;
    // An error body as one line for a message.
    virtual std::string error_message(std::string_view body) const = 0;
};

class Backend {
  public:
    virtual ~Backend() = default;
    // Starts serving (a run loop) if the backend was created without: the
    // router creates backends on a low-priority thread and starts them from
    // the requester's, so the run loop does not inherit the low priority.
    virtual void start() {}
    virtual const ModelInfo & info() const = 0;
    // Validates and queues the request. Errors known before generation
    // (template, prompt too long) come back here, not on the channel.
    virtual Result<std::shared_ptr<Channel>> submit(ChatRequest request) = 0;
    virtual Result<std::shared_ptr<Channel>> submit(CompletionRequest request) = 0;
    // One `done` event carrying one embedding per input.
    virtual Result<std::shared_ptr<Channel>> submit(EmbedRequest request) = 0;
    virtual Result<std::shared_ptr<Channel>> submit(RerankRequest request) = 0;
    // Tokens the chat's prompt takes (template applied), without running it.
    virtual Result<int32_t> count_tokens(const ChatRequest &) { return no_tokenizer(); }
    // The tokenizer and template, for llama-server's /tokenize,
    // /detokenize and /apply-template. Any thread.
    virtual Result<std::vector<Token>>   tokenize(const std::string &, bool /*add_special*/) { return no_tokenizer(); }
    virtual Result<std::string>          detokenize(const std::vector<Token> &) { return no_tokenizer(); }
    virtual Result<std::string>          apply_template(const ChatRequest &) { return no_tokenizer(); }
    // Cancels queued and running requests and stops accepting new ones.
    virtual void shutdown() = 0;
    // Slots, queue and KV use (empty for backends without a scheduler).
    virtual scheduler::Snapshot snapshot() const { return {}; }
    // Counters and histograms, or null.
    virtual const scheduler::Metrics * metrics() const { return nullptr; }
    // An OpenAI request answered verbatim, by a backend that is an OpenAI
    // server (process, remote); null from every other backend, which takes
    // the typed request instead.
    virtual Result<std::shared_ptr<VerbatimAnswer>> submit_verbatim(const VerbatimRequest &) {
        return std::shared_ptr<VerbatimAnswer>();
    }

  protected:
    static Error no_tokenizer() {
        return make_error(ErrorCode::invalid_request, "this model's tokenizer is not in this server", "model");
    }
};

}  // namespace kiln::backend
