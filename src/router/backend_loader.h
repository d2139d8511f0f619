// The router's Loader: the in-process llama backend, and `process` and
// `remote` backends (other OpenAI-compatible servers) by the spec's kind.
#pragma once

#include <atomic>

#include "router/model_spec.h"
#include "router/router.h"

namespace kiln::router {

class BackendLoader final : public Loader {
  public:
    // Memory of a llama model as llama.cpp measures it; of a process or
    // remote backend what its preset declares (`memory`), else for a
    // process serving a GGUF what llama.cpp would take for it, else nothing.
    Result<Footprint>                         estimate(const ModelSpec & spec, int32_t n_ctx) override;
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t n_ctx) override;
    void                                      cancel_loads() override { cancelled_.store(true); }

  private:
    std::atomic<bool> cancelled_{false};
};

}  // namespace kiln::router
