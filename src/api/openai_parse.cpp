// Request parsing for the OpenAI adapter: JSON in, native types out.
#include <limits>

#include "api/json_fields.h"
#include "api/models_api.h"
#include "api/openai.h"

namespace kiln::api::openai {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

Error bad(const std::string & msg, const std::string & param) {
    return make_error(ErrorCode::invalid_request, msg, param);
}

// Fields chat and completions share: sampling, limits, stop, streaming.
template <typename Call>
Status parse_common(const json & j, Call & call) {
    backend::GenerateParams & p = call.request.params;
    engine::SamplingParams & s = p.sampling;

    KILN_TRY(auto model, get_string(j, "model"));
    call.request.model = model.value_or("");
    KILN_TRY(call.keep_alive, get_keep_alive(j));

    KILN_TRY(auto temperature, get_number(j, "temperature", 0, 2));
    if (temperature) {
        s.temperature = static_cast<float>(*temperature);
        s.set |= engine::SamplingParams::temperature_set;
    }
    KILN_TRY(auto top_p, get_number(j, "top_p", 0, 1));
    if (top_p) {
        s.top_p = static_cast<float>(*top_p);
        s.set |= engine::SamplingParams::top_p_set;
    }
    KILN_TRY(auto top_k, get_int(j, "top_k", 0, kMaxInt));
    if (top_k) {
        s.top_k = static_cast<int32_t>(*top_k);
        s.set |= engine::SamplingParams::top_k_set;
    }
    KILN_TRY(auto min_p, get_number(j, "min_p", 0, 1));
    if (min_p) {
        s.min_p = static_cast<float>(*min_p);
        s.set |= engine::SamplingParams::min_p_set;
    }
    KILN_TRY(auto presence, get_number(j, "presence_penalty", -2, 2));
    if (presence) {
        s.presence_penalty = static_cast<float>(*presence);
        s.set |= engine::SamplingParams::presence_penalty_set;
    }
    KILN_TRY(auto frequency, get_number(j, "frequency_penalty", -2, 2));
    if (frequency) {
        s.frequency_penalty = static_cast<float>(*frequency);
        s.set |= engine::SamplingParams::frequency_penalty_set;
    }
    KILN_TRY(auto repeat, get_number(j, "repeat_penalty", 0, 10));
    if (repeat) {
        s.repeat_penalty = static_cast<float>(*repeat);
        s.set |= engine::SamplingParams::repeat_penalty_set;
    }
    KILN_TRY(auto repeat_last_n, get_int(j, "repeat_last_n", -1, kMaxInt));
    if (repeat_last_n) {
        s.repeat_last_n = static_cast<int32_t>(*repeat_last_n);
        s.set |= engine::SamplingParams::repeat_last_n_set;
    }
    KILN_TRY(auto seed, get_int(j, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
    if (seed) {
        s.seed = static_cast<uint32_t>(*seed);
        s.set |= engine::SamplingParams::seed_set;
    }

    KILN_TRY(auto max_tokens, get_int(j, "max_tokens", 0, kMaxInt));
    KILN_TRY(auto max_completion, get_int(j, "max_completion_tokens", 0, kMaxInt));
    if (max_completion) max_tokens = max_completion;
    if (max_tokens) p.max_tokens = static_cast<int32_t>(*max_tokens);

    KILN_TRY(auto n, get_int(j, "n", 1, 128));
    if (n && *n != 1) return bad("'n' > 1 is not supported yet", "n");

    KILN_TRY(p.stop, get_string_list(j, "stop"));
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
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
            return bad("'" + param + "' parts must be {\"type\": \"text\", \"text\": \"...\"} (this model takes text only)",
                       param);
        }
        if (!text.empty()) text += "\n";
        text += part["text"].get<std::string>();
    }
    return text;
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
    for (size_t i = 0; i < it->size(); ++i) {
        const json & m = (*it)[i];
        const std::string param = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) return bad("'" + param + "' must be an object", param);
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) return bad("'" + param + ".role' is required", param + ".role");
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
            return bad("'" + param + ".role' must be system, developer, user, assistant or tool (got '" + r + "')",
                       param + ".role");
        }
        KILN_TRY(std::string content, message_content(m, i));
        call.request.messages.push_back({std::move(r), std::move(content)});
    }
    return call;
}

Result<CompletionCall> parse_completion(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    CompletionCall call;
    if (Status st = parse_common(j, call); !st) return st.error();

    auto it = j.find("prompt");
    if (it == j.end() || it->is_null()) return bad("'prompt' is required", "prompt");
    if (it->is_string()) {
        call.request.prompt = it->get<std::string>();
    } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
        call.request.prompt = (*it)[0].get<std::string>();
    } else if (it->is_array()) {
        return bad("'prompt' as an array of several prompts is not supported yet; send one string", "prompt");
    } else {
        return bad("'prompt' must be a string", "prompt");
    }
    if (call.request.prompt.empty()) return bad("'prompt' must not be empty", "prompt");
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
