#include "api/anthropic.h"

#include <algorithm>
#include <limits>

#include "api/errors.h"
#include "api/json_fields.h"
#include "api/openai.h"

namespace kiln::api::anthropic {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

// A string, or text blocks joined by newlines; any other block is refused.
Result<std::string> text_of(const json & content, const std::string & param) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return bad("'" + param + "' must be a string or a list of content blocks", param);
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const json &      block = content[i];
        const std::string where = param + "[" + std::to_string(i) + "]";
        const std::string type  = text_field(block, "type");
        if (type == "text") {
            if (!block.contains("text") || !block["text"].is_string()) return bad("'" + where + ".text' must be a string", where);
            if (!text.empty()) text += "\n";
            text += block["text"].get<std::string>();
        } else if (type == "tool_use" || type == "tool_result" || type == "thinking") {
            return bad("'" + where + "': a " + type + " block does not belong here", where);
        } else if (type == "image" || type == "document") {
            return bad("'" + where + "': this model takes text only", where);
        } else {
            return bad("'" + where + "' must be a content block with a type (text)", where);
        }
    }
    return text;
}

// One turn's content blocks: text, tool_use and thinking (assistant),
// tool_result (user: each becomes a tool message, before the user's text).
Status add_turn(const std::string & role, const json & content, const std::string & param,
                std::vector<engine::ChatMessage> & out) {
    if (content.is_string()) {
        out.emplace_back(role, content.get<std::string>());
        return {};
    }
    if (!content.is_array()) return bad("'" + param + "' must be a string or a list of content blocks", param);
    engine::ChatMessage msg(role, "");
    json                text_blocks = json::array();
    for (size_t i = 0; i < content.size(); ++i) {
        const json &      block = content[i];
        const std::string where = param + "[" + std::to_string(i) + "]";
        const std::string type  = text_field(block, "type");
        if (type == "tool_use" && role == "assistant") {
            engine::ToolCall call;
            KILN_TRY(call.name, get_tool_name(block, "name", where + ".name"));
            KILN_TRY(auto id, get_string(block, "id"));
            call.id = id.value_or("");
            KILN_TRY(call.arguments, tool_arguments(block.value("input", json::object()), where + ".input"));
            msg.tool_calls.push_back(std::move(call));
        } else if (type == "thinking" && role == "assistant") {
            KILN_TRY(auto thinking, get_string(block, "thinking"));
            msg.reasoning += thinking.value_or("");
        } else if (type == "redacted_thinking" && role == "assistant") {
            continue;
        } else if (type == "tool_result" && role == "user") {
            KILN_TRY(auto id, get_string(block, "tool_use_id"));
            if (!id) return bad("'" + where + ".tool_use_id' is required", where + ".tool_use_id");
            engine::ChatMessage result("tool", "");
            result.tool_call_id = *id;
            if (auto c = block.find("content"); c != block.end() && !c->is_null()) {
                KILN_TRY(result.content, text_of(*c, where + ".content"));
            }
            KILN_TRY(auto is_error, get_bool(block, "is_error"));
            if (is_error.value_or(false)) result.content = "Error: " + result.content;
            out.push_back(std::move(result));
        } else {
            text_blocks.push_back(block);
        }
    }
    if (!text_blocks.empty()) {
        KILN_TRY(msg.content, text_of(text_blocks, param));
    }
    if (!text_blocks.empty() || !msg.tool_calls.empty() || !msg.reasoning.empty() || content.empty()) {
        out.push_back(std::move(msg));
    }
    return {};
}

