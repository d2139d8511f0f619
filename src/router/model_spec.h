// What the router loads for a name.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/llama_backend.h"
#include "backend/proxy_backend.h"
#include "core/result.h"
#include "router/keep_alive.h"

namespace kiln::router {

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
