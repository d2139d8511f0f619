// Request parsing for the OpenAI adapter: JSON in, native types out.
#include <algorithm>
#include <cstdlib>
#include <limits>

#include "api/json_fields.h"
#include "api/models_api.h"
#include "api/openai.h"

namespace kiln::api::openai {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

// {"token id": bias}, bias -100 to 100 (ids are checked against the vocabulary by the backend).
Status parse_logit_bias(const json & j, engine::SamplingParams & s) {
    auto lb = j.find("logit_bias");
    if (lb == j.end() || lb->is_null()) return {};
    if (!lb->is_object()) return bad("'logit_bias' must be an object of token id to bias", "logit_bias");
    if (lb->size() > 1024) return bad("'logit_bias' holds more than 1024 tokens", "logit_bias");
    for (const auto & [key, value] : lb->items()) {
        char *     end = nullptr;
        const long id  = std::strtol(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || id < 0 || id > kMaxInt) {
            return bad("'logit_bias' keys must be token ids (got '" + key.substr(0, 40) + "')", "logit_bias");
        }
        if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100) {
            return bad("'logit_bias' values must be numbers between -100 and 100", "logit_bias");
        }
        s.logit_bias.emplace_back(static_cast<Token>(id), value.get<float>());
    }
    return {};
}

// Chat: logprobs (bool) and top_logprobs; completions: logprobs (0 to 5 alternatives).
template <typename Call>
Status parse_logprobs(const json & j, Call & call, bool chat) {
    engine::SamplingParams & s = call.request.params.sampling;
    if (chat) {
        KILN_TRY(auto want, get_bool(j, "logprobs"));
        KILN_TRY(auto top, get_int(j, "top_logprobs", 0, kMaxTopLogprobs));
        if (top && !want.value_or(false)) return bad("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        call.logprobs = want.value_or(false);
        if (call.logprobs) s.n_probs = static_cast<int32_t>(top.value_or(0));
        return {};
    }
    KILN_TRY(auto n, get_int(j, "logprobs", 0, kMaxCompletionLogprobs));
    call.logprobs = n.has_value();
    if (n) s.n_probs = static_cast<int32_t>(*n);
    return {};
}

// Fields chat and completions share: sampling, limits, stop, streaming.
template <typename Call>
Status parse_common(const json & j, Call & call) {
    backend::GenerateParams & p = call.request.params;
    engine::SamplingParams & s = p.sampling;

    KILN_TRY(auto model, get_string(j, "model"));
    call.request.model = model.value_or("");
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    KILN_TRY(auto num_ctx, get_int(j, "num_ctx", 1, 1 << 24));
    call.n_ctx = static_cast<int32_t>(num_ctx.value_or(0));

    KILN_CHECK(get_sampling(j, s));

    KILN_TRY(auto max_tokens, get_int(j, "max_tokens", 0, kMaxOutputTokens));
    KILN_TRY(auto max_completion, get_int(j, "max_completion_tokens", 0, kMaxOutputTokens));
    KILN_CHECK(parse_logit_bias(j, s));
    if (max_completion) max_tokens = max_completion;
    if (max_tokens) p.max_tokens = static_cast<int32_t>(*max_tokens);

    if (auto rf = j.find("response_format"); rf != j.end() && !rf->is_null()) {
        if (!rf->is_object()) return bad("'response_format' must be an object", "response_format");
        const std::string type = text_field(*rf, "type");
        if (type == "json_object") {
            p.json_schema = R"({"type":"object"})";
        } else if (type == "json_schema") {
            auto js = rf->find("json_schema");
            if (js == rf->end() || !js->is_object() || !js->contains("schema") || !(*js)["schema"].is_object()) {
                return bad("'response_format.json_schema.schema' must be a JSON schema object", "response_format");
            }
            p.json_schema = (*js)["schema"].dump();
        } else if (type != "text") {
            return bad("'response_format.type' must be text, json_object or json_schema", "response_format");
        }
    }
    KILN_TRY(auto n, get_int(j, "n", 1, kMaxChoices));
    call.n = static_cast<int>(n.value_or(1));

    KILN_TRY(p.stop, get_stop_list(j, "stop"));
    KILN_TRY(auto ignore_eos, get_bool(j, "ignore_eos"));
    p.ignore_eos = ignore_eos.value_or(false);

    KILN_TRY(auto stream, get_bool(j, "stream"));
    call.stream = stream.value_or(false);
    if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) return bad("'stream_options' must be an object", "stream_options");
        KILN_TRY(auto include_usage, get_bool(*it, "include_usage"));
        call.include_usage = include_usage.value_or(false);
    }
    return {};
}

