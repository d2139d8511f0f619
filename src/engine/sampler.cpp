#include "engine/sampler.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>
#include <stdexcept>

#include "core/settings.h"
#include "engine/model.h"
#include "json-schema-to-grammar.h"

namespace kiln::engine {

const std::vector<SamplingField> & sampling_fields() {
    using F = SamplingParams;
    // Names and ranges are the settings table's (core/settings.h): a request's
    // field and a preset's key are checked alike.
    auto field = [](const char * name, uint32_t bit, void (*store)(F &, double)) {
        const SettingDef * d = find_preset_setting(name);
        if (!d || !d->in(scope_request)) throw std::logic_error(std::string("no sampling setting ") + name);
        return SamplingField{d->name, d->lo, d->hi, d->type == SettingType::integer, bit, store};
    };
    static const std::vector<SamplingField> fields = {
        field("temperature", F::temperature_set, [](F & p, double v) { p.temperature = static_cast<float>(v); }),
        field("top_p", F::top_p_set, [](F & p, double v) { p.top_p = static_cast<float>(v); }),
        field("top_k", F::top_k_set, [](F & p, double v) { p.top_k = static_cast<int32_t>(v); }),
        field("min_p", F::min_p_set, [](F & p, double v) { p.min_p = static_cast<float>(v); }),
        field("repeat_penalty", F::repeat_penalty_set, [](F & p, double v) { p.repeat_penalty = static_cast<float>(v); }),
        field("repeat_last_n", F::repeat_last_n_set, [](F & p, double v) { p.repeat_last_n = static_cast<int32_t>(v); }),
        field("presence_penalty", F::presence_penalty_set, [](F & p, double v) { p.presence_penalty = static_cast<float>(v); }),
        field("frequency_penalty", F::frequency_penalty_set,
              [](F & p, double v) { p.frequency_penalty = static_cast<float>(v); }),
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

Result<std::string> json_schema_grammar(const std::string & schema) {
    try {
        return ::json_schema_to_grammar(common_json::parse(schema));
    } catch (const std::exception & e) {
        std::string why = e.what();
        if (why.size() > 300) why.resize(300);
        return make_error(ErrorCode::invalid_request, "the JSON schema cannot be used: " + why, "response_format");
    }
}

Sampler::Sampler(const Model & model, const SamplingParams & p) {
    seed_    = p.seed ? *p.seed : std::random_device{}();
    n_vocab_ = model.n_vocab();
    if (!p.grammar.empty()) {
        grammar_wanted_ = true;
        init_grammar(model, p);
    }

    llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf                    = true;
    chain_                        = llama_sampler_chain_init(cp);
    n_probs_                      = p.n_probs;

    if (!p.logit_bias.empty()) {
        std::vector<llama_logit_bias> bias;
        for (const auto & [token, b] : p.logit_bias) bias.push_back({token, b});
        llama_sampler_chain_add(chain_, llama_sampler_init_logit_bias(n_vocab_, static_cast<int32_t>(bias.size()), bias.data()));
    }

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

void Sampler::init_grammar(const Model & model, const SamplingParams & p) {
    if (p.grammar_lazy) {
        std::vector<const char *> patterns;
        for (const auto & s : p.grammar_trigger_patterns) patterns.push_back(s.c_str());
        grammar_ = llama_sampler_init_grammar_lazy_patterns(model.vocab(), p.grammar.c_str(), "root", patterns.data(),
                                                            patterns.size(), p.grammar_trigger_tokens.data(),
                                                            p.grammar_trigger_tokens.size());
        return;
    }
    grammar_ = llama_sampler_init_grammar(model.vocab(), p.grammar.c_str(), "root");
    if (!grammar_ || p.grammar_prefix.empty()) return;
    // The grammar describes the assistant's turn from its opening, which the
    // prompt already holds: walk it past those tokens. (A tokenizer may add a
    // space before the first piece; that one is not part of the text.)
    const auto tokens = model.tokenize(p.grammar_prefix, false, true);
    try {
        for (size_t i = 0; i < tokens.size(); ++i) {
            const std::string piece = model.token_to_piece(tokens[i], true);
            if (i == 0 && !piece.empty() && std::isspace(static_cast<unsigned char>(piece[0])) &&
                !std::isspace(static_cast<unsigned char>(p.grammar_prefix[0]))) {
                continue;
            }
            llama_sampler_accept(grammar_, tokens[i]);
        }
    } catch (const std::exception &) {
        llama_sampler_free(grammar_);
        grammar_ = nullptr;
    }
}

Sampler::~Sampler() {
    llama_sampler_free(chain_);
    if (grammar_) llama_sampler_free(grammar_);
}

llama_token Sampler::sample(llama_context * ctx, int32_t idx) {
    const llama_token token = pick(ctx, idx);
    if (n_probs_ >= 0) record_logprobs(llama_get_logits_ith(ctx, idx), token);
    return token;
}

// log p(t) = l(t) - max - log(sum(exp(l - max))), over the raw logits.
void Sampler::record_logprobs(const float * logits, llama_token token) {
    float max = logits[0];
    for (int32_t t = 1; t < n_vocab_; ++t) max = std::max(max, logits[t]);
    double sum = 0;
    for (int32_t t = 0; t < n_vocab_; ++t) sum += std::exp(static_cast<double>(logits[t] - max));
    const float log_z = max + static_cast<float>(std::log(sum));
    last_.chosen      = {token, logits[token] - log_z};
    last_.top.clear();
    if (n_probs_ == 0) return;
    const auto k = static_cast<size_t>(std::min(n_probs_, n_vocab_));
    scratch_.resize(static_cast<size_t>(n_vocab_));
    for (int32_t t = 0; t < n_vocab_; ++t) scratch_[static_cast<size_t>(t)] = {t, logits[t]};
    std::partial_sort(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(k), scratch_.end(),
                      [](const TokenProb & a, const TokenProb & b) { return a.logprob > b.logprob; });
    for (size_t i = 0; i < k; ++i) last_.top.push_back({scratch_[i].id, scratch_[i].logprob - log_z});
}

llama_token Sampler::pick(llama_context * ctx, int32_t idx) {
    // llama_sampler_sample also accepts the token into the chain.
    if (!grammar_) return llama_sampler_sample(chain_, ctx, idx);
    // With a grammar: mask what it does not allow, then the chain picks, and
    // both learn the token. (The chain alone sees prompt tokens, in accept.)
    const float * logits = llama_get_logits_ith(ctx, idx);
    candidates_.resize(static_cast<size_t>(n_vocab_));
    for (llama_token t = 0; t < n_vocab_; ++t) candidates_[static_cast<size_t>(t)] = {t, logits[t], 0.0f};
    llama_token_data_array cur{candidates_.data(), candidates_.size(), -1, false};
    llama_sampler_apply(grammar_, &cur);
    llama_sampler_apply(chain_, &cur);
    const llama_token token = cur.data[cur.selected].id;
    llama_sampler_accept(grammar_, token);
    llama_sampler_accept(chain_, token);
    return token;
}

void Sampler::accept(llama_token token) { llama_sampler_accept(chain_, token); }

}  // namespace kiln::engine
