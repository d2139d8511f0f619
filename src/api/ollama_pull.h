// Ollama's POST /api/pull: the request body, and pull progress as its NDJSON
// lines. Pure functions; the route lives in server/store_routes.
#pragma once

#include <string>
#include <string_view>

#include "api/errors.h"
#include "core/result.h"
#include "store/puller.h"

namespace kiln::api::ollama {

struct PullCall {
    std::string model;   // "model" (or the older "name")
    bool        stream = true;
};
Result<PullCall> parse_pull(std::string_view body);

// One NDJSON line (with its newline) for an event; empty for events Ollama
// has no line for.
std::string pull_event_line(const store::PullEvent & event);
// {"error": "..."} with its newline.
std::string error_line(const Error & error);
// The HTTP status and {"error": "..."} body of a failed unary call.
using ErrorBody = ErrorReply;
ErrorBody error_body(const Error & error);

}  // namespace kiln::api::ollama
