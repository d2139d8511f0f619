#include "engine/sampler.h"

#include <random>

#include "engine/model.h"

namespace kiln::engine {

Sampler::Sampler(const Model & model, const SamplingParams & p) {
    seed_ = p.seed ? *p.seed : std::random_device{}();

    llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf                    = true;
    chain_                        = llama_sampler_chain_init(cp);

    const bool penalties = p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
    if (penalties && p.repeat_last_n != 0) {
        llama_sampler_chain_add(chain_, llama_sampler_init_penalties(model.n_vocab(), p.repeat_last_n, p.repeat_penalty,
                                                                     p.frequency_penalty, p.presence_penalty));
    }
    if (p.temperature <= 0.0f) {
        llama_sampler_chain_add(chain_, llama_sampler_init_greedy());
        return;
    }
    if (p.top_k > 0) llama_sampler_chain_add(chain_, llama_sampler_init_top_k(p.top_k));
    if (p.top_p < 1.0f) llama_sampler_chain_add(chain_, llama_sampler_init_top_p(p.top_p, 1));
    if (p.min_p > 0.0f) llama_sampler_chain_add(chain_, llama_sampler_init_min_p(p.min_p, 1));
    llama_sampler_chain_add(chain_, llama_sampler_init_temp(p.temperature));
    llama_sampler_chain_add(chain_, llama_sampler_init_dist(seed_));
}

Sampler::~Sampler() { llama_sampler_free(chain_); }

llama_token Sampler::sample(llama_context * ctx, int32_t idx) {
    // llama_sampler_sample also accepts the token into the chain.
    return llama_sampler_sample(chain_, ctx, idx);
}

void Sampler::accept(llama_token token) { llama_sampler_accept(chain_, token); }

}  // namespace kiln::engine
