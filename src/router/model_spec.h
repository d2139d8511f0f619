// What the router loads for a name, and how long an idle model stays.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/llama_backend.h"
#include "backend/proxy_backend.h"
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

struct ModelSpec {
    std::string              id;       // the name clients see and the router keys by
    std::vector<std::string> aliases;  // other names that reach it without the resolver
    std::string              backend = "llama";  // "llama", "process" or "remote"
    backend::LlamaOptions    llama;    // model_path, slots, ...; n_ctx 0: automatic
    backend::ProxyOptions    proxy;    // process and remote: command or url, health, ...
    int64_t                  memory_mib = 0;   // process and remote: what the preset says it takes
    int32_t                  n_ctx_train = 0;  // from the GGUF header (0: unknown)
    std::optional<KeepAlive> keep_alive;       // a preset's default
};

}  // namespace kiln::router
