#include "engine/sampler.h"

#include <random>

#include "engine/model.h"

namespace kiln::engine {

const std::vector<SamplingField> & sampling_fields() {
    using F         = SamplingParams;
    constexpr double kMaxInt = 2147483647.0;
    static const std::vector<SamplingField> fields = {
        {"temperature", 0, 2, false, F::temperature_set, [](F & p, double v) { p.temperature = static_cast<float>(v); }},
        {"top_p", 0, 1, false, F::top_p_set, [](F & p, double v) { p.top_p = static_cast<float>(v); }},
        {"top_k", 0, kMaxInt, true, F::top_k_set, [](F & p, double v) { p.top_k = static_cast<int32_t>(v); }},
        {"min_p", 0, 1, false, F::min_p_set, [](F & p, double v) { p.min_p = static_cast<float>(v); }},
        {"repeat_penalty", 0, 10, false, F::repeat_penalty_set, [](F & p, double v) { p.repeat_penalty = static_cast<float>(v); }},
        {"repeat_last_n", -1, kMaxInt, true, F::repeat_last_n_set, [](F & p, double v) { p.repeat_last_n = static_cast<int32_t>(v); }},
        {"presence_penalty", -2, 2, false, F::presence_penalty_set,
         [](F & p, double v) { p.presence_penalty = static_cast<float>(v); }},
        {"frequency_penalty", -2, 2, false, F::frequency_penalty_set,
         [](F & p, double v) { p.frequency_penalty = static_cast<float>(v); }},
    };
    return fields;
}

void set_sampling(SamplingParams & p, const SamplingField & f, double v) {
    f.store(p, v);
    p.set |= f.bit;
}

void apply_defaults(SamplingParams & p, const SamplingParams & d) {
    const uint32_t take = d.set & ~p.set;
    using F             = SamplingParams;
    if (take & F::temperature_set) p.temperature = d.temperature;
    if (take & F::top_k_set) p.top_k = d.top_k;
    if (take & F::top_p_set) p.top_p = d.top_p;
    if (take & F::min_p_set) p.min_p = d.min_p;
    if (take & F::repeat_penalty_set) p.repeat_penalty = d.repeat_penalty;
    if (take & F::repeat_last_n_set) p.repeat_last_n = d.repeat_last_n;
    if (take & F::presence_penalty_set) p.presence_penalty = d.presence_penalty;
    if (take & F::frequency_penalty_set) p.frequency_penalty = d.frequency_penalty;
    if (take & F::seed_set) p.seed = d.seed;
    p.set |= take;
}

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
