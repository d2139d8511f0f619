#include "core/result.h"

namespace kiln {

const char * error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_request:  return "invalid_request";
        case ErrorCode::not_found:        return "not_found";
        case ErrorCode::model_not_found:  return "model_not_found";
        case ErrorCode::context_exceeded: return "context_exceeded";
        case ErrorCode::unavailable:      return "unavailable";
        case ErrorCode::cancelled:        return "cancelled";
        case ErrorCode::unauthorized:     return "unauthorized";
        case ErrorCode::forbidden:        return "forbidden";
        case ErrorCode::rate_limited:     return "rate_limited";
        case ErrorCode::io:               return "io";
        case ErrorCode::internal:         return "internal";
    }
    return "internal";
}

}  // namespace kiln
