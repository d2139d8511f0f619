#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/chat_output.h"
#include "engine/chat_template.h"
#include "engine/model.h"
#include "test_models.h"

using kiln::engine::ChatTemplate;
using kiln::engine::Model;

TEST(ChatTemplate, ModelChatMLTemplateRendersConversation) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model) << model.error().message;
    auto tmpl = ChatTemplate::create(**model);
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    auto out = (*tmpl)->apply({{"system", "Be brief."}, {"user", "Hi"}}, true);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->prompt,
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

    auto no_gen = (*tmpl)->apply({{"user", "Hi"}}, false);
    ASSERT_TRUE(no_gen);
    EXPECT_EQ(no_gen->prompt, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, OverrideTemplateIsUsed) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    auto out = (*tmpl)->apply({{"user", "one"}, {"assistant", "two"}}, false);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->prompt, "[user] one\n[assistant] two\n");
}

TEST(ChatTemplate, BrokenTemplateIsAnErrorNotACrash) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, "{% for m in messages %}{{ m.role ");
    if (tmpl) {
        auto out = (*tmpl)->apply({{"user", "x"}}, true);
        EXPECT_FALSE(out.ok());
    } else {
        EXPECT_EQ(tmpl.error().code, kiln::ErrorCode::invalid_request);
    }
}

