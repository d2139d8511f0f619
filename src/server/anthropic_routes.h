// Anthropic's routes: POST /v1/messages and /v1/messages/count_tokens.
// Internal to server/.
#pragma once

#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

void register_anthropic_routes(httplib::Server & http, router::Router & router);

}  // namespace kiln::server
