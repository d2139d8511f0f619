// Who may use the server, checked before any route runs:
// - API keys: when any are set, every route but GET /health and GET /
//   needs one, as "Authorization: Bearer KEY" or "x-api-key: KEY" (compared
//   in constant time); 401 in the family's envelope otherwise.
// - DNS rebinding: on a loopback bind, a request whose Host is not a
//   loopback name (localhost, 127.x, ::1) or an allowed host gets 403.
// - Rate limits: with rate_limit set, each key (each client address when no
//   keys are set) may make that many requests a minute (a bucket refilled
//   evenly); with token_limit, use that many tokens a minute (prompt and
//   generated, charged when each answer ends; a key in debt waits until the
//   bucket refills). More get 429 with Retry-After.
// - Browsers: a request with an Origin that is not a loopback origin or an
//   allowed one gets 403; allowed ones get Access-Control-Allow-Origin (the
//   origin itself, or * when "*" is allowed, never with credentials) and
//   their preflights (OPTIONS) a 204 with the methods and headers.
// Internal to server/.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

struct AccessOptions {
    std::vector<std::string> api_keys;
    std::vector<std::string> allowed_hosts;  // Host names besides the loopback ones
    std::vector<std::string> cors_origins;   // origins besides the loopback ones; "*": any
    bool                     loopback_bind = true;  // the Host check applies only then
    int32_t                  rate_limit    = 0;     // requests per minute per key (or address); 0: none
    int32_t                  token_limit   = 0;     // tokens per minute per key (or address); 0: none
};

void install_access(httplib::Server & http, AccessOptions options);

// What charges an answer's tokens to the key (or address) of the request
// that asked for it, against token_limit (made while the request is at
// hand; called when the answer ends). No limit set: it does nothing.
std::function<void(int64_t)> token_charger(const httplib::Request & req);

// The pieces, for tests.
bool loopback_host(std::string_view host_header);  // "localhost:8080", "[::1]", "127.0.0.5"
bool origin_allowed(std::string_view origin, const AccessOptions & options);
bool key_matches(std::string_view given, const std::vector<std::string> & keys);

// Keys from a comma-separated list and from a file (one a line, '#' starts a
// comment). Errors: the file cannot be read, or it holds no key.
Result<std::vector<std::string>> load_api_keys(const std::string & list, const std::string & file);

}  // namespace kiln::server
