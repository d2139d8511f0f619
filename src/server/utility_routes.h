// llama-server's utility routes over the router's models: POST /tokenize,
// /detokenize, /apply-template, GET /props. Internal to server/.
#pragma once

#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

void register_utility_routes(httplib::Server & http, router::Router & router);

}  // namespace kiln::server
