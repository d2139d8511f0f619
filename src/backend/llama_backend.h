// The in-process backend: one model, one llama_context over a unified KV pool,
// and the scheduler that batches every request on it from one run-loop
// thread. Requests are validated, templated and tokenized on the caller's
// thread (so errors come back as statuses before any stream starts), then
// handed to the scheduler.
#pragma once

#include <filesystem>
#include <memory>
#include <thread>

#include "backend/llama_engine.h"
#include "backend/types.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/model.h"
#include "scheduler/scheduler.h"

namespace kiln::backend {

struct LlamaOptions {
    std::filesystem::path model_path;
    std::string           alias;          // model id; default: file name without .gguf
    int32_t               n_ctx     = 0;  // KV pool; 0: the model's trained context, capped at max_default_ctx
    int32_t               n_ctx_seq = 0;  // one request's context; 0: the whole pool
    int32_t               n_batch   = 512;
    int32_t               n_threads = 0;
    int32_t               slots     = 4;  // concurrent requests
    int32_t               max_queue = 64;
    std::string           chat_template;  // override; empty: the model's
    static constexpr int32_t max_default_ctx = 32768;
};

class LlamaBackend final : public Backend {
  public:
    // Loads the model and starts the run loop.
    static Result<std::unique_ptr<LlamaBackend>> create(const LlamaOptions & options);
    ~LlamaBackend() override;

    const ModelInfo & info() const override { return info_; }
    Result<std::shared_ptr<Channel>> submit(ChatRequest request) override;
    Result<std::shared_ptr<Channel>> submit(CompletionRequest request) override;
    void shutdown() override;
    scheduler::Snapshot        snapshot() const override { return scheduler_->snapshot(); }
    const scheduler::Metrics * metrics() const override { return &scheduler_->metrics(); }

  private:
    LlamaBackend() = default;
    Result<std::shared_ptr<Channel>> enqueue(std::vector<llama_token> prompt, GenerateParams params);

    ModelInfo                             info_;
    std::unique_ptr<engine::Model>        model_;
    std::unique_ptr<engine::ChatTemplate> template_;
    std::unique_ptr<engine::Context>      context_;  // touched only by the run loop
    std::unique_ptr<LlamaEngine>          engine_;
    std::unique_ptr<scheduler::Scheduler> scheduler_;
    std::thread                           thread_;
};

}  // namespace kiln::backend
