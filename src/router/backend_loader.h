// The router's Loader: each spec estimated and loaded as its backend kind
// says (router/backend_kinds.h).
#pragma once

#include <atomic>

#include "router/model_spec.h"
#include "router/router.h"

namespace kiln::router {

class BackendLoader final : public Loader {
  public:
    // `chat_codec`: how process and remote backends put typed chats to their
    // runners (api::openai::chat_codec(); the router cannot reach api/).
    explicit BackendLoader(std::shared_ptr<const backend::ChatCodec> chat_codec = nullptr)
        : chat_codec_(std::move(chat_codec)) {}
    // Memory of a llama model as llama.cpp measures it; of a process or
    // remote backend what its preset declares (`memory`), else for a
    // process serving a GGUF what llama.cpp would take for it, else nothing.
    // Errors: an unknown backend (load).
    Result<Footprint>                         estimate(const ModelSpec & spec, int32_t n_ctx) override;
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t n_ctx) override;
    void                                      cancel_loads() override { cancelled_.store(true); }

  private:
    std::atomic<bool>                        cancelled_{false};
    std::shared_ptr<const backend::ChatCodec> chat_codec_;
};

}  // namespace kiln::router
