// The model's chat template (Jinja, rendered by llama.cpp's common chat
// templates), or an override. Thread-safe: apply() may be called from any
// thread.
//
// Besides the prompt, rendering says how to read the answer: templates that
// know tools and thinking (Qwen, Llama 3.x, Hermes, DeepSeek, gpt-oss, ...)
// come with llama.cpp's parser for their format, and with a grammar that
// makes a tool call well-formed (forced from the first token when a tool is
// required, else "lazy": armed once the model starts a call).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

struct common_chat_templates;

namespace kiln::engine {

class Model;
struct ChatFormat;  // how an answer is parsed (llama.cpp's parser for the template's format)

struct ToolCall {
    std::string id;
    std::string name;
    std::string arguments;  // JSON text
};

struct ChatMessage {
    ChatMessage() = default;
    ChatMessage(std::string r, std::string c) : role(std::move(r)), content(std::move(c)) {}

    std::string           role;  // system | user | assistant | tool
    std::string           content;
    std::vector<ToolCall> tool_calls;    // assistant: the calls it made
    std::string           tool_call_id;  // tool: the call this result answers
    std::string           tool_name;     // tool: the function that produced it
    std::string           reasoning;     // assistant: its thinking, for templates that keep it
};

struct ChatTool {
    std::string name;
    std::string description;
    std::string parameters;  // JSON schema text; empty: no arguments
};

enum class ToolChoice { automatic, none, required };

struct ChatOptions {
    std::vector<ChatTool> tools;
    ToolChoice            tool_choice         = ToolChoice::automatic;
    bool                  parallel_tool_calls = false;
    std::optional<bool>   think;  // unset: the template's default (thinking on where it can)
    bool                  add_generation_prompt = true;
};

// A grammar the answer must follow, and when it starts to apply.
struct OutputGrammar {
    std::string              gbnf;  // root rule "root"; empty: none
    bool                     lazy = false;  // only after a trigger
    std::vector<std::string> trigger_patterns;  // regexes over the answer text
    std::vector<int32_t>     trigger_tokens;
    // Text the template puts before the answer, which the grammar starts
    // with (the sampler feeds its tokens to the grammar first).
    std::string              prefix;
};

struct RenderedChat {
    std::string              prompt;
    std::vector<std::string> additional_stops;  // end-of-turn strings the template implies
    OutputGrammar            grammar;           // for tool calls
    std::vector<std::string> preserved_tokens;  // control tokens the answer's parser must see as text
    // How to split the answer into thinking, text and tool calls; null when
    // the answer is plain text.
    std::shared_ptr<const ChatFormat> format;
    bool                              thinks = false;  // the answer may open with thinking
};

class ChatTemplate {
  public:
    // Uses `override_template` when non-empty, else the model's
    // tokenizer.chat_template, else llama.cpp's default (ChatML).
    // `time_limit` bounds the renders of one call (model.template_timeout).
    static Result<std::unique_ptr<ChatTemplate>> create(const Model & model, const std::string & override_template = "",
                                                        std::chrono::milliseconds time_limit = std::chrono::seconds(60));
    ~ChatTemplate();

    // Renders the conversation, ending with the assistant turn's opening when
    // add_generation_prompt. Template errors come back as invalid_request.
    Result<RenderedChat> apply(const std::vector<ChatMessage> & messages, const ChatOptions & options) const;
    Result<RenderedChat> apply(const std::vector<ChatMessage> & messages, bool add_generation_prompt = true) const {
        ChatOptions o;
        o.add_generation_prompt = add_generation_prompt;
        return apply(messages, o);
    }
    // The template's source text.
    std::string source() const;
    // Whether the template takes tools, and can think (for listings).
    bool supports_tools() const;
    bool supports_thinking() const;

  private:
    ChatTemplate() = default;
    common_chat_templates *   tmpls_ = nullptr;
    std::chrono::milliseconds time_limit_{0};
    mutable std::mutex      mutex_;
};

}  // namespace kiln::engine