// tools: [{name, description, input_schema}] (custom tools; Anthropic's
// server tools are not here); tool_choice: {type: auto | any | tool | none,
// name, disable_parallel_tool_use}.
Status parse_tools(const json & j, engine::ChatOptions & o) {
    auto it = j.find("tools");
    if (it != j.end() && !it->is_null()) {
        if (!it->is_array()) return bad("'tools' must be a list of tools", "tools");
        if (it->size() > kMaxTools) {
            return bad("'tools' holds " + std::to_string(it->size()) + " tools; the limit is " + std::to_string(kMaxTools), "tools");
        }
        for (size_t i = 0; i < it->size(); ++i) {
            const json &      t     = (*it)[i];
            const std::string param = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) return bad("'" + param + "' must be an object", param);
            if (const std::string type = text_field(t, "type", "custom"); type != "custom") {
                return bad("'" + param + "' is a server tool (" + type + "); only custom tools run here", param + ".type");
            }
            engine::ChatTool tool;
            KILN_TRY(tool.name, get_tool_name(t, "name", param + ".name"));
            KILN_TRY(auto description, get_string(t, "description"));
            tool.description = description.value_or("");
            auto schema      = t.find("input_schema");
            if (schema == t.end() || !schema->is_object()) {
                return bad("'" + param + ".input_schema' must be a JSON schema object", param + ".input_schema");
            }
            tool.parameters = schema->dump();
            o.tools.push_back(std::move(tool));
        }
    }
    o.parallel_tool_calls = true;
    auto c = j.find("tool_choice");
    if (c == j.end() || c->is_null()) return {};
    if (!c->is_object()) return bad("'tool_choice' must be an object with a type", "tool_choice");
    KILN_TRY(auto no_parallel, get_bool(*c, "disable_parallel_tool_use"));
    o.parallel_tool_calls = !no_parallel.value_or(false);
    const std::string type = text_field(*c, "type");
    if (type == "auto") return {};
    if (type == "none") {
        o.tool_choice = engine::ToolChoice::none;
        return {};
    }
    if (o.tools.empty()) return bad("'tool_choice' asks for a tool but no tools were given", "tool_choice");
    o.tool_choice = engine::ToolChoice::required;
    if (type == "any") return {};
    if (type != "tool") return bad("'tool_choice.type' must be auto, any, tool or none", "tool_choice.type");
    KILN_TRY(auto name, get_string(*c, "name"));
    for (auto & t : o.tools) {
        if (name && t.name == *name) {
            engine::ChatTool keep = std::move(t);
            o.tools               = {std::move(keep)};
            return {};
        }
    }
    return bad("'tool_choice.name' must name one of 'tools'", "tool_choice.name");
}

std::string event(const char * name, const json & data) {
    return std::string("event: ") + name + "\ndata: " + dump(data) + "\n\n";
}

const char * stop_reason(const backend::Done & done) {
    if (!done.stop_sequence.empty()) return "stop_sequence";
    if (!done.tool_calls.empty() && done.finish != backend::FinishReason::length) return "tool_use";
    return done.finish == backend::FinishReason::length ? "max_tokens" : "end_turn";
}

json stop_sequence(const backend::Done & done) {
    return done.stop_sequence.empty() ? json(nullptr) : json(done.stop_sequence);
}

// Anthropic counts cache reads apart: input_tokens + cache_read_input_tokens is the prompt.
json usage(const backend::Done & done) {
    return {{"input_tokens", std::max(0, done.usage.prompt_tokens - done.usage.cached_tokens)},
            {"output_tokens", done.usage.completion_tokens},
            {"cache_read_input_tokens", done.usage.cached_tokens},
            {"cache_creation_input_tokens", 0}};
}

}  // namespace

Result<MessagesCall> parse_messages(std::string_view body, bool count_only) {
    KILN_TRY(json j, parse_object(body));
    MessagesCall              call;
    backend::GenerateParams & p = call.request.params;
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return bad("'model' is required", "model");
    call.request.model = *model;
    KILN_TRY(auto max_tokens, get_int(j, "max_tokens", 1, kMaxOutputTokens));
    if (!max_tokens && !count_only) return bad("'max_tokens' is required", "max_tokens");
    if (max_tokens) p.max_tokens = static_cast<int32_t>(*max_tokens);
    engine::SamplingParams & s = p.sampling;
    using F                    = engine::SamplingParams;
    KILN_TRY(auto temperature, get_number(j, "temperature", 0, 1));
    if (temperature) {
        s.temperature = static_cast<float>(*temperature);
        s.set |= F::temperature_set;
    }
    KILN_TRY(auto top_p, get_number(j, "top_p", 0, 1));
    if (top_p) {
        s.top_p = static_cast<float>(*top_p);
        s.set |= F::top_p_set;
    }
    KILN_TRY(auto top_k, get_int(j, "top_k", 0, kMaxInt));
    if (top_k) {
        s.top_k = static_cast<int32_t>(*top_k);
        s.set |= F::top_k_set;
    }
    KILN_TRY(p.stop, get_stop_list(j, "stop_sequences"));
    KILN_TRY(auto stream, get_bool(j, "stream"));
    call.stream = stream.value_or(false);
    KILN_CHECK(parse_tools(j, call.request.options));
    if (auto th = j.find("thinking"); th != j.end() && !th->is_null()) {
        if (!th->is_object()) return bad("'thinking' must be an object with a type", "thinking");
        const std::string type = text_field(*th, "type");
        if (type != "enabled" && type != "disabled") return bad("'thinking.type' must be enabled or disabled", "thinking.type");
        // Models that cannot think answer without: the budget is a hint.
        call.request.options.think = type == "enabled";
    }
    if (auto sys = j.find("system"); sys != j.end() && !sys->is_null()) {
        KILN_TRY(std::string text, text_of(*sys, "system"));
        if (!text.empty()) call.request.messages.push_back({"system", std::move(text)});
    }
    auto it = j.find("messages");
    if (it == j.end() || !it->is_array()) return bad("'messages' must be a list of messages", "messages");
    if (it->empty()) return bad("'messages' must not be empty", "messages");
    const Status listed = for_each_message(*it, "messages", [&](const json & m, const std::string & param, size_t) -> Status {
        KILN_TRY(auto role, get_string(m, "role"));
        if (!role || (*role != "user" && *role != "assistant")) {
            return bad("'" + param + ".role' must be user or assistant", param + ".role");
        }
        auto content = m.find("content");
        if (content == m.end()) return bad("'" + param + ".content' is required", param + ".content");
        return add_turn(*role, *content, param + ".content", call.request.messages);
    });
    KILN_CHECK(listed);
    return call;
}

