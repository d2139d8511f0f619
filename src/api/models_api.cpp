#include "api/models_api.h"

#include <ctime>
#include <fmt/format.h>

#include "store/gguf_info.h"

namespace kiln::api {

Result<std::optional<router::KeepAlive>> get_keep_alive(const json & obj) {
    for (const char * name : {"keep_alive", "ttl"}) {
        auto it = obj.find(name);
        if (it == obj.end() || it->is_null()) continue;
        if (it->is_number()) return std::optional(router::keep_alive_seconds(it->get<double>()));
        if (it->is_string() && std::string_view(name) == "keep_alive") {
            KILN_TRY(auto k, router::parse_keep_alive(it->get<std::string>(), name));
            return std::optional(k);
        }
        return make_error(ErrorCode::invalid_request,
                          std::string("'") + name + "' must be " +
                              (std::string_view(name) == "ttl" ? "a number of seconds" : "a duration string or a number of seconds"),
                          name);
    }
    return std::optional<router::KeepAlive>();
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
    const auto    ns   = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    const time_t  secs = static_cast<time_t>(ns / 1'000'000'000);
    std::tm       tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1'000'000'000);
}

namespace {

json details(const backend::ModelInfo & i) {
    return {{"parent_model", ""},
            {"format", "gguf"},
            {"family", i.arch},
            {"families", json::array({i.arch})},
            {"parameter_size", i.n_params ? store::format_params(i.n_params) : ""},
            {"quantization_level", i.quant}};
}

json model_json(const router::LoadedModel & m, int busy) {
    const auto & i = m.info;
    // A model that never expires: Ollama shows a time centuries ahead.
    const std::string expires = m.expires_at ? rfc3339(*m.expires_at) : "2318-01-01T00:00:00.000000000Z";
    return json{
        {"name", m.id},
        {"model", m.id},
        {"size", m.footprint.total()},
        {"digest", ""},
        {"details", details(i)},
        {"expires_at", expires},
        {"size_vram", 0},
        {"context_length", m.footprint.n_ctx},
        {"kiln",
         {{"state", m.loading ? "loading" : "loaded"},
          {"active_requests", m.active},
          {"slots", i.slots},
          {"slots_busy", busy},
          {"flash_attention", i.flash_attn},
          {"keep_alive", router::format_keep_alive(m.keep_alive)},
          {"context", m.context_note},
          {"memory",
           {{"weights", m.footprint.weights},
            {"kv_cache", m.footprint.kv},
            {"compute", m.footprint.compute},
            {"prompt_cache", m.footprint.host_cache}}},
          {"load_ms", m.load_ms}}},
    };
}

}  // namespace

std::string tags_response(const std::vector<backend::ModelInfo> & models) {
    json list = json::array();
    for (const auto & m : models) {
        list.push_back({{"name", m.id},
                        {"model", m.id},
                        {"modified_at", rfc3339(std::chrono::system_clock::from_time_t(m.created))},
                        {"size", m.size_bytes},
                        {"digest", ""},
                        {"details", details(m)}});
    }
    return json{{"models", std::move(list)}}.dump();
}

std::string ps_response(const std::vector<router::LoadedModel> & models, const std::map<std::string, int> & busy) {
    json list = json::array();
    for (const auto & m : models) {
        auto it = busy.find(m.id);
        list.push_back(model_json(m, it == busy.end() ? 0 : it->second));
    }
    return json{{"models", std::move(list)}}.dump();
}

Result<LoadCall> parse_load(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    LoadCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return make_error(ErrorCode::invalid_request, "'model' is required", "model");
    call.model = *model;
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    KILN_TRY(auto ctx, get_int(j, "context_length", 1, 1 << 24));
    call.n_ctx = static_cast<int32_t>(ctx.value_or(0));
    return call;
}

std::string load_response(const router::LoadedModel & m) {
    return json{{"type", m.info.embedding ? "embedding" : "llm"},
                {"instance_id", m.id},
                {"load_time_seconds", m.load_ms / 1000.0},
                {"status", "loaded"},
                {"context_length", m.footprint.n_ctx}}
        .dump();
}

Result<std::string> parse_unload(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    KILN_TRY(auto id, get_string(j, "instance_id"));
    if (!id) {
        KILN_TRY(id, get_string(j, "model"));
    }
    if (!id || id->empty()) return make_error(ErrorCode::invalid_request, "'instance_id' is required", "instance_id");
    return *id;
}

std::string unload_response(const router::LoadedModel & m) { return json{{"instance_id", m.id}}.dump(); }

}  // namespace kiln::api
