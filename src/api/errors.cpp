#include "api/errors.h"

#include <nlohmann/json.hpp>

#include "api/ollama_pull.h"
#include "api/openai.h"

namespace kiln::api {

FamilyError family_error(std::string_view path, const Error & e) {
    const bool lmstudio = path.rfind("/api/v0/", 0) == 0 || path.rfind("/api/v1/", 0) == 0;
    if (path.rfind("/api/", 0) == 0 && !lmstudio) {
        auto b = ollama::error_body(e);
        return {b.status, b.body};
    }
    auto r = openai::error_response(e);
    if (path.rfind("/v1/messages", 0) == 0) {
        const char * type = r.status == 401   ? "authentication_error"
                            : r.status == 403 ? "permission_error"
                            : r.status == 404 ? "not_found_error"
                            : r.status == 429 ? "rate_limit_error"
                            : r.status < 500  ? "invalid_request_error"
                                              : "api_error";
        return {r.status, nlohmann::json{{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}}.dump()};
    }
    return {r.status, r.body};
}

}  // namespace kiln::api
