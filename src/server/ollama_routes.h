// Ollama's routes that run models: GET /, /api/version, /api/tags,
// POST /api/generate and /api/chat (with Ollama's load and unload forms).
// Internal to server/.
#pragma once

#include "router/router.h"
#include "server/openai_routes.h"

namespace httplib {
class Server;
}

namespace kiln::server {

void register_ollama_routes(httplib::Server & http, router::Router & router, ModelLister list_models);

}  // namespace kiln::server
