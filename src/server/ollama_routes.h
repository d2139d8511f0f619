// Ollama's routes that run models: GET /, /api/version, /api/tags,
// POST /api/generate and /api/chat (with Ollama's load and unload forms).
// Internal to server/.
#pragma once

#include <filesystem>

#include "router/router.h"
#include "server/openai_routes.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// `home`: KILN_HOME, whose catalog /api/show, /api/delete and /api/copy use.
void register_ollama_routes(httplib::Server & http, router::Router & router, ModelLister list_models,
                            std::filesystem::path home);

}  // namespace kiln::server
