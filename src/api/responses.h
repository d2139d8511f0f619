// OpenAI's Responses API (POST /v1/responses): request bodies to a chat
// request, answers to a response object (whole) or to its named SSE events
// (streamed). Pure functions and a per-stream state; the routes, and the
// store that keeps conversations for previous_response_id, live in
// server/responses_routes.
//
// Input items: messages (string or input_text / output_text parts),
// function_call and function_call_output; instructions; function tools,
// tool_choice, parallel_tool_calls; max_output_tokens, temperature, top_p;
// text.format (json_object, json_schema); reasoning.effort ("none" turns
// thinking off). Output items: reasoning, message (output_text) and
// function_call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/types.h"
#include "core/result.h"
#include "router/keep_alive.h"

namespace kiln::api::responses {

// A chat stored for previous_response_id to continue: what the Responses API
// and LM Studio's /api/v1/chat share.
struct Conversation {
    backend::ChatRequest             request;  // the instructions (system prompt) first, then the input
    std::vector<engine::ChatMessage> input;    // the input alone (what a later response continues)
    std::string                      previous_response_id;
    bool                             stream = false;
    bool                             store  = true;
};
// Sampling, max_output_tokens, stream, store and previous_response_id of `j`.
Status get_conversation_fields(const nlohmann::json & j, Conversation & call);

struct ResponsesCall : Conversation {
    std::optional<router::KeepAlive> keep_alive;
    nlohmann::json                   echo;  // request fields the response object repeats
};

Result<ResponsesCall> parse(std::string_view body);

struct Meta {
    std::string id;  // resp_...
    std::string model;
    int64_t     created_at = 0;
    std::string previous_response_id;
};
std::string new_response_id();
// The answer to DELETE /v1/responses/{id}.
std::string deleted_object(const std::string & id);

// The assistant's turn as the conversation history keeps it.
engine::ChatMessage assistant_turn(const std::string & text, const backend::Done & done);

// A whole answer.
std::string response_object(const ResponsesCall & call, const Meta & m, const std::string & text,
                            const backend::Done & done);

// The events of one streamed answer: response.created and
// response.in_progress; then per output item output_item.added, its parts'
// deltas (reasoning_text, output_text, function_call_arguments) and .done
// events, output_item.done; then response.completed (or
// response.incomplete at the token limit).
class Stream {
  public:
    Stream(const ResponsesCall & call, Meta meta);
    std::string start();
    std::string delta(const backend::Delta & delta);
    std::string end(const backend::Done & done);
    std::string error(const Error & error);
    // After end(): the response object its last event carried.
    const std::string & final_object() const { return final_; }

  private:
    enum class Item { none, reasoning, message, call };
    std::string event(const char * type, nlohmann::json body);
    std::string open(Item kind, nlohmann::json item);
    std::string close();

    nlohmann::json echo_;
    Meta           meta_;
    int            sequence_ = 0;
    Item           open_     = Item::none;
    nlohmann::json item_;              // the open item, as it grows
    nlohmann::json output_ = nlohmann::json::array();  // the closed ones
    std::string    final_;
};

}  // namespace kiln::api::responses
