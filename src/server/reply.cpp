#include "server/reply.h"

namespace kiln::server {

void send_error(httplib::Response & res, api::Family family, const Error & error) {
    auto r     = api::error_reply(family, error);
    res.status = r.status;
    if (r.status == 503 && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
    res.set_content(r.body, "application/json");
}

}  // namespace kiln::server
