// The OpenAI-compatible routes (/v1/...). Internal to server/.
#pragma once

#include "backend/types.h"

namespace httplib {
class Server;
}

namespace kiln::server {

void register_openai_routes(httplib::Server & http, backend::Backend & backend);

}  // namespace kiln::server
