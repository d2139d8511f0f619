// The router's Loader: each spec estimated and loaded as its backend kind
// says (router/backend_kinds.h).
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
    // Errors: an unknown backend (load).
    Result<Footprint>                         estimate(const ModelSpec & spec, int32_t n_ctx) override;
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t n_ctx) override;
    void                                      cancel_loads() override { cancelled_.store(true); }

  private:
    std::atomic<bool> cancelled_{false};
};

}  // namespace kiln::router
