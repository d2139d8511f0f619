// Routes about loaded models: Ollama's GET /api/ps, and llama-server's
// GET /slots and GET /metrics over every loaded model (LM Studio's load and
// unload: server/lmstudio_routes.h). Internal to server/.
#pragma once

#include "router/router.h"
#include "server/connection_limits.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// `connections`: the server's connection counters, shown in /metrics.
void register_model_routes(httplib::Server & http, router::Router & router, const ConnectionStats & connections);

}  // namespace kiln::server
