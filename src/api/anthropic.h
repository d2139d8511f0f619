// Anthropic's Messages API: POST /v1/messages (whole and as named SSE
// events) and POST /v1/messages/count_tokens. Pure functions; the routes
// live in server/anthropic_routes.
//
// Tools (custom ones) with tool_use / tool_result blocks, and thinking
// (for models whose template thinks) map onto the chat template. Not yet
// taken (a 400 that says so): images and documents, server tools.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

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
std::string message_response(const Meta & m, const std::string & text, const backend::Done & done);
// Streamed: message_start and a ping; then content blocks (thinking, text,
// tool_use), each opened by content_block_start, fed by content_block_delta
// (thinking_delta, text_delta, input_json_delta) and closed by
// content_block_stop as the answer moves from one to the next; then
// message_delta and message_stop; or an error event.
std::string stream_start(const Meta & m, int32_t input_tokens);
std::string stream_error(const Error & error);

// The block state of one streamed answer.
class Stream {
  public:
    std::string delta(const backend::Delta & delta);
    std::string end(const backend::Done & done);

  private:
    enum class Block { none, thinking, text, tool };
    std::string open(Block kind, const nlohmann::json & block);
    std::string close();
    std::string piece(const nlohmann::json & delta);
    Block       open_  = Block::none;
    int         index_ = 0;
};

std::string count_tokens_response(int32_t input_tokens);

}  // namespace kiln::api::anthropic