// Message content: a string, null, or an array of {type:"text", text} parts.
Result<std::string> message_content(const json & m, size_t index) {
    const std::string param = "messages[" + std::to_string(index) + "].content";
    auto it = m.find("content");
    if (it == m.end() || it->is_null()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) return bad("'" + param + "' must be a string or an array of content parts", param);
    std::string text;
    for (const auto & part : *it) {
        if (!part.is_object() || text_field(part, "type") != "text" || !part.contains("text") || !part["text"].is_string()) {
            return bad("'" + param + "' parts must be {\"type\": \"text\", \"text\": \"...\"} (this model takes text only)",
                       param);
        }
        if (!text.empty()) text += "\n";
        text += part["text"].get<std::string>();
    }
    return text;
}

// An assistant's tool_calls and reasoning_content; a tool result's
// tool_call_id and name.
Status message_tools(const json & m, const std::string & param, engine::ChatMessage & msg) {
    if (msg.role == "assistant") {
        if (auto it = m.find("reasoning_content"); it != m.end() && it->is_string()) msg.reasoning = it->get<std::string>();
        auto it = m.find("tool_calls");
        if (it == m.end() || it->is_null()) return {};
        if (!it->is_array()) return bad("'" + param + ".tool_calls' must be an array", param + ".tool_calls");
        for (size_t k = 0; k < it->size(); ++k) {
            const json &      c  = (*it)[k];
            KILN_TRY(auto call, get_tool_call(c, param + ".tool_calls[" + std::to_string(k) + "]"));
            msg.tool_calls.push_back(std::move(call));
        }
    } else if (msg.role == "tool") {
        auto id = m.find("tool_call_id");
        if (id != m.end() && !id->is_null() && !id->is_string()) {
            return bad("'" + param + ".tool_call_id' must be a string", param + ".tool_call_id");
        }
        if (id != m.end() && id->is_string()) msg.tool_call_id = id->get<std::string>();
        if (auto n = m.find("name"); n != m.end() && n->is_string()) msg.tool_name = n->get<std::string>();
    }
    return {};
}

// Tools, tool_choice, and whether a thinking model thinks: the extension
// "think", reasoning_effort ("none" turns it off), or llama-server's
// chat_template_kwargs.enable_thinking.
Status chat_options(const json & j, engine::ChatOptions & o) {
    KILN_TRY(o.tools, get_function_tools(j, "tools"));
    KILN_CHECK(get_tool_choice(j, o));
    KILN_TRY(auto think, get_bool(j, "think"));
    KILN_TRY(auto effort, get_string(j, "reasoning_effort"));
    if (effort) think = *effort != "none";
    if (auto k = j.find("chat_template_kwargs"); k != j.end() && k->is_object()) {
        KILN_TRY(auto enable, get_bool(*k, "enable_thinking"));
        if (enable) think = enable;
    }
    o.think = think;
    return {};
}

}  // namespace

Result<ChatCall> parse_chat(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    ChatCall call;
    if (Status st = parse_common(j, call); !st) return st.error();

    auto it = j.find("messages");
    if (it == j.end() || it->is_null()) return bad("'messages' is required", "messages");
    if (!it->is_array()) return bad("'messages' must be an array", "messages");
    if (it->empty()) return bad("'messages' must not be empty", "messages");
    const Status listed = for_each_message(*it, "messages", [&](const json & m, const std::string & param, size_t i) -> Status {
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) return bad("'" + param + ".role' is required", param + ".role");
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
            return bad("'" + param + ".role' must be system, developer, user, assistant or tool (got '" + r + "')",
                       param + ".role");
        }
        KILN_TRY(std::string content, message_content(m, i));
        engine::ChatMessage msg(std::move(r), std::move(content));
        KILN_CHECK(message_tools(m, param, msg));
        call.request.messages.push_back(std::move(msg));
        return {};
    });
    KILN_CHECK(listed);
    KILN_CHECK(chat_options(j, call.request.options));
    KILN_CHECK(parse_logprobs(j, call, true));
    return call;
}

