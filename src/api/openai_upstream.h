// kiln as an OpenAI client, for backends that are other servers (process
// and remote runners): a typed chat request as the body of a streamed chat
// completion, and the answer's SSE bytes back into events. So Ollama's,
// Anthropic's and LM Studio's routes reach those backends too (OpenAI's own
// requests go to them verbatim). Pure functions and a parser state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/types.h"

namespace kiln::api::openai {

// The body of POST /v1/chat/completions for `request`, streamed, with usage.
std::string upstream_chat_body(const backend::ChatRequest & request, const std::string & model);

// An upstream's error body as one line for a message: its error.message
// (or error, a string) when it is JSON, else its first 200 bytes.
std::string upstream_error_message(std::string_view body);

// Reads an upstream's SSE stream, whatever the chunking of its bytes.
class UpstreamReader {
  public:
    // Events for the chunks these bytes complete.
    std::vector<backend::Event> feed(std::string_view bytes);
    // The done event (finish reason and usage as the upstream gave them),
    // or the upstream's error.
    backend::Event end();
    bool           finished() const { return finished_; }

  private:
    void chunk(std::string_view data, std::vector<backend::Event> & out);

    std::string                  buffer_;
    bool                         finished_ = false;
    backend::FinishReason        finish_   = backend::FinishReason::stop;
    backend::Usage               usage_;
    std::optional<Error>         error_;
    std::vector<engine::ToolCall> calls_;
    std::string                  reasoning_;
};

// The codec process and remote backends put typed chats to their runners
// with (upstream_chat_body, UpstreamReader, upstream_error_message), for the
// router's BackendLoader to give them.
std::shared_ptr<const backend::ChatCodec> chat_codec();

}  // namespace kiln::api::openai