std::string new_message_id() { return openai::new_id("msg_"); }

namespace {

json tool_input(const std::string & arguments) {
    json input = json::parse(arguments, nullptr, false);
    return input.is_object() ? input : json::object();
}

}  // namespace

std::string message_response(const Meta & m, const std::string & text, const backend::Done & done) {
    json content = json::array();
    if (!done.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", done.reasoning}, {"signature", ""}});
    if (!text.empty() || done.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", text}});
    for (const auto & c : done.tool_calls) {
        content.push_back({{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", tool_input(c.arguments)}});
    }
    return dump({{"id", m.id},
                 {"type", "message"},
                 {"role", "assistant"},
                 {"model", m.model},
                 {"content", std::move(content)},
                 {"stop_reason", stop_reason(done)},
                 {"stop_sequence", stop_sequence(done)},
                 {"usage", usage(done)}});
}

std::string stream_start(const Meta & m, int32_t input_tokens) {
    json message = {{"id", m.id},
                    {"type", "message"},
                    {"role", "assistant"},
                    {"model", m.model},
                    {"content", json::array()},
                    {"stop_reason", nullptr},
                    {"stop_sequence", nullptr},
                    {"usage", {{"input_tokens", input_tokens}, {"output_tokens", 0}}}};
    return event("message_start", {{"type", "message_start"}, {"message", std::move(message)}}) +
           event("ping", {{"type", "ping"}});
}

std::string Stream::open(Block kind, const json & block) {
    std::string out = close();
    open_           = kind;
    return out + event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
}

std::string Stream::close() {
    if (open_ == Block::none) return {};
    open_ = Block::none;
    return event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_++}});
}

std::string Stream::piece(const json & delta) {
    return event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", delta}});
}

std::string Stream::delta(const backend::Delta & ev) {
    std::string out;
    if (!ev.reasoning.empty()) {
        if (open_ != Block::thinking) out += open(Block::thinking, {{"type", "thinking"}, {"thinking", ""}});
        return out + piece({{"type", "thinking_delta"}, {"thinking", ev.reasoning}});
    }
    if (ev.tool_index >= 0) {
        if (!ev.tool.name.empty()) {
            out += open(Block::tool, {{"type", "tool_use"}, {"id", ev.tool.id}, {"name", ev.tool.name}, {"input", json::object()}});
        }
        if (!ev.tool.arguments.empty()) out += piece({{"type", "input_json_delta"}, {"partial_json", ev.tool.arguments}});
        return out;
    }
    if (ev.text.empty()) return {};
    if (open_ != Block::text) out += open(Block::text, {{"type", "text"}, {"text", ""}});
    return out + piece({{"type", "text_delta"}, {"text", ev.text}});
}

std::string Stream::end(const backend::Done & done) {
    // Every answer has at least one block: an empty text one, if nothing else.
    std::string out = index_ == 0 && open_ == Block::none ? open(Block::text, {{"type", "text"}, {"text", ""}}) : "";
    return out + close() +
           event("message_delta", {{"type", "message_delta"},
                                   {"delta", {{"stop_reason", stop_reason(done)}, {"stop_sequence", stop_sequence(done)}}},
                                   {"usage", usage(done)}}) +
           event("message_stop", {{"type", "message_stop"}});
}

std::string stream_error(const Error & error) {
    const auto e = family_error("/v1/messages", error);
    return "event: error\ndata: " + e.body + "\n\n";
}

std::string count_tokens_response(int32_t input_tokens) { return dump({{"input_tokens", input_tokens}}); }

}  // namespace kiln::api::anthropic
