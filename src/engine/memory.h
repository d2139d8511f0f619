// What a model and a context would take in memory, measured before loading:
// llama.cpp builds the model's tensors and the context's buffers and compute
// graph without allocating them (no_alloc) and reports their sizes. Only the
// GGUF header is read; no weights.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/result.h"
#include "engine/context.h"
#include "engine/model.h"

namespace kiln::engine {

struct MemoryEstimate {
    uint64_t weights     = 0;  // model tensors (mmap'd from the file on the CPU)
    uint64_t kv          = 0;  // the context's KV cache (and recurrent state)
    uint64_t compute     = 0;  // compute buffers for one n_batch step, logits included
    uint32_t n_ctx_train = 0;
    uint64_t total() const { return weights + kv + compute; }
};

// Any thread; calls are serialised (llama.cpp's logger is swapped during
// one). Errors: not_found (no file), invalid_request (not a model llama.cpp
// can read, or a context it cannot build).
Result<MemoryEstimate> estimate_memory(const std::filesystem::path & path, const ModelParams & model,
                                       const ContextParams & context);

}  // namespace kiln::engine