// Tools and thinking, in the formats of real templates (from llama.cpp's
// models/templates), read back by ChatOutput as a stream would feed it.
namespace {

std::string real_template(const std::string & name) {
    std::ifstream in(kiln::test::vocab_file("qwen2").parent_path() / "templates" / (name + ".jinja"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

kiln::engine::ChatOptions weather_tools(kiln::engine::ToolChoice choice) {
    kiln::engine::ChatOptions o;
    o.tools       = {{"get_weather", "Weather in a city", R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"}};
    o.tool_choice = choice;
    return o;
}

// Feeds `text` a few bytes at a time; returns the deltas in order.
std::vector<kiln::engine::AnswerDelta> feed(kiln::engine::ChatOutput & out, const std::string & text, size_t step = 3) {
    std::vector<kiln::engine::AnswerDelta> all;
    for (size_t i = 0; i < text.size(); i += step) {
        for (auto & d : out.push(text.substr(i, step))) all.push_back(std::move(d));
    }
    for (auto & d : out.finish()) all.push_back(std::move(d));
    return all;
}

}  // namespace

TEST(ChatTemplate, ToolCallsAreGrammarBoundAndParsedAsTheyStream) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, real_template("Qwen-Qwen2.5-7B-Instruct"));
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    EXPECT_TRUE((*tmpl)->supports_tools());

    auto required = (*tmpl)->apply({{"user", "Weather in Paris?"}}, weather_tools(kiln::engine::ToolChoice::required));
    ASSERT_TRUE(required) << required.error().message;
    EXPECT_NE(required->prompt.find("get_weather"), std::string::npos) << "the tools are in the prompt";
    EXPECT_FALSE(required->grammar.gbnf.empty());
    EXPECT_FALSE(required->grammar.lazy) << "a required call is bound from the first token";
    const auto root = required->grammar.gbnf.substr(required->grammar.gbnf.find("root ::="));
    EXPECT_EQ(root.substr(0, root.find('\n')).find("until-"), std::string::npos) << "no free text before a required call";
    EXPECT_EQ(required->grammar.gbnf.find("(tool-call space)+"), std::string::npos) << "parallel_tool_calls off: one call";

    auto automatic = (*tmpl)->apply({{"user", "Weather in Paris?"}}, weather_tools(kiln::engine::ToolChoice::automatic));
    ASSERT_TRUE(automatic);
    EXPECT_TRUE(automatic->grammar.lazy) << "auto: the grammar waits for the call to start";
    EXPECT_FALSE(automatic->grammar.trigger_patterns.empty() && automatic->grammar.trigger_tokens.empty());
    ASSERT_TRUE(automatic->format);

    kiln::engine::ChatOutput out(automatic->format);
    auto deltas = feed(out, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
    std::string text, args, name;
    int         starts = 0;
    for (const auto & d : deltas) {
        text += d.content;
        if (d.tool_index == 0 && !d.tool_name.empty()) {
            ++starts;
            name = d.tool_name;
            EXPECT_EQ(d.tool_id.rfind("call_", 0), 0u);
        }
        if (d.tool_index == 0) args += d.tool_arguments;
    }
    EXPECT_EQ(starts, 1) << "a call's name comes once";
    EXPECT_EQ(name, "get_weather");
    EXPECT_EQ(text.find("<tool_call>"), std::string::npos) << text;
    EXPECT_NE(text.find("Let me check."), std::string::npos) << text;
    ASSERT_EQ(out.answer().tool_calls.size(), 1u);
    EXPECT_EQ(out.answer().tool_calls[0].arguments, args) << "the streamed pieces add up to the arguments";
    EXPECT_NE(args.find("\"Paris\""), std::string::npos) << args;

    // A conversation that carries the call and its result renders.
    std::vector<kiln::engine::ChatMessage> turns = {{"user", "Weather in Paris?"}, {"assistant", ""}, {"tool", "18 C, sunny"}};
    turns[1].tool_calls  = out.answer().tool_calls;
    turns[2].tool_call_id = out.answer().tool_calls[0].id;
    auto next = (*tmpl)->apply(turns, weather_tools(kiln::engine::ToolChoice::automatic));
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_NE(next->prompt.find("18 C, sunny"), std::string::npos);
    EXPECT_NE(next->prompt.find("\"Paris\""), std::string::npos);
}

// A call the length limit cut off is handed out as it stands; the same
// conversation must render when it comes back, in a template that prints
// arguments as an object (Qwen 2.5) and in one that prints them as text.
TEST(ChatTemplate, ACallCutOffByTheLimitRendersInAHistory) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, real_template("Qwen-Qwen2.5-7B-Instruct"));
    ASSERT_TRUE(tmpl) << tmpl.error().message;

    kiln::engine::ChatOutput out((*tmpl)->apply({{"user", "Weather?"}}, weather_tools(kiln::engine::ToolChoice::required))->format);
    feed(out, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa");
    ASSERT_EQ(out.answer().tool_calls.size(), 1u);
    const std::string cut = out.answer().tool_calls[0].arguments;
    EXPECT_FALSE(nlohmann::json::accept(cut)) << cut;

    std::vector<kiln::engine::ChatMessage> turns = {{"user", "Weather?"}, {"assistant", ""}, {"tool", "cut"}};
    turns[1].tool_calls   = out.answer().tool_calls;
    turns[2].tool_call_id = turns[1].tool_calls[0].id;
    auto next = (*tmpl)->apply(turns, weather_tools(kiln::engine::ToolChoice::automatic));
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_NE(next->prompt.find(nlohmann::json(cut).dump()), std::string::npos) << "as a JSON string:\n" << next->prompt;

    auto text_args = ChatTemplate::create(**model,
        "{% for m in messages %}{% for c in m.tool_calls %}[{{ c.function.arguments }}]{% endfor %}{% endfor %}");
    ASSERT_TRUE(text_args);
    auto plain = (*text_args)->apply(turns, false);
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_NE(plain->prompt.find("[" + cut + "]"), std::string::npos) << "as the text it is: " << plain->prompt;
}

TEST(ChatTemplate, ThinkingComesApartFromTheAnswer) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, real_template("Qwen-Qwen3-0.6B"));
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    EXPECT_TRUE((*tmpl)->supports_thinking());
    auto r = (*tmpl)->apply({{"user", "Hi"}}, kiln::engine::ChatOptions{});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->thinks);
    kiln::engine::ChatOutput out(r->format);
    std::string thought, said;
    for (const auto & d : feed(out, "<think>\nThe user greets me.\n</think>\n\nHello!", 2)) {
        thought += d.reasoning;
        said += d.content;
    }
    EXPECT_EQ(thought.substr(0, thought.find_last_not_of('\n') + 1), "The user greets me.");
    EXPECT_EQ(said, "Hello!");

    kiln::engine::ChatOptions off;
    off.think = false;
    auto quiet = (*tmpl)->apply({{"user", "Hi"}}, off);
    ASSERT_TRUE(quiet);
    EXPECT_FALSE(quiet->thinks);
    EXPECT_FALSE(quiet->format) << "no thinking, no tools: the answer is plain text";
}

TEST(ChatTemplate, PlainChatTemplateHasNoToolFormat) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model);
    ASSERT_TRUE(tmpl);
    auto r = (*tmpl)->apply({{"user", "Hi"}}, weather_tools(kiln::engine::ToolChoice::required));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->grammar.gbnf.empty()) << "the backend turns this into a 400 naming the model";
}
