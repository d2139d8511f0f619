// The one way a route answers with an error: the family's envelope
// (api/errors.h), its status, and Retry-After on a 503 (a busy or loading
// model, a full queue: worth trying again in a second).
#pragma once

#include <cpp-httplib/httplib.h>

#include "api/errors.h"
#include "core/result.h"

namespace kiln::server {

void send_error(httplib::Response & res, api::Family family, const Error & error);

}  // namespace kiln::server
