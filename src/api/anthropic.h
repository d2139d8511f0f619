// Anthropic's Messages API: POST /v1/messages (whole and as named SSE
// events) and POST /v1/messages/count_tokens. Pure functions; the routes
// live in server/anthropic_routes.
//
// Not yet taken (a 400 that says so): tools, tool_use / tool_result
// blocks, images and documents, extended thinking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/types.h"
#include "core/result.h"

namespace kiln::api::anthropic {

struct MessagesCall {
    backend::ChatRequest request;  // system first, then the turns
    bool                 stream = false;
};

// `count_only`: /v1/messages/count_tokens, where max_tokens is not required.
Result<MessagesCall> parse_messages(std::string_view body, bool count_only = false);

struct Meta {
    std::string id;  // msg_...
    std::string model;
};
std::string new_message_id();

// A whole answer.
std::string message_response(const Meta & m, const std::string & text, const backend::Event & done);
// Streamed: message_start, content_block_start and a ping; then one
// content_block_delta per delta; then content_block_stop, message_delta
// and message_stop; or an error event.
std::string stream_start(const Meta & m, int32_t input_tokens);
std::string stream_delta(const std::string & text);
std::string stream_end(const backend::Event & done);
std::string stream_error(const Error & error);

std::string count_tokens_response(int32_t input_tokens);

}  // namespace kiln::api::anthropic
