// An error in the envelope of the API family a route belongs to, for
// answers given before any route ran (keys, Host and Origin checks):
// Ollama's {"error": "..."} under /api/ (but LM Studio's /api/v0 and
// /api/v1), Anthropic's {"type":"error","error":{type, message}} for
// /v1/messages, OpenAI's envelope everywhere else.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace kiln::api {

struct FamilyError {
    int         status = 500;
    std::string body;
};

FamilyError family_error(std::string_view path, const Error & error);

}  // namespace kiln::api
