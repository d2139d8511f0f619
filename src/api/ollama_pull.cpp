#include "api/ollama_pull.h"

#include <nlohmann/json.hpp>


namespace kiln::api::ollama {
using json = nlohmann::json;

Result<PullCall> parse_pull(std::string_view body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(ErrorCode::invalid_request, "the body must be a JSON object");
    }
    PullCall call;
    for (const char * key : {"model", "name"}) {
        if (j.contains(key)) {
            if (!j[key].is_string() || j[key].get<std::string>().empty()) {
                return make_error(ErrorCode::invalid_request, std::string(key) + " must be a non-empty string", key);
            }
            call.model = j[key].get<std::string>();
            break;
        }
    }
    if (call.model.empty()) return make_error(ErrorCode::invalid_request, "model is required", "model");
    if (j.contains("stream")) {
        if (!j["stream"].is_boolean()) return make_error(ErrorCode::invalid_request, "stream must be a boolean", "stream");
        call.stream = j["stream"].get<bool>();
    }
    return call;
}

std::string pull_event_line(const store::PullEvent & e) {
    using Kind = store::PullEvent::Kind;
    json j;
    switch (e.kind) {
        case Kind::manifest: j = {{"status", "pulling manifest"}}; break;
        case Kind::chose:    return {};
        case Kind::file_start:
        case Kind::file_progress:
        case Kind::up_to_date: {
            // Ollama names a layer by the first 12 hex digits of its digest.
            const std::string label = e.digest.size() > 19 ? e.digest.substr(7, 12) : e.file;
            j = {{"status", "pulling " + label}, {"digest", e.digest.empty() ? e.file : e.digest},
                 {"total", e.total}, {"completed", e.completed}};
            break;
        }
        case Kind::file_done: j = {{"status", "verifying sha256 digest"}}; break;
        case Kind::writing:   j = {{"status", "writing manifest"}}; break;
        case Kind::success:   j = {{"status", "success"}}; break;
    }
    return j.dump() + "\n";
}

std::string error_line(const Error & error) { return json{{"error", error.message}}.dump() + "\n"; }

ErrorBody error_body(const Error & e) { return {http_status(e.code), json{{"error", e.message}}.dump()}; }

}  // namespace kiln::api::ollama
