#include "api/ollama_models.h"

#include <sstream>

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

std::string show_preset_response(const PresetTable & preset, const store::ModelEntry & entry) {
    json j = json::parse(show_response(entry, entry.name));
    j["modelfile"] = "# Modelfile for " + preset.name + " (kiln)\n" + store::preset_modelfile(preset);
    std::string       params;
    std::stringstream lines(store::preset_modelfile(preset));
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("PARAMETER ", 0) == 0) params += line.substr(10) + "\n";
    }
    j["parameters"] = params;
    if (auto it = preset.values.find("system"); it != preset.values.end()) j["system"] = it->second.text();
    if (auto it = preset.values.find("chat_template"); it != preset.values.end()) j["template"] = it->second.text();
    if (auto it = preset.values.find("license"); it != preset.values.end()) j["license"] = it->second.text();
    j["details"]["parent_model"] = entry.name;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<CreateCall> parse_create(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    CreateCall call;
    KILN_TRY(call.name, parse_model_name(body));
    KILN_TRY(auto stream, get_bool(j, "stream"));
    call.stream = stream.value_or(true);
    for (const char * refused : {"quantize", "files", "adapters"}) {
        auto it = j.find(refused);
        if (it == j.end() || it->is_null() || (it->is_object() && it->empty()) || (it->is_string() && it->get<std::string>().empty())) continue;
        return make_error(ErrorCode::invalid_request,
                          std::string("'") + refused + "' is not supported: create from a pulled model's name or a GGUF path "
                                                       "(FROM), then set parameters, system, template and messages",
                          refused);
    }
    store::Modelfile & mf = call.modelfile;
    KILN_TRY(auto text, get_string(j, "modelfile"));
    if (text && !text->empty()) {
        KILN_TRY(mf, store::parse_modelfile(*text));
    }
    KILN_TRY(auto from, get_string(j, "from"));
    if (from && !from->empty()) mf.from = *from;
    if (mf.from.empty()) return make_error(ErrorCode::invalid_request, "'from' (or a modelfile with FROM) is required", "from");
    KILN_TRY(auto system, get_string(j, "system"));
    if (system) mf.system = *system;
    KILN_TRY(auto tmpl, get_string(j, "template"));
    if (tmpl) mf.chat_template = *tmpl;
    if (auto lic = j.find("license"); lic != j.end() && !lic->is_null()) {
        if (lic->is_string()) {
            mf.license = lic->get<std::string>();
        } else if (lic->is_array()) {
            for (const auto & l : *lic) {
                if (l.is_string()) mf.license += (mf.license.empty() ? "" : "\n") + l.get<std::string>();
            }
        }
    }
    if (auto params = j.find("parameters"); params != j.end() && !params->is_null()) {
        if (!params->is_object()) return make_error(ErrorCode::invalid_request, "'parameters' must be an object", "parameters");
        for (const auto & item : params->items()) {
            const std::string k = item.key();  // captured below: not a structured binding (clang 14)
            const json &      v = item.value();
            auto add = [&](const json & one) -> Status {
                if (one.is_string()) mf.parameters.emplace_back(k, one.get<std::string>());
                else if (one.is_number() || one.is_boolean()) mf.parameters.emplace_back(k, one.dump());
                else return make_error(ErrorCode::invalid_request, "'parameters." + k + "' must be a string, number or list", "parameters");
                return {};
            };
            if (v.is_array()) {
                for (const auto & one : v) KILN_CHECK(add(one));
            } else {
                KILN_CHECK(add(v));
            }
        }
    }
    if (auto msgs = j.find("messages"); msgs != j.end() && !msgs->is_null()) {
        if (!msgs->is_array()) return make_error(ErrorCode::invalid_request, "'messages' must be an array", "messages");
        for (size_t i = 0; i < msgs->size(); ++i) {
            const json & m = (*msgs)[i];
            const std::string role = text_field(m, "role");
            if ((role != "system" && role != "user" && role != "assistant") || !m.contains("content") || !m["content"].is_string()) {
                return make_error(ErrorCode::invalid_request,
                                  "'messages[" + std::to_string(i) + "]' must be {role: system | user | assistant, content}", "messages");
            }
            mf.messages.emplace_back(role, m["content"].get<std::string>());
        }
    }
    return call;
}

std::string create_response(const CreateCall & call, const std::string & from) {
    const std::vector<std::string> steps = {"using model " + from, "writing preset " + call.name, "success"};
    if (!call.stream) return json{{"status", "success"}}.dump();
    std::string out;
    for (const auto & s : steps) out += json{{"status", s}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return out;
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

std::string embed_response(const EmbedCall & call, const std::string & model, const backend::Done & done,
                           int64_t total_ns, int64_t load_ns) {
    if (call.legacy) return json{{"embedding", done.embeddings.empty() ? json::array() : json(done.embeddings[0])}}.dump();
    return json{{"model", model},
                {"embeddings", done.embeddings},
                {"total_duration", total_ns},
                {"load_duration", load_ns},
                {"prompt_eval_count", done.usage.prompt_tokens}}
        .dump();
}

// The Ollama API level kiln answers for (clients compare it against minimums).
std::string version_object() { return json{{"version", "0.12.0"}}.dump(); }

}  // namespace kiln::api::ollama
