// LM Studio's REST API: /api/v0 (the OpenAI routes, whose whole answers add
// stats, and model objects of its own) and /api/v1 (models, loading and
// unloading them, and the native stateful chat continued with
// previous_response_id, stored with the Responses API's conversations).
// Internal to server/.
#pragma once

#include "router/router.h"
#include "server/openai_routes.h"
#include "server/responses_routes.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

void register_lmstudio_routes(httplib::Server & http, router::Router & router, ModelLister list_models, ResponseStore & store);

}  // namespace kiln::server
