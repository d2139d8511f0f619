// RAII llama_context plus the generation loop that runs on it.
// A Context is owned by exactly one thread (the model's run loop); none of
// its methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/sampler.h"
#include "llama.h"

namespace kiln::engine {

class Model;

struct ContextParams {
    uint32_t n_ctx     = 0;    // 0: the model's trained context
    uint32_t n_batch   = 512;  // prompt tokens per llama_decode
    int32_t  n_threads = 0;    // 0: one per hardware thread
};

struct GenerateParams {
    SamplingParams           sampling;
    int32_t                  max_tokens = -1;  // -1: until EOS, a stop string or the context is full
    std::vector<std::string> stop;
    bool                     ignore_eos = false;
};

enum class FinishReason { stop, length, cancelled };
const char * finish_reason_name(FinishReason reason);

struct GenerateResult {
    FinishReason finish        = FinishReason::stop;
    int32_t      n_prompt      = 0;  // prompt tokens
    int32_t      n_cached      = 0;  // prompt tokens reused from the previous request's KV
    int32_t      n_generated   = 0;  // sampled tokens, stop strings included
    double       prompt_ms     = 0;  // prompt processing
    double       generation_ms = 0;  // first sampled token to the last
    uint32_t     seed          = 0;
};

// Receives text as it becomes final (complete UTF-8, stop strings removed).
// Returning false cancels the generation.
using TextSink = std::function<bool(const std::string & text)>;

class Context {
  public:
    static Result<std::unique_ptr<Context>> create(const Model & model, const ContextParams & params);
    ~Context();
    Context(const Context &) = delete;
    Context & operator=(const Context &) = delete;

    uint32_t        n_ctx() const;
    llama_context * get() const { return ctx_; }

    // Runs prompt processing and sampling to completion. The prompt must be
    // non-empty and shorter than n_ctx() (callers check and report it).
    Result<GenerateResult> generate(const std::vector<llama_token> & prompt, const GenerateParams & params,
                                    const TextSink & sink);

  private:
    Context(const Model & model, llama_context * ctx);
    Status decode(const llama_token * tokens, int32_t n);

    const Model &            model_;
    llama_context *          ctx_ = nullptr;
    std::vector<llama_token> cached_;     // tokens whose KV is in sequence 0
    size_t                   exact_ = 0;  // leading cached_ tokens decoded in whole prompt chunks
};

}  // namespace kiln::engine
