// Rerank (Jina / Cohere shape, as llama-server serves it):
// {model, query, documents, top_n} -> {results: [{index, relevance_score}]}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/types.h"
#include "core/result.h"

namespace kiln::api::rerank {

struct RerankCall {
    backend::RerankRequest request;
    std::optional<int32_t> top_n;
    bool                   return_documents = false;
};

Result<RerankCall> parse(std::string_view body);

// Results sorted by score, best first, cut to top_n.
std::string response(const RerankCall & call, const std::string & model, const std::vector<float> & scores,
                     int32_t prompt_tokens);

}  // namespace kiln::api::rerank
