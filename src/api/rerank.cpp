#include "api/rerank.h"

#include <algorithm>
#include <numeric>

#include "api/json_fields.h"

namespace kiln::api::rerank {

Result<RerankCall> parse(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    RerankCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    call.request.model = model.value_or("");
    KILN_TRY(auto query, get_string(j, "query"));
    if (!query || query->empty()) return make_error(ErrorCode::invalid_request, "'query' is required", "query");
    call.request.query = *query;
    auto docs = j.find("documents");
    if (docs == j.end() || !docs->is_array() || docs->empty()) {
        return make_error(ErrorCode::invalid_request, "'documents' must be a non-empty array", "documents");
    }
    for (const auto & d : *docs) {
        // A string, or {"text": "..."} as some clients send.
        if (d.is_string()) {
            call.request.documents.push_back(d.get<std::string>());
        } else if (d.is_object() && d.contains("text") && d["text"].is_string()) {
            call.request.documents.push_back(d["text"].get<std::string>());
        } else {
            return make_error(ErrorCode::invalid_request, "'documents' items must be strings", "documents");
        }
    }
    KILN_TRY(auto top_n, get_int(j, "top_n", 1, 1 << 20));
    if (top_n) call.top_n = static_cast<int32_t>(*top_n);
    KILN_TRY(auto return_documents, get_bool(j, "return_documents"));
    call.return_documents = return_documents.value_or(false);
    return call;
}

std::string response(const RerankCall & call, const std::string & model, const std::vector<float> & scores,
                     int32_t prompt_tokens) {
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    if (call.top_n && static_cast<size_t>(*call.top_n) < order.size()) order.resize(*call.top_n);
    json results = json::array();
    for (size_t i : order) {
        json r = {{"index", i}, {"relevance_score", scores[i]}};
        if (call.return_documents) r["document"] = {{"text", call.request.documents[i]}};
        results.push_back(std::move(r));
    }
    return json{{"object", "list"},
                {"model", model},
                {"results", std::move(results)},
                {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kiln::api::rerank
