// How long an idle model stays loaded, in the forms clients write it.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace kiln::router {

// How long a model stays loaded after its last request: a duration,
// forever (negative), or not at all (zero: unload when idle).
struct KeepAlive {
    std::chrono::milliseconds duration{0};
    static KeepAlive minutes(int m) { return {std::chrono::minutes(m)}; }
    static KeepAlive forever() { return {std::chrono::milliseconds(-1)}; }
    bool is_forever() const { return duration.count() < 0; }
};

// Ollama's forms: a duration string ("5m", "1h30m", "90s", "500ms", "-1m"),
// a number of seconds ("300", "2.5"), "0" (unload when idle) or any negative
// (forever). invalid_request names `param` otherwise.
Result<KeepAlive> parse_keep_alive(const std::string & text, const std::string & param = "keep_alive");
// Seconds as a number (Ollama's and LM Studio's numeric "ttl"): negative is forever.
KeepAlive keep_alive_seconds(double seconds);
// "5m0s", "forever", "0s".
std::string format_keep_alive(KeepAlive k);

}  // namespace kiln::router
