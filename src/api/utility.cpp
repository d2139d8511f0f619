#include "api/utility.h"

#include <limits>

#include "api/json_fields.h"
#include "engine/sampler.h"

namespace kiln::api::utility {
Result<TokenizeCall> parse_tokenize(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    TokenizeCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    call.model = model.value_or("");
    KILN_TRY(auto content, get_string(j, "content"));
    if (!content) return make_error(ErrorCode::invalid_request, "'content' (the text) is required", "content");
    call.content = *content;
    KILN_TRY(auto add_special, get_bool(j, "add_special"));
    call.add_special = add_special.value_or(false);
    KILN_TRY(auto pieces, get_bool(j, "with_pieces"));
    call.with_pieces = pieces.value_or(false);
    return call;
}

std::string tokenize_response(const std::vector<int32_t> & tokens, const std::vector<std::string> * pieces) {
    json list = json::array();
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (pieces) list.push_back({{"id", tokens[i]}, {"piece", (*pieces)[i]}});
        else list.push_back(tokens[i]);
    }
    return dump({{"tokens", std::move(list)}});
}

Result<DetokenizeCall> parse_detokenize(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    DetokenizeCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    call.model = model.value_or("");
    auto it    = j.find("tokens");
    if (it == j.end() || !it->is_array()) return make_error(ErrorCode::invalid_request, "'tokens' must be a list of token ids", "tokens");
    if (it->size() > (1u << 20)) return make_error(ErrorCode::invalid_request, "'tokens' holds more than 1048576 ids", "tokens");
    for (const auto & t : *it) {
        if (!t.is_number_integer()) return make_error(ErrorCode::invalid_request, "'tokens' must be a list of token ids", "tokens");
        const int64_t v = t.get<int64_t>();
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
            return make_error(ErrorCode::invalid_request, "'tokens' holds an id out of range", "tokens");
        }
        call.tokens.push_back(static_cast<int32_t>(v));
    }
    return call;
}

std::string detokenize_response(const std::string & content) { return dump({{"content", content}}); }

std::string apply_template_response(const std::string & prompt) { return dump({{"prompt", prompt}}); }

std::string props_response(const backend::ModelInfo & m) {
    const engine::SamplingParams d;
    return dump({{"default_generation_settings",
                  {{"n_ctx", m.n_ctx_seq},
                   {"params",
                    {{"temperature", d.temperature}, {"top_k", d.top_k}, {"top_p", d.top_p}, {"min_p", d.min_p},
                     {"repeat_penalty", d.repeat_penalty}, {"repeat_last_n", d.repeat_last_n},
                     {"presence_penalty", d.presence_penalty}, {"frequency_penalty", d.frequency_penalty}}}}},
                 {"total_slots", m.slots},
                 {"model_alias", m.id},
                 {"model_path", m.file_name},
                 {"chat_template", m.chat_template},
                 {"modalities", {{"vision", false}, {"audio", false}}},
                 {"build_info", "kiln"}});
}

}  // namespace kiln::api::utility
