// Errors as HTTP answers: the one ErrorCode -> status map, and each API
// family's envelope around the message: Ollama's {"error": "..."} under
// /api/ (but LM Studio's /api/v0 and /api/v1), Anthropic's
// {"type":"error","error":{type, message}} for /v1/messages, OpenAI's
// {"error":{message, type, param, code}} everywhere else.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace kiln::api {

// An error as an HTTP answer: its status and the body in a family's envelope.
struct ErrorReply {
    int         status = 500;
    std::string body;
};

// The status every family gives a code (cancelled: 499, as nginx and Ollama).
int http_status(ErrorCode code);

// LM Studio speaks OpenAI's envelope.
enum class Family { openai, ollama, anthropic };
// The family of a request path.
Family family_of(std::string_view path);

ErrorReply error_reply(Family family, const Error & error);
// error_reply(family_of(path), error): for answers given before any route
// ran (keys, Host and Origin checks).
ErrorReply family_error(std::string_view path, const Error & error);

}  // namespace kiln::api
