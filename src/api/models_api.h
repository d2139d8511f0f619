// The model-management wire formats: Ollama's GET /api/ps and its
// keep_alive field, LM Studio's POST /api/v1/models/load and /unload, and
// LM Studio's numeric "ttl". Pure functions; the routes live in
// server/model_routes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_fields.h"
#include "router/router.h"

namespace kiln::api {

// "keep_alive" (Ollama: a duration string or seconds) or "ttl" (LM Studio:
// seconds); nullopt when neither is present.
Result<std::optional<router::KeepAlive>> get_keep_alive(const json & obj);

// Ollama's {"models":[{name, model, size, digest, details, expires_at,
// size_vram, context_length}]}, plus kiln's own "kiln" object per model;
// `busy` holds each model's slots running a request (by id).
std::string ps_response(const std::vector<router::LoadedModel> & models, const std::map<std::string, int> & busy);

// Ollama's GET /api/tags: {"models":[{name, model, modified_at, size,
// digest, details}]} for every model a client may name.
std::string tags_response(const std::vector<backend::ModelInfo> & models);

// RFC 3339 in UTC with nanoseconds, as Ollama writes times.
std::string rfc3339(std::chrono::system_clock::time_point t);

struct LoadCall {
    std::string                      model;
    std::optional<router::KeepAlive> keep_alive;
    int32_t                          n_ctx = 0;  // context_length; 0: the model's own choice
};
// LM Studio's {model, ttl, context_length} (also keep_alive); "model" is required.
Result<LoadCall> parse_load(std::string_view body);
// {type, instance_id, load_time_seconds, status: "loaded"}
std::string load_response(const router::LoadedModel & model);
// LM Studio's {instance_id} (also {model}).
Result<std::string> parse_unload(std::string_view body);
std::string         unload_response(const router::LoadedModel & model);

}  // namespace kiln::api
