// Ollama's POST /api/generate and /api/chat: request bodies to internal
// requests, events to NDJSON lines (or one whole object). Pure functions; the
// routes live in server/ollama_routes.
//
// Tools (auto: Ollama has no tool_choice) and `think` go to the chat
// template; answers carry `thinking` and `tool_calls` (arguments as
// objects). /api/generate takes `context` (the tokens its last answer
// returned, which every final object carries) and `suffix` (fill in the
// middle, for models with FIM tokens) and `template` (a Jinja chat template
// for the request; Ollama's Go templates are refused with the reason).
// Refused: `images` (no vision model).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "backend/types.h"
#include "core/result.h"
#include "router/keep_alive.h"

namespace kiln::api::ollama {

struct GenerateCall {
    std::string                      model;
    bool                             stream = true;
    std::optional<router::KeepAlive> keep_alive;
    int32_t                          n_ctx = 0;  // options.num_ctx
    // Empty prompt and no messages: Ollama's load (or, with keep_alive 0, unload).
    bool                             load_only = false;
    bool                             chat      = false;  // /api/chat (message objects) or /api/generate (response text)
    bool                             raw       = false;  // /api/generate: the prompt as is, no template
    backend::ChatRequest             messages;           // chat, and generate unless raw
    backend::CompletionRequest       completion;         // generate with raw
};

Result<GenerateCall> parse_generate(std::string_view body);
Result<GenerateCall> parse_chat(std::string_view body);

// Timing of one answer, for the final object's durations (nanoseconds).
struct Durations {
    std::chrono::steady_clock::duration total{};
    std::chrono::steady_clock::duration load{};  // waiting for the model to load
};

// One streamed line (with its newline) of text.
std::string delta_line(const GenerateCall & call, const std::string & model, const std::string & text);
// The line for a delta event: text or thinking. Pieces of tool calls give
// nothing: Ollama sends each call whole, in a line before the final one.
std::string event_line(const GenerateCall & call, const std::string & model, const backend::Delta & delta);
// The final object: done, done_reason, counts and durations; `text` is the
// whole answer for a non-streamed call (empty when streamed).
std::string final_object(const GenerateCall & call, const std::string & model, const std::string & text,
                         const backend::Done & done, const Durations & d);
// The answer to a load or unload: done_reason "load" or "unload".
std::string load_object(const GenerateCall & call, const std::string & model, bool unloaded);

}  // namespace kiln::api::ollama
