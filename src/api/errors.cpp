#include "api/errors.h"

#include <nlohmann/json.hpp>

#include "api/ollama_pull.h"
#include "api/openai.h"

namespace kiln::api {

int http_status(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_request:
        case ErrorCode::context_exceeded: return 400;
        case ErrorCode::unauthorized:     return 401;
        case ErrorCode::forbidden:        return 403;
        case ErrorCode::model_not_found:
        case ErrorCode::not_found:        return 404;
        case ErrorCode::rate_limited:     return 429;
        case ErrorCode::cancelled:        return 499;
        case ErrorCode::unavailable:      return 503;
        case ErrorCode::io:
        case ErrorCode::internal:         return 500;
    }
    return 500;
}

Family family_of(std::string_view path) {
    const bool lmstudio = path.rfind("/api/v0/", 0) == 0 || path.rfind("/api/v1/", 0) == 0;
    if (path.rfind("/api/", 0) == 0 && !lmstudio) return Family::ollama;
    if (path.rfind("/v1/messages", 0) == 0) return Family::anthropic;
    return Family::openai;
}

namespace {

const char * anthropic_type(ErrorCode code) {
    switch (code) {
        case ErrorCode::unauthorized:     return "authentication_error";
        case ErrorCode::forbidden:        return "permission_error";
        case ErrorCode::model_not_found:
        case ErrorCode::not_found:        return "not_found_error";
        case ErrorCode::rate_limited:     return "rate_limit_error";
        case ErrorCode::invalid_request:
        case ErrorCode::context_exceeded:
        case ErrorCode::cancelled:        return "invalid_request_error";
        case ErrorCode::unavailable:
        case ErrorCode::io:
        case ErrorCode::internal:         return "api_error";
    }
    return "api_error";
}

}  // namespace

ErrorReply error_reply(Family family, const Error & e) {
    switch (family) {
        case Family::ollama: return ollama::error_body(e);
        case Family::anthropic:
            return {http_status(e.code),
                    nlohmann::json{{"type", "error"}, {"error", {{"type", anthropic_type(e.code)}, {"message", e.message}}}}.dump()};
        case Family::openai: break;
    }
    return openai::error_response(e);
}

ErrorReply family_error(std::string_view path, const Error & e) { return error_reply(family_of(path), e); }

}  // namespace kiln::api
