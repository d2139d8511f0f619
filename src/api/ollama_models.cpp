#include "api/ollama_models.h"

#include <fmt/format.h>

#include "api/json_fields.h"
#include "api/models_api.h"
#include "store/gguf_info.h"

namespace kiln::api::ollama {

Result<std::string> parse_model_name(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    for (const char * key : {"model", "name"}) {
        KILN_TRY(auto v, get_string(j, key));
        if (v && !v->empty()) return *v;
    }
    return make_error(ErrorCode::invalid_request, "'model' is required", "model");
}

Result<CopyCall> parse_copy(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    CopyCall call;
    KILN_TRY(auto src, get_string(j, "source"));
    KILN_TRY(auto dst, get_string(j, "destination"));
    if (!src || src->empty()) return make_error(ErrorCode::invalid_request, "'source' is required", "source");
    if (!dst || dst->empty()) return make_error(ErrorCode::invalid_request, "'destination' is required", "destination");
    return CopyCall{*src, *dst};
}

std::string show_response(const store::ModelEntry & e, const std::string & path) {
    const auto & i    = e.info;
    json         caps = i.capabilities;
    for (const auto & f : e.files) {
        if (f.kind == "mmproj") caps.push_back("vision");
    }
    json info = {{"general.architecture", i.architecture}, {"general.parameter_count", i.n_params}};
    if (!i.name.empty()) info["general.name"] = i.name;
    if (!i.license.empty()) info["general.license"] = i.license;
    if (i.context_length) info[i.architecture + ".context_length"] = i.context_length;
    if (i.embedding_length) info[i.architecture + ".embedding_length"] = i.embedding_length;
    if (i.block_count) info[i.architecture + ".block_count"] = i.block_count;
    return json{{"license", i.license},
                {"modelfile", fmt::format("# Modelfile for {} (kiln)\nFROM {}\n", e.name, path)},
                {"parameters", ""},
                {"template", i.chat_template},
                {"details",
                 {{"parent_model", ""},
                  {"format", "gguf"},
                  {"family", i.architecture},
                  {"families", json::array({i.architecture})},
                  {"parameter_size", store::format_params(i.n_params)},
                  {"quantization_level", i.quant}}},
                {"model_info", std::move(info)},
                {"capabilities", std::move(caps)},
                {"modified_at", rfc3339(std::chrono::system_clock::from_time_t(e.modified))}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

Status parse_embed_common(const json & j, EmbedCall & call) {
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return make_error(ErrorCode::invalid_request, "'model' is required", "model");
    call.request.model = *model;
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    call.request.normalize = !call.legacy;  // /api/embed normalizes, the legacy route does not
    if (auto o = j.find("options"); o != j.end() && o->is_object()) {
        KILN_TRY(auto num_ctx, get_int(*o, "num_ctx", 1, 1 << 24));
        call.n_ctx = static_cast<int32_t>(num_ctx.value_or(0));
    }
    return {};
}

}  // namespace

Result<EmbedCall> parse_embed(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    EmbedCall call;
    KILN_CHECK(parse_embed_common(j, call));
    auto it = j.find("input");
    if (it == j.end() || it->is_null()) return make_error(ErrorCode::invalid_request, "'input' is required", "input");
    if (it->is_string()) {
        call.request.inputs.push_back(it->get<std::string>());
    } else if (it->is_array() && !it->empty()) {
        for (const auto & v : *it) {
            if (!v.is_string()) return make_error(ErrorCode::invalid_request, "'input' must be a string or a list of strings", "input");
            call.request.inputs.push_back(v.get<std::string>());
        }
    } else {
        return make_error(ErrorCode::invalid_request, "'input' must be a string or a non-empty list of strings", "input");
    }
    if (call.request.inputs.size() > 2048) return make_error(ErrorCode::invalid_request, "'input' holds more than 2048 items", "input");
    return call;
}

Result<EmbedCall> parse_embeddings_legacy(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    EmbedCall call;
    call.legacy = true;
    KILN_CHECK(parse_embed_common(j, call));
    KILN_TRY(auto prompt, get_string(j, "prompt"));
    if (!prompt) return make_error(ErrorCode::invalid_request, "'prompt' is required", "prompt");
    call.request.inputs.push_back(*prompt);
    return call;
}

std::string embed_response(const EmbedCall & call, const std::string & model, const backend::Event & done,
                           int64_t total_ns, int64_t load_ns) {
    if (call.legacy) return json{{"embedding", done.embeddings.empty() ? json::array() : json(done.embeddings[0])}}.dump();
    return json{{"model", model},
                {"embeddings", done.embeddings},
                {"total_duration", total_ns},
                {"load_duration", load_ns},
                {"prompt_eval_count", done.usage.prompt_tokens}}
        .dump();
}

}  // namespace kiln::api::ollama