Result<CompletionCall> parse_completion(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    CompletionCall call;
    if (Status st = parse_common(j, call); !st) return st.error();

    // prompt: a string, token ids, or a list of either (each its own choices).
    auto it = j.find("prompt");
    if (it == j.end() || it->is_null()) return bad("'prompt' is required", "prompt");
    auto one = [](const json & p, backend::CompletionRequest & r) -> Status {
        if (p.is_string()) {
            r.prompt = p.get<std::string>();
            if (r.prompt.empty()) return bad("'prompt' must not be empty", "prompt");
            return {};
        }
        if (p.is_array() && !p.empty() && std::all_of(p.begin(), p.end(), [](const json & t) { return t.is_number_integer(); })) {
            for (const auto & t : p) r.tokens.push_back(t.get<int32_t>());
            return {};
        }
        return bad("'prompt' must be a string, a list of token ids, or a list of those", "prompt");
    };
    std::vector<backend::CompletionRequest> prompts;
    const bool list = it->is_array() && !it->empty() && ((*it)[0].is_string() || (*it)[0].is_array());
    if (list) {
        for (const auto & p : *it) {
            prompts.push_back(call.request);
            KILN_CHECK(one(p, prompts.back()));
        }
    } else {
        prompts.push_back(call.request);
        KILN_CHECK(one(*it, prompts.back()));
    }
    if (prompts.size() * static_cast<size_t>(call.n) > static_cast<size_t>(4 * kMaxChoices)) {
        return bad("'prompt' and 'n' ask for " + std::to_string(prompts.size() * static_cast<size_t>(call.n)) +
                       " answers; the limit is " + std::to_string(4 * kMaxChoices),
                   "prompt");
    }
    KILN_TRY(auto echo, get_bool(j, "echo"));
    call.echo = echo.value_or(false);
    KILN_TRY(auto suffix, get_string(j, "suffix"));
    for (auto & p : prompts) p.suffix = suffix.value_or("");
    if (suffix && !suffix->empty() && std::any_of(prompts.begin(), prompts.end(), [](const auto & p) { return !p.tokens.empty(); })) {
        return bad("'suffix' goes with a text prompt, not token ids", "suffix");
    }
    KILN_CHECK(parse_logprobs(j, call, false));
    for (auto & p : prompts) p.params.sampling.n_probs = call.request.params.sampling.n_probs;
    call.request = std::move(prompts.front());
    call.more_prompts.assign(std::make_move_iterator(prompts.begin() + 1), std::make_move_iterator(prompts.end()));
    return call;
}

Result<EmbedCall> parse_embeddings(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    EmbedCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    call.request.model = model.value_or("");
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    auto it = j.find("input");
    if (it == j.end() || it->is_null()) return bad("'input' is required", "input");
    if (it->is_string()) {
        call.request.inputs.push_back(it->get<std::string>());
    } else if (it->is_array() && !it->empty()) {
        for (const auto & v : *it) {
            if (!v.is_string()) return bad("'input' must be a string or an array of strings", "input");
            call.request.inputs.push_back(v.get<std::string>());
        }
    } else {
        return bad("'input' must be a string or a non-empty array of strings", "input");
    }
    if (call.request.inputs.size() > 2048) return bad("'input' holds more than 2048 items", "input");
    KILN_TRY(auto format, get_string(j, "encoding_format"));
    if (format && *format != "float" && *format != "base64") {
        return bad("'encoding_format' must be float or base64", "encoding_format");
    }
    call.base64 = format && *format == "base64";
    KILN_TRY(auto normalize, get_bool(j, "normalize"));
    call.request.normalize = normalize.value_or(true);
    return call;
}

}  // namespace kiln::api::openai
