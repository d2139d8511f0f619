// The OpenAI-compatible routes (/v1/...). Internal to server/.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "backend/types.h"
#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// Every model a client may name, loaded or not (for /v1/models).
using ModelLister = std::function<std::vector<backend::ModelInfo>()>;

// The listed model a client's `name` reaches (any case; "name:latest" is
// "name"), so every info route answers every listed name; nullopt if none.
std::optional<backend::ModelInfo> find_listed(const std::vector<backend::ModelInfo> & models, std::string_view name);

// Each request leases its model from the router for as long as its response
// runs, so the model is not unloaded under it.
void register_openai_routes(httplib::Server & http, router::Router & router, ModelLister list_models);

// A route's handler (httplib::Server::Handler).
using Handler = std::function<void(const httplib::Request &, httplib::Response &)>;

// The OpenAI chat, completion and embedding handlers, which LM Studio's
// /api/v0 routes share. `lmstudio`: whole answers add LM Studio's stats.
Handler chat_completions_handler(router::Router & router, bool lmstudio);
Handler completions_handler(router::Router & router, bool lmstudio);
Handler embeddings_handler(router::Router & router);

// The error envelope and status of the OpenAI adapter (503 with Retry-After).
void send_openai_error(httplib::Response & res, const Error & e);

}  // namespace kiln::server
