#include "api/anthropic.h"

#include <algorithm>
#include <limits>

#include "api/errors.h"
#include "api/json_fields.h"
#include "api/openai.h"

namespace kiln::api::anthropic {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

Error bad(const std::string & msg, const std::string & param) {
    return make_error(ErrorCode::invalid_request, msg, param);
}

// A string, or text blocks joined by newlines; any other block is refused.
Result<std::string> text_of(const json & content, const std::string & param) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return bad("'" + param + "' must be a string or a list of content blocks", param);
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const json &      block = content[i];
        const std::string where = param + "[" + std::to_string(i) + "]";
        const std::string type  = block.is_object() ? block.value("type", "") : "";
        if (type == "text") {
            if (!block.contains("text") || !block["text"].is_string()) return bad("'" + where + ".text' must be a string", where);
            if (!text.empty()) text += "\n";
            text += block["text"].get<std::string>();
        } else if (type == "tool_use" || type == "tool_result") {
            return bad("'" + where + "' (a " + type + " block): tool use is not supported yet", where);
        } else if (type == "image" || type == "document") {
            return bad("'" + where + "': this model takes text only", where);
        } else {
            return bad("'" + where + "' must be a content block with a type (text)", where);
        }
    }
    return text;
}

std::string dump(const json & j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string event(const char * name, const json & data) {
    return std::string("event: ") + name + "\ndata: " + dump(data) + "\n\n";
}

const char * stop_reason(const backend::Event & done) {
    if (!done.stop_sequence.empty()) return "stop_sequence";
    return done.finish == backend::FinishReason::length ? "max_tokens" : "end_turn";
}

json stop_sequence(const backend::Event & done) {
    return done.stop_sequence.empty() ? json(nullptr) : json(done.stop_sequence);
}

// Anthropic counts cache reads apart: input_tokens + cache_read_input_tokens is the prompt.
json usage(const backend::Event & done) {
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
    if (auto t = j.find("tools"); t != j.end() && !t->is_null() && !(t->is_array() && t->empty())) {
        return bad("'tools': tool use is not supported yet", "tools");
    }
    if (auto th = j.find("thinking"); th != j.end() && th->is_object() && th->value("type", "") == "enabled") {
        return bad("'thinking': extended thinking is not supported by this model", "thinking");
    }
    if (auto sys = j.find("system"); sys != j.end() && !sys->is_null()) {
        KILN_TRY(std::string text, text_of(*sys, "system"));
        if (!text.empty()) call.request.messages.push_back({"system", std::move(text)});
    }
    auto it = j.find("messages");
    if (it == j.end() || !it->is_array()) return bad("'messages' must be a list of messages", "messages");
    if (it->empty()) return bad("'messages' must not be empty", "messages");
    KILN_CHECK(check_message_count(*it, "messages"));
    for (size_t i = 0; i < it->size(); ++i) {
        const json &      m     = (*it)[i];
        const std::string param = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) return bad("'" + param + "' must be an object", param);
        KILN_TRY(auto role, get_string(m, "role"));
        if (!role || (*role != "user" && *role != "assistant")) {
            return bad("'" + param + ".role' must be user or assistant", param + ".role");
        }
        auto content = m.find("content");
        if (content == m.end()) return bad("'" + param + ".content' is required", param + ".content");
        KILN_TRY(std::string text, text_of(*content, param + ".content"));
        call.request.messages.push_back({*role, std::move(text)});
    }
    return call;
}

std::string new_message_id() { return openai::new_id("msg_"); }

std::string message_response(const Meta & m, const std::string & text, const backend::Event & done) {
    return dump({{"id", m.id},
                 {"type", "message"},
                 {"role", "assistant"},
                 {"model", m.model},
                 {"content", json::array({{{"type", "text"}, {"text", text}}})},
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
           event("content_block_start",
                 {{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}}) +
           event("ping", {{"type", "ping"}});
}

std::string stream_delta(const std::string & text) {
    return event("content_block_delta",
                 {{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", text}}}});
}

std::string stream_end(const backend::Event & done) {
    return event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}) +
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
