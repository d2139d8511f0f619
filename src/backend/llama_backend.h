// The in-process backend: one model, one llama_context, one run-loop thread
// that owns the context. Requests are validated and tokenized on the caller's
// thread, then queued; the run loop serves them one at a time in arrival
// order (continuous batching over several slots is the scheduler's job).
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "backend/types.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/model.h"

namespace kiln::backend {

struct LlamaOptions {
    std::filesystem::path model_path;
    std::string           alias;          // model id; default: file name without .gguf
    int32_t               n_ctx     = 0;  // 0: the model's trained context, capped at max_default_ctx
    int32_t               n_batch   = 512;
    int32_t               n_threads = 0;
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

  private:
    struct Job {
        std::vector<llama_token> prompt;
        engine::GenerateParams   params;
        std::shared_ptr<Channel> channel;
    };

    LlamaBackend() = default;
    Result<std::shared_ptr<Channel>> enqueue(std::vector<llama_token> prompt, engine::GenerateParams params);
    void run_loop();
    void run_job(Job & job);

    ModelInfo                             info_;
    std::unique_ptr<engine::Model>        model_;
    std::unique_ptr<engine::ChatTemplate> template_;
    std::unique_ptr<engine::Context>      context_;  // touched only by the run loop

    std::mutex              mutex_;
    std::condition_variable cv_;
    std::deque<Job>         queue_;
    std::shared_ptr<Channel> running_;
    bool                    stopping_ = false;
    std::thread             thread_;
};

}  // namespace kiln::backend
