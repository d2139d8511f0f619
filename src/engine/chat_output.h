// One answer's text read the way its chat template writes it: thinking,
// text and tool calls apart, as they stream (llama.cpp's chat parsers).
// Not thread-safe; belongs to one request.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat_template.h"

namespace kiln::engine {

// A piece of the answer that became certain. At most one kind per delta.
struct AnswerDelta {
    std::string reasoning;
    std::string content;
    int32_t     tool_index = -1;  // >= 0: a piece of that tool call
    std::string tool_id;          // set on a call's first piece
    std::string tool_name;        // set on a call's first piece
    std::string tool_arguments;   // more of its JSON arguments
};

struct ParsedAnswer {
    std::string           content;
    std::string           reasoning;
    std::vector<ToolCall> tool_calls;
};

class ChatOutput {
  public:
    explicit ChatOutput(std::shared_ptr<const ChatFormat> format);
    ~ChatOutput();

    // More of the answer's text; what it settles.
    std::vector<AnswerDelta> push(std::string_view text);
    // The answer is complete: the rest.
    std::vector<AnswerDelta> finish();
    // Everything so far (all of it after finish()).
    const ParsedAnswer & answer() const { return answer_; }

  private:
    std::vector<AnswerDelta> update(bool partial);

    std::shared_ptr<const ChatFormat> format_;
    std::string                       text_;
    struct State;
    std::unique_ptr<State>            state_;
    ParsedAnswer                      answer_;
};

// "call_" and 24 random letters and digits, as OpenAI's ids look.
std::string new_tool_call_id();

}  // namespace kiln::engine
