#include "api/lmstudio.h"

#include "api/json_fields.h"
#include "store/gguf_info.h"

namespace kiln::api::lmstudio {
namespace {

std::string dump(const json & j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool loaded(const backend::ModelInfo & m) { return m.n_ctx > 0; }

// "org/repo:QUANT" -> "org"; a name without an org is "local".
std::string publisher(const std::string & id) {
    const size_t slash = id.find('/');
    return slash == std::string::npos ? "local" : id.substr(0, slash);
}

json v0(const backend::ModelInfo & m) {
    return {{"id", m.id},
            {"object", "model"},
            {"type", m.embedding ? "embeddings" : "llm"},
            {"publisher", publisher(m.id)},
            {"arch", m.arch},
            {"compatibility_type", "gguf"},
            {"quantization", m.quant},
            {"state", loaded(m) ? "loaded" : "not-loaded"},
            {"max_context_length", m.n_ctx_train},
            {"capabilities", json::array()}};
}

}  // namespace

std::string models_v0(const std::vector<backend::ModelInfo> & models) {
    json data = json::array();
    for (const auto & m : models) data.push_back(v0(m));
    return dump({{"object", "list"}, {"data", std::move(data)}});
}

std::string model_v0(const backend::ModelInfo & model) { return dump(v0(model)); }

std::string models_v1(const std::vector<backend::ModelInfo> & models) {
    json list = json::array();
    for (const auto & m : models) {
        json instances = json::array();
        if (loaded(m)) instances.push_back({{"id", m.id}, {"config", {{"context_length", m.n_ctx}}}});
        list.push_back({{"type", m.embedding ? "embedding" : "llm"},
                        {"publisher", publisher(m.id)},
                        {"key", m.id},
                        {"display_name", m.id},
                        {"architecture", m.arch},
                        {"quantization", {{"name", m.quant}}},
                        {"size_bytes", m.size_bytes},
                        {"params_string", m.n_params ? store::format_params(m.n_params) : ""},
                        {"loaded_instances", std::move(instances)},
                        {"max_context_length", m.n_ctx_train},
                        {"format", "gguf"},
                        {"capabilities", {{"vision", false}, {"trained_for_tool_use", false}}}});
    }
    return dump({{"models", std::move(list)}});
}

std::string add_v0_stats(const std::string & body, const backend::Event & done, const backend::ModelInfo & model) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return body;
    const double gen_s = done.timings.generation_ms / 1000.0;
    j["stats"]         = {{"tokens_per_second", gen_s > 0 ? done.usage.completion_tokens / gen_s : 0.0},
                          {"time_to_first_token", done.timings.prompt_ms / 1000.0},
                          {"generation_time", gen_s},
                          {"stop_reason", done.finish == backend::FinishReason::length ? "maxPredictedTokensReached"
                                          : !done.stop_sequence.empty()               ? "stopStringFound"
                                                                                      : "eosFound"}};
    j["model_info"] = {{"arch", model.arch}, {"quant", model.quant}, {"format", "gguf"}, {"context_length", model.n_ctx_seq}};
    j["runtime"]    = {{"name", "kiln-llama.cpp"}, {"version", "1"}, {"supported_formats", json::array({"gguf"})}};
    return dump(j);
}

}  // namespace kiln::api::lmstudio
