// An RAII llama_sampler chain built from sampling parameters
// (engine/sampling_params.h).
// A Sampler belongs to one generation at a time; it is not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <string>

#include "core/result.h"
#include "engine/sampling_params.h"
#include "llama.h"

namespace kiln::engine {

class Model;

struct TokenProb {
    llama_token id      = 0;
    float       logprob = 0;
};
struct TokenLogprobs {
    TokenProb              chosen;
    std::vector<TokenProb> top;  // most likely first
};

class Sampler {
  public:
    // temperature <= 0 samples greedily (after penalties). A grammar that
    // does not parse leaves valid() false.
    Sampler(const Model & model, const SamplingParams & params);
    bool valid() const { return chain_ != nullptr && (!grammar_wanted_ || grammar_ != nullptr); }
    ~Sampler();
    Sampler(const Sampler &) = delete;
    Sampler & operator=(const Sampler &) = delete;

    // Samples from the logits of output `idx` of the last decode and accepts
    // the chosen token into the penalty history.
    llama_token sample(llama_context * ctx, int32_t idx);
    // Adds prompt tokens to the penalty history without sampling.
    void        accept(llama_token token);
    // The last sampled token's log-probability and alternatives (with n_probs >= 0).
    const TokenLogprobs & last_logprobs() const { return last_; }
    uint32_t    seed() const { return seed_; }

  private:
    void        init_grammar(const Model & model, const SamplingParams & p);
    llama_token pick(llama_context * ctx, int32_t idx);
    void        record_logprobs(const float * logits, llama_token token);

    llama_sampler *                  chain_   = nullptr;
    llama_sampler *                  grammar_ = nullptr;  // kept apart: prompt tokens must not advance it
    bool                             grammar_wanted_ = false;
    uint32_t                         seed_    = 0;
    int32_t                          n_vocab_ = 0;
    int32_t                          n_probs_ = -1;
    std::vector<llama_token_data>    candidates_;
    TokenLogprobs                    last_;
    std::vector<TokenProb>           scratch_;
};

}  // namespace kiln::engine
