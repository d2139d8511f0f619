// Response formatting for the OpenAI adapter: internal results in, bytes out.
#include <cstring>
#include <random>

#include <openssl/evp.h>

#include "api/json_fields.h"
#include "api/openai.h"

namespace kiln::api::openai {
namespace {

std::string sse(const json & j) { return "data: " + dump(j) + "\n\n"; }

json base(const ResponseMeta & m, const char * object) {
    return json{{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}, {"system_fingerprint", "kiln"}};
}

json usage_json(const backend::Usage & u) {
    return json{{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

const char * finish_name(backend::FinishReason f) {
    switch (f) {
        case backend::FinishReason::length:     return "length";
        case backend::FinishReason::tool_calls: return "tool_calls";
        default:                                return "stop";
    }
}

json bytes_of(const std::string & s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(static_cast<int>(c));
    return b;
}

// Chat's form: {"content": [{token, logprob, bytes, top_logprobs: [...]}], "refusal": null}.
json chat_logprobs(const std::vector<backend::TokenLogprob> & lps) {
    json content = json::array();
    for (const auto & lp : lps) {
        json top = json::array();
        for (const auto & [token, logprob] : lp.top) {
            top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}});
        }
        content.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.token)}, {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}, {"refusal", nullptr}};
}

// Completions' (legacy) form: parallel lists, offsets into the answer text.
json completion_logprobs(const std::vector<backend::TokenLogprob> & lps) {
    json   tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
    size_t offset = 0;
    for (const auto & lp : lps) {
        tokens.push_back(lp.token);
        token_logprobs.push_back(lp.logprob);
        json alts = json::object();
        for (const auto & [token, logprob] : lp.top) alts[token] = logprob;
        top.push_back(std::move(alts));
        offsets.push_back(offset);
        offset += lp.token.size();
    }
    return {{"tokens", std::move(tokens)}, {"token_logprobs", std::move(token_logprobs)}, {"top_logprobs", std::move(top)},
            {"text_offset", std::move(offsets)}};
}

