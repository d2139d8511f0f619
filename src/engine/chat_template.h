// The model's chat template (Jinja, rendered by llama.cpp's common chat
// templates), or an override. Thread-safe: apply() may be called from any
// thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

struct common_chat_templates;

namespace kiln::engine {

class Model;

struct ChatMessage {
    std::string role;  // system | user | assistant | tool
    std::string content;
};

struct RenderedChat {
    std::string              prompt;
    std::vector<std::string> additional_stops;  // end-of-turn strings the template implies
};

class ChatTemplate {
  public:
    // Uses `override_template` when non-empty, else the model's
    // tokenizer.chat_template, else llama.cpp's default (ChatML).
    static Result<std::unique_ptr<ChatTemplate>> create(const Model & model, const std::string & override_template = "");
    ~ChatTemplate();

    // Renders the conversation, ending with the assistant turn's opening when
    // add_generation_prompt. Template errors come back as invalid_request.
    Result<RenderedChat> apply(const std::vector<ChatMessage> & messages, bool add_generation_prompt = true) const;
    // The template's source text.
    std::string source() const;

  private:
    ChatTemplate() = default;
    common_chat_templates * tmpls_ = nullptr;
    mutable std::mutex      mutex_;
};

}  // namespace kiln::engine
