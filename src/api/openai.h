// OpenAI adapter: pure functions from request JSON to internal requests, and
// from internal events to response bytes. Never touches llama.cpp or HTTP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "backend/types.h"
#include "core/result.h"
#include "router/keep_alive.h"

namespace kiln::api::openai {

// keep_alive: the extensions "keep_alive" (Ollama's form) or "ttl" (LM
// Studio's seconds): how long the model stays loaded after this request.
// n: choices wanted (1 to kMaxChoices), each generated as its own request.
constexpr int kMaxChoices = 16;

struct ChatCall {
    backend::ChatRequest             request;
    bool                             logprobs = false;
    bool                             stream        = false;
    bool                             include_usage = false;
    std::optional<router::KeepAlive> keep_alive;
    int                              n     = 1;
    int32_t                          n_ctx = 0;  // extension "num_ctx": the context the model should have
};

struct CompletionCall {
    backend::CompletionRequest       request;       // the (first) prompt
    std::vector<backend::CompletionRequest> more_prompts;  // an array prompt's others, each answered as its own choices
    bool                             echo     = false;  // answers start with their prompt
    bool                             logprobs = false;
    bool                             stream        = false;
    bool                             include_usage = false;
    std::optional<router::KeepAlive> keep_alive;
    int                              n     = 1;
    int32_t                          n_ctx = 0;
};

struct EmbedCall {
    backend::EmbedRequest            request;
    bool                             base64 = false;  // encoding_format
    std::optional<router::KeepAlive> keep_alive;
};

// Parse and validate a request body. Errors name the offending field.
Result<ChatCall>       parse_chat(std::string_view body);
Result<CompletionCall> parse_completion(std::string_view body);
Result<EmbedCall>      parse_embeddings(std::string_view body);

// Identity of one response, shared by all of its chunks.
struct ResponseMeta {
    std::string id;       // chatcmpl-… / cmpl-…
    std::string model;
    int64_t     created = 0;
    int         index   = 0;  // the choice this chunk or answer is (n > 1)
    bool        logprobs = false;  // the request asked for them: answers carry a logprobs object
};

// logprobs (chat: a bool, with top_logprobs 0 to kMaxTopLogprobs;
// completions: an int, 0 to kMaxCompletionLogprobs) and logit_bias
// ({"token id": -100 to 100}).
constexpr int kMaxTopLogprobs        = 20;
constexpr int kMaxCompletionLogprobs = 5;

// Streams (Server-Sent Events). Each function returns one whole event.
std::string sse_chat_role(const ResponseMeta & m);
std::string sse_chat_delta(const ResponseMeta & m, const std::string & text);
// A delta event: text, reasoning_content, or a piece of a tool call.
std::string sse_chat_event(const ResponseMeta & m, const backend::Delta & delta);
std::string sse_chat_finish(const ResponseMeta & m, backend::FinishReason finish);
std::string sse_completion_delta(const ResponseMeta & m, const std::string & text);
std::string sse_completion_finish(const ResponseMeta & m, backend::FinishReason finish);
// The usage chunk (stream_options.include_usage); object is the stream's.
std::string sse_usage(const ResponseMeta & m, const char * object, const backend::Usage & usage);
std::string sse_done();
// An error after the stream has started: an event carrying the envelope.
std::string sse_error(const Error & error);

// Whole responses.
std::string chat_response(const ResponseMeta & m, const std::string & text, backend::FinishReason finish,
                          const backend::Usage & usage);
// With the done event's reasoning and tool calls.
std::string chat_response(const ResponseMeta & m, const std::string & text, const backend::Done & done);
std::string completion_response(const ResponseMeta & m, const std::string & text, backend::FinishReason finish,
                                const backend::Usage & usage);
// With the done event's logprobs (those of the whole answer).
std::string completion_response(const ResponseMeta & m, const std::string & text, const backend::Done & done);
std::string sse_completion_event(const ResponseMeta & m, const backend::Delta & delta);
// n whole answers (each with its one choice) as one with n choices and `usage`.
std::string merge_choices(const std::vector<std::string> & answers, const backend::Usage & usage);
std::string models_response(const std::vector<backend::ModelInfo> & models);
std::string model_object(const backend::ModelInfo & model);
std::string embeddings_response(const std::string & model, const std::vector<std::vector<float>> & embeddings,
                                bool base64, int32_t prompt_tokens);

// An error in OpenAI's envelope (status from api::http_status).
using ErrorResponse = ErrorReply;
ErrorResponse error_response(const Error & error);

// A random id with the given prefix ("chatcmpl-").
std::string new_id(const char * prefix);

}  // namespace kiln::api::openai