json tool_call_json(const engine::ToolCall & c) {
    return json{{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

json chat_chunk(const ResponseMeta & m, json delta, json finish) {
    json j       = base(m, "chat.completion.chunk");
    j["choices"] = json::array({json{{"index", m.index}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                                     {"finish_reason", std::move(finish)}}});
    return j;
}

json completion_chunk(const ResponseMeta & m, const std::string & text, json finish) {
    json j       = base(m, "text_completion");
    j["choices"] = json::array({json{{"index", m.index}, {"text", text}, {"logprobs", nullptr},
                                     {"finish_reason", std::move(finish)}}});
    return j;
}

}  // namespace

std::string sse_chat_role(const ResponseMeta & m) {
    return sse(chat_chunk(m, json{{"role", "assistant"}, {"content", ""}}, nullptr));
}

std::string sse_chat_delta(const ResponseMeta & m, const std::string & text) {
    return sse(chat_chunk(m, json{{"content", text}}, nullptr));
}

std::string sse_chat_event(const ResponseMeta & m, const backend::Delta & ev) {
    if (m.logprobs && !ev.logprobs.empty() && ev.tool_index < 0 && ev.reasoning.empty()) {
        json j                        = chat_chunk(m, json{{"content", ev.text}}, nullptr);
        j["choices"][0]["logprobs"] = chat_logprobs(ev.logprobs);
        return sse(j);
    }
    if (!ev.reasoning.empty()) return sse(chat_chunk(m, json{{"reasoning_content", ev.reasoning}}, nullptr));
    if (ev.tool_index >= 0) {
        json call = {{"index", ev.tool_index}};
        json fn   = json::object();
        if (!ev.tool.name.empty()) {
            call["id"]   = ev.tool.id;
            call["type"] = "function";
            fn["name"]   = ev.tool.name;
        }
        fn["arguments"]  = ev.tool.arguments;
        call["function"] = std::move(fn);
        return sse(chat_chunk(m, json{{"tool_calls", json::array({std::move(call)})}}, nullptr));
    }
    return sse_chat_delta(m, ev.text);
}

std::string sse_chat_finish(const ResponseMeta & m, backend::FinishReason finish) {
    return sse(chat_chunk(m, json::object(), finish_name(finish)));
}

std::string sse_completion_delta(const ResponseMeta & m, const std::string & text) {
    return sse(completion_chunk(m, text, nullptr));
}

std::string sse_completion_finish(const ResponseMeta & m, backend::FinishReason finish) {
    return sse(completion_chunk(m, "", finish_name(finish)));
}

std::string sse_usage(const ResponseMeta & m, const char * object, const backend::Usage & usage) {
    json j       = base(m, object);
    j["choices"] = json::array();
    j["usage"]   = usage_json(usage);
    return sse(j);
}

std::string sse_done() { return "data: [DONE]\n\n"; }

std::string sse_error(const Error & error) { return "data: " + error_response(error).body + "\n\n"; }

std::string chat_response(const ResponseMeta & m, const std::string & text, backend::FinishReason finish,
                          const backend::Usage & usage) {
    json j       = base(m, "chat.completion");
    j["choices"] = json::array({json{{"index", m.index},
                                     {"message", {{"role", "assistant"}, {"content", text}}},
                                     {"logprobs", nullptr},
                                     {"finish_reason", finish_name(finish)}}});
    j["usage"]   = usage_json(usage);
    return dump(j);
}

std::string chat_response(const ResponseMeta & m, const std::string & text, const backend::Done & done) {
    json msg = {{"role", "assistant"}, {"content", text}};
    if (!done.reasoning.empty()) msg["reasoning_content"] = done.reasoning;
    if (!done.tool_calls.empty()) {
        if (text.empty()) msg["content"] = nullptr;
        json calls = json::array();
        for (const auto & c : done.tool_calls) calls.push_back(tool_call_json(c));
        msg["tool_calls"] = std::move(calls);
    }
    json j       = base(m, "chat.completion");
    j["choices"] = json::array({json{{"index", m.index}, {"message", std::move(msg)},
                                     {"logprobs", m.logprobs ? chat_logprobs(done.logprobs) : json(nullptr)},
                                     {"finish_reason", finish_name(done.finish)}}});
    j["usage"]   = usage_json(done.usage);
    return dump(j);
}

std::string merge_choices(const std::vector<std::string> & answers, const backend::Usage & usage) {
    json out = json::parse(answers.front());
    json all = json::array();
    for (const auto & a : answers) {
        json one = json::parse(a);
        for (auto & c : one["choices"]) all.push_back(std::move(c));
    }
    out["choices"] = std::move(all);
    out["usage"]   = usage_json(usage);
    return dump(out);
}

std::string completion_response(const ResponseMeta & m, const std::string & text, const backend::Done & done) {
    json j = completion_chunk(m, text, finish_name(done.finish));
    if (m.logprobs) j["choices"][0]["logprobs"] = completion_logprobs(done.logprobs);
    j["usage"] = usage_json(done.usage);
    return dump(j);
}

std::string sse_completion_event(const ResponseMeta & m, const backend::Delta & ev) {
    json j = completion_chunk(m, ev.text, nullptr);
    if (m.logprobs && !ev.logprobs.empty()) j["choices"][0]["logprobs"] = completion_logprobs(ev.logprobs);
    return sse(j);
}

std::string completion_response(const ResponseMeta & m, const std::string & text, backend::FinishReason finish,
                                const backend::Usage & usage) {
    json j     = completion_chunk(m, text, finish_name(finish));
    j["usage"] = usage_json(usage);
    return dump(j);
}

namespace {

json model_json(const backend::ModelInfo & mi) {
    return json{{"id", mi.id},
                {"object", "model"},
                {"created", mi.created},
                {"owned_by", "kiln"},
                {"meta",
                 {{"arch", mi.arch},
                  {"n_ctx", mi.n_ctx},
                  {"n_ctx_train", mi.n_ctx_train},
                  {"n_params", mi.n_params},
                  {"size", mi.size_bytes},
                  {"loaded", mi.n_ctx > 0}}}};
}

}  // namespace

std::string models_response(const std::vector<backend::ModelInfo> & models) {
    json data = json::array();
    for (const auto & mi : models) data.push_back(model_json(mi));
    return dump(json{{"object", "list"}, {"data", std::move(data)}});
}

std::string model_object(const backend::ModelInfo & model) { return dump(model_json(model)); }

namespace {

std::string base64_floats(const std::vector<float> & v) {
    // Little-endian float32 bytes, as OpenAI sends them.
    std::vector<unsigned char> bytes(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<unsigned char>((u >> (8 * b)) & 0xFF);
    }
    // OpenSSL's encoder writes 4 characters per 3 bytes and a NUL, no newlines.
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
    const int   n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

}  // namespace

std::string embeddings_response(const std::string & model, const std::vector<std::vector<float>> & embeddings,
                                bool base64, int32_t prompt_tokens) {
    json data = json::array();
    for (size_t i = 0; i < embeddings.size(); ++i) {
        json e = base64 ? json(base64_floats(embeddings[i])) : json(embeddings[i]);
        data.push_back(json{{"object", "embedding"}, {"index", i}, {"embedding", std::move(e)}});
    }
    return dump(json{{"object", "list"},
                     {"data", std::move(data)},
                     {"model", model},
                     {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}});
}

ErrorResponse error_response(const Error & e) {
    const char * type = "server_error";
    json         code = nullptr;
    switch (e.code) {
        case ErrorCode::invalid_request:  type = "invalid_request_error"; break;
        case ErrorCode::context_exceeded: type = "invalid_request_error"; code = "context_length_exceeded"; break;
        case ErrorCode::model_not_found:  type = "not_found_error"; code = "model_not_found"; break;
        case ErrorCode::not_found:        type = "not_found_error"; break;
        case ErrorCode::unavailable:      code = "unavailable"; break;
        case ErrorCode::unauthorized:     type = "authentication_error"; code = "invalid_api_key"; break;
        case ErrorCode::forbidden:        type = "permission_error"; break;
        case ErrorCode::rate_limited:     type = "rate_limit_error"; code = "rate_limit_exceeded"; break;
        case ErrorCode::cancelled:
        case ErrorCode::io:
        case ErrorCode::internal:         break;
    }
    json param = e.param.empty() ? json(nullptr) : json(e.param);
    return {http_status(e.code), dump(json{{"error", {{"message", e.message}, {"type", type}, {"param", param}, {"code", code}}}})};
}

std::string new_id(const char * prefix) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string id = prefix;
    for (int i = 0; i < 24; ++i) id += alphabet[rng() % (sizeof alphabet - 1)];
    return id;
}

}  // namespace kiln::api::openai
