#include "engine/chat_template.h"

#include <chrono>
#include <exception>
#include <regex>

#include <nlohmann/json.hpp>

#include "chat.h"
#include "engine/chat_format.h"
#include "engine/model.h"
#include "jinja/runtime.h"

namespace kiln::engine {

namespace {

// A template is code from wherever the model or the request came from. Its
// renders are bounded (llama.cpp's jinja::exec_limits, deps/patches/): steps,
// nesting and sizes by the defaults, and in time by this deadline, which
// spans every render of one call (learning a template's capabilities, or
// building a prompt and its parser, each render it many times). Real
// templates are far from it on most conversations, but llama.cpp's engine is
// quadratic in some of them: Gemma 4's took 1.7 s to build the prompt of a
// 200-turn conversation and 30 s for 1,000 turns (Xeon, AVX-512, 2 cores),
// Qwen 3's 0.3 s. A render that runs past this (the model.template_timeout
// setting, 60 s by default) is refused with an error rather than holding a core.
jinja::exec_limits render_limits(std::chrono::milliseconds time_limit) {
    jinja::exec_limits l;
    l.deadline = std::chrono::steady_clock::now() + time_limit;
    return l;
}

}  // namespace

Result<std::unique_ptr<ChatTemplate>> ChatTemplate::create(const Model & model, const std::string & override_template,
                                                           std::chrono::milliseconds time_limit) {
    std::unique_ptr<ChatTemplate> t(new ChatTemplate());
    t->time_limit_ = time_limit;
    try {
        jinja::limits_scope bounded(render_limits(time_limit));
        t->tmpls_ = common_chat_templates_init(model.get(), override_template).release();
    } catch (const std::exception & e) {
        return make_error(ErrorCode::invalid_request, std::string("invalid chat template: ") + e.what());
    }
    if (!t->tmpls_) return make_error(ErrorCode::invalid_request, "invalid chat template");
    return t;
}

ChatTemplate::~ChatTemplate() {
    if (tmpls_) common_chat_templates_free(tmpls_);
}

namespace {

// A call's arguments as the template gets them. Templates that print them as
// an object (`arguments | tojson`) need JSON; a call that is not (one cut off
// by the length limit, say: kiln hands such calls out itself) goes in as the
// JSON string of its text, so the history renders rather than fails.
std::string template_arguments(const std::string & arguments, bool object_arguments) {
    if (arguments.empty()) return "{}";
    if (!object_arguments || nlohmann::ordered_json::accept(arguments)) return arguments;
    return nlohmann::ordered_json(arguments).dump();
}

common_chat_msg to_common(const ChatMessage & m, bool object_arguments) {
    common_chat_msg msg;
    msg.role              = m.role;
    msg.content           = m.content;
    msg.reasoning_content = m.reasoning;
    msg.tool_call_id      = m.tool_call_id;
    msg.tool_name         = m.tool_name;
    for (const auto & c : m.tool_calls) msg.tool_calls.push_back({c.name, template_arguments(c.arguments, object_arguments), c.id});
    return msg;
}

common_chat_tool_choice to_common(ToolChoice c) {
    switch (c) {
        case ToolChoice::none:      return COMMON_CHAT_TOOL_CHOICE_NONE;
        case ToolChoice::required:  return COMMON_CHAT_TOOL_CHOICE_REQUIRED;
        case ToolChoice::automatic: break;
    }
    return COMMON_CHAT_TOOL_CHOICE_AUTO;
}

// llama.cpp's tool grammars let free text come before the calls
// (`root ::= ... until-N? tool-calls`); when a call is required, the answer
// is the calls, as OpenAI answers, and that text goes. Its JSON formats with
// a marker per call (Qwen's <tool_call>) repeat the call whatever
// parallel_tool_calls says (`tool-calls ::= (tool-call space)+`); without
// parallel calls, one it is.
std::string adjust_tool_grammar(std::string gbnf, bool required, bool parallel) {
    if (required) {
        static const std::regex before_calls(R"((^|\n)(root ::= [^\n]*?)until-[0-9]+\? (tool-calls)[ \t]*(\n|$))");
        gbnf = std::regex_replace(gbnf, before_calls, "$1$2$3$4", std::regex_constants::format_first_only);
    }
    if (!parallel) {
        static const std::regex repeated(R"((^|\n)tool-calls ::= \((tool-call space)\)\+[ \t]*(\n|$))");
        gbnf = std::regex_replace(gbnf, repeated, "$1tool-calls ::= $2$3", std::regex_constants::format_first_only);
    }
    return gbnf;
}

OutputGrammar to_grammar(const common_chat_params & p, const ChatOptions & o) {
    OutputGrammar g;
    if (p.grammar.empty()) return g;
    g.gbnf   = adjust_tool_grammar(p.grammar, o.tool_choice == ToolChoice::required, o.parallel_tool_calls);
    g.lazy   = p.grammar_lazy;
    g.prefix = p.generation_prompt;
    for (const auto & t : p.grammar_triggers) {
        switch (t.type) {
            case COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN: g.trigger_tokens.push_back(t.token); break;
            case COMMON_GRAMMAR_TRIGGER_TYPE_WORD: g.trigger_patterns.push_back(regex_escape(t.value)); break;
            case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN: g.trigger_patterns.push_back(t.value); break;
            case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN_FULL: {
                std::string a = t.value;
                if (a.empty() || a.front() != '^') a.insert(0, "^");
                if (a.back() != '$') a += "$";
                g.trigger_patterns.push_back(std::move(a));
                break;
            }
        }
    }
    return g;
}

}  // namespace

Result<RenderedChat> ChatTemplate::apply(const std::vector<ChatMessage> & messages, const ChatOptions & options) const {
    common_chat_templates_inputs in;
    in.use_jinja             = true;
    in.add_generation_prompt = options.add_generation_prompt;
    in.reasoning_format      = COMMON_REASONING_FORMAT_DEEPSEEK;
    in.enable_thinking       = options.think.value_or(true);
    in.tool_choice           = to_common(options.tool_choice);
    in.parallel_tool_calls   = options.parallel_tool_calls;
    for (const auto & t : options.tools) {
        in.tools.push_back({t.name, t.description, t.parameters.empty() ? R"({"type":"object","properties":{}})" : t.parameters});
    }
    const bool tools = !in.tools.empty() && options.tool_choice != ToolChoice::none;
    try {
        jinja::limits_scope bounded(render_limits(time_limit_));
        std::lock_guard lock(mutex_);
        const bool      object_arguments = common_chat_templates_get_caps(tmpls_)["supports_object_arguments"];
        for (const auto & m : messages) in.messages.push_back(to_common(m, object_arguments));
        common_chat_params p = common_chat_templates_apply(tmpls_, in);
        RenderedChat       out;
        out.prompt           = std::move(p.prompt);
        out.additional_stops = std::move(p.additional_stops);
        out.preserved_tokens = p.preserved_tokens;
        if (tools) out.grammar = to_grammar(p, options);
        // A parser is needed where the answer can hold more than text.
        const bool thinks = p.supports_thinking && in.enable_thinking;
        out.thinks        = thinks;
        if (tools || thinks) {
            auto f                     = std::make_shared<ChatFormat>();
            f->params                  = common_chat_parser_params(p);
            f->params.reasoning_format = COMMON_REASONING_FORMAT_DEEPSEEK;
            f->params.parse_tool_calls = tools;
            if (!p.parser.empty()) f->params.parser.load(p.parser);
            out.format   = std::move(f);
        }
        return out;
    } catch (const std::exception & e) {
        return make_error(ErrorCode::invalid_request, std::string("chat template failed: ") + e.what(), "messages");
    }
}

std::string ChatTemplate::source() const {
    std::lock_guard lock(mutex_);
    return common_chat_templates_source(tmpls_);
}

bool ChatTemplate::supports_tools() const {
    std::lock_guard lock(mutex_);
    auto caps = common_chat_templates_get_caps(tmpls_);
    return caps["supports_tools"] || caps["supports_tool_calls"];
}

bool ChatTemplate::supports_thinking() const {
    std::lock_guard lock(mutex_);
    return common_chat_templates_support_enable_thinking(tmpls_);
}

}  // namespace kiln::engine
