// llama-server's utility routes: POST /tokenize, /detokenize,
// /apply-template and GET /props. Each takes an optional "model" (kiln's
// extension: which loaded or loadable model). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/types.h"
#include "core/result.h"

namespace kiln::api::utility {

struct TokenizeCall {
    std::string model;
    std::string content;
    bool        add_special = false;
    bool        with_pieces = false;
};
Result<TokenizeCall> parse_tokenize(std::string_view body);
// {"tokens": [ids]} or, with pieces, {"tokens": [{"id", "piece"}]}.
std::string tokenize_response(const std::vector<Token> & tokens, const std::vector<std::string> * pieces);

struct DetokenizeCall {
    std::string          model;
    std::vector<Token>   tokens;
};
Result<DetokenizeCall> parse_detokenize(std::string_view body);
std::string            detokenize_response(const std::string & content);  // {"content"}

std::string apply_template_response(const std::string & prompt);  // {"prompt"}

// {default_generation_settings: {n_ctx, params}, total_slots, model_alias, chat_template, ...}
std::string props_response(const backend::ModelInfo & model);

}  // namespace kiln::api::utility
