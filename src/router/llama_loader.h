// The router's Loader for the in-process llama backend.
#pragma once

#include "router/router.h"

namespace kiln::router {

class LlamaLoader final : public Loader {
  public:
    Result<Footprint>                         estimate(const ModelSpec & spec, int32_t n_ctx) override;
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t n_ctx) override;
};

}  // namespace kiln::router
