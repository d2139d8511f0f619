// The in-process backend: one model, one llama_context and one run-loop
// thread that owns it: the scheduler for generation models (continuous
// batching over a unified KV pool), the EmbedRunner for embedding models. Requests are validated, templated and tokenized on the caller's
// thread (so errors come back as statuses before any stream starts), then
// handed to the scheduler.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "backend/embed_runner.h"
#include "backend/llama_engine.h"
#include "backend/types.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/memory.h"
#include "engine/model.h"
#include "scheduler/scheduler.h"

namespace kiln::backend {

struct LlamaOptions {
    std::filesystem::path model_path;
    const std::atomic<bool> * cancel = nullptr;  // set: a load in progress stops (shutdown)
    std::string           alias;          // model id; default: file name without .gguf
    int32_t               n_ctx     = 0;  // KV pool; 0: the model's trained context, capped at max_default_ctx
    int32_t               n_ctx_seq = 0;  // one request's context; 0: the whole pool
    int32_t               n_batch   = 512;
    int32_t               n_threads = 0;
    int32_t               slots     = 4;  // concurrent requests
    int32_t               max_queue = 64;
    engine::ContextParams::FlashAttn flash_attn = engine::ContextParams::FlashAttn::auto_;
    ggml_type             kv_type = GGML_TYPE_F16;
    int64_t               cache_ram_mib = -1;  // host memory for cached prompts; -1: a quarter of RAM, at most 8 GiB
    std::string           chat_template;  // override; empty: the model's
    int32_t               template_timeout = 60;  // seconds the template's renders of one request may take
    engine::SamplingParams sampling;      // defaults for what a request leaves out (its `set` fields)
    // A preset's defaults for requests (a Modelfile's SYSTEM, MESSAGE,
    // PARAMETER stop and num_predict): the system prompt when a chat has
    // none, turns put before every chat's, stop strings and a token limit
    // when a request gives none.
    std::string                      system;
    std::vector<engine::ChatMessage> messages;
    std::vector<std::string>         stop;
    int32_t                          max_tokens = -1;
    static constexpr int32_t max_default_ctx = 32768;
};

// The host prompt cache when cache_ram_mib is -1: a quarter of physical
// memory, at most 8 GiB (llama-server's --cache-ram default).
uint64_t default_host_cache_bytes();

// The memory a backend of these options would take, from the GGUF header
// alone; host_cache is the cap of its host prompt cache.
struct LlamaFootprint {
    engine::MemoryEstimate memory;
    uint64_t               host_cache = 0;
    int32_t                n_ctx      = 0;  // the KV pool it would have
    bool                   embedding  = false;
};

class LlamaBackend final : public Backend {
  public:
    // Loads the model and starts the run loop (with start_now; else start() does).
    static Result<std::unique_ptr<LlamaBackend>> create(const LlamaOptions & options, bool start_now = true);
    void start() override;
    // What create(options) would allocate, without loading weights. Any thread.
    static Result<LlamaFootprint> estimate(const LlamaOptions & options);
    ~LlamaBackend() override;

    const ModelInfo & info() const override { return info_; }
    Result<std::shared_ptr<Channel>> submit(ChatRequest request) override;
    Result<std::shared_ptr<Channel>> submit(CompletionRequest request) override;
    Result<std::shared_ptr<Channel>> submit(EmbedRequest request) override;
    Result<std::shared_ptr<Channel>> submit(RerankRequest request) override;
    Result<int32_t>                  count_tokens(const ChatRequest & request) override;
    Result<std::vector<int32_t>>     tokenize(const std::string & text, bool add_special) override;
    Result<std::string>              detokenize(const std::vector<int32_t> & tokens) override;
    Result<std::string>              apply_template(const ChatRequest & request) override;
    void shutdown() override;
    scheduler::Snapshot        snapshot() const override { return scheduler_ ? scheduler_->snapshot() : scheduler::Snapshot{}; }
    const scheduler::Metrics * metrics() const override { return scheduler_ ? &scheduler_->metrics() : nullptr; }

  private:
    static constexpr int32_t kEmbedSeqs = 16;  // inputs per embedding batch

    LlamaBackend() = default;
    Status start_generation(const LlamaOptions & o, int32_t n_train);
    Status start_embedding(const LlamaOptions & o, int32_t n_train);
    Error  wrong_kind() const;
    // Longest input an embedding model takes: one whole micro-batch, within its training.
    int32_t embed_limit() const;
    // Tokenizes for the embedding context; an error names input[i] if too long.
    Result<std::vector<llama_token>> embed_tokens(const std::string & text, size_t index, const char * field) const;
    // `user_stops`: how many of params.stop the request gave (the rest come
    // from the chat template and end a turn like EOS).
    // How a chat's answer is read (thinking, tool calls), when it is more
    // than text.
    struct AnswerFormat {
        std::shared_ptr<const engine::ChatFormat> format;
        std::vector<llama_token>                  shown;  // control tokens its parser must see
    };
    Result<std::shared_ptr<Channel>> enqueue(std::vector<llama_token> prompt, GenerateParams params, size_t user_stops,
                                             AnswerFormat answer = {});
    // The chat through its template: the preset's turns first, the
    // request's own template or the model's.
    Result<engine::RenderedChat> render(const ChatRequest & request) const;
    // The chat's prompt tokens; `rendered` gets the rest of the rendering.
    Result<std::vector<llama_token>> chat_tokens(const ChatRequest & request, engine::RenderedChat * rendered) const;

    ModelInfo                             info_;
    engine::SamplingParams                sampling_defaults_;
    std::chrono::seconds                  template_timeout_{60};
    struct PresetDefaults {
        std::string                      system;
        std::vector<engine::ChatMessage> messages;
        std::vector<std::string>         stop;
        int32_t                          max_tokens = -1;
    } preset_;
    Status check_tokens(const std::vector<int32_t> & tokens, const char * field) const;
    Result<std::vector<llama_token>> after_context(const std::vector<int32_t> & context, std::vector<llama_token> prompt) const;
    // The preset's system prompt (when the chat has none) and turns, first.
    void with_preset_turns(std::vector<engine::ChatMessage> & messages) const;
    std::unique_ptr<engine::Model>        model_;
    std::unique_ptr<engine::ChatTemplate> template_;
    // The template a request renders with: its own (made once, the last few
    // kept), else the model's.
    // Shared: the cache may let it go while a request still renders with it.
    Result<std::shared_ptr<const engine::ChatTemplate>> template_for(const ChatRequest & request) const;
    mutable std::mutex                                                               request_templates_mutex_;
    mutable std::vector<std::pair<std::string, std::shared_ptr<const engine::ChatTemplate>>> request_templates_;
    std::unique_ptr<engine::Context>      context_;  // touched only by the run loop
    std::unique_ptr<LlamaEngine>          engine_;
    std::unique_ptr<scheduler::Scheduler> scheduler_;  // generation models
    std::unique_ptr<EmbedRunner>          embedder_;   // embedding models
    std::thread                           thread_;
};

}  // namespace kiln::backend
