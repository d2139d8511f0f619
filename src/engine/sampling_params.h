// What a generation's sampling asks for: the parameters requests and
// presets set, and the one table of their names and ranges. Free of
// llama.cpp's headers, so that the request types (backend/types.h) and the
// API layers above them carry them without it; engine/sampler.h builds a
// llama_sampler chain from them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/token.h"

namespace kiln::engine {

struct SamplingParams {
    // Which fields were given (by a request, or a preset's defaults): bits of Field.
    enum Field : uint32_t {
        temperature_set = 1u << 0, top_k_set = 1u << 1, top_p_set = 1u << 2, min_p_set = 1u << 3,
        repeat_penalty_set = 1u << 4, repeat_last_n_set = 1u << 5, presence_penalty_set = 1u << 6,
        frequency_penalty_set = 1u << 7, seed_set = 1u << 8,
    };
    uint32_t set = 0;

    float    temperature       = 0.8f;
    int32_t  top_k             = 40;
    float    top_p             = 0.95f;
    float    min_p             = 0.05f;
    float    repeat_penalty    = 1.0f;   // 1.0 = off
    int32_t  repeat_last_n     = 64;     // tokens the penalties look back on
    float    presence_penalty  = 0.0f;
    float    frequency_penalty = 0.0f;
    std::optional<uint32_t> seed;        // unset: a random seed per generation
    std::string             grammar;     // GBNF the output must follow (root rule "root"); empty: none
    // A lazy grammar applies only once the output matches one of these
    // regexes or samples one of these tokens (a tool call starting).
    bool                     grammar_lazy = false;
    std::vector<std::string> grammar_trigger_patterns;
    std::vector<Token>       grammar_trigger_tokens;
    // Text the template already put before the output, which the grammar
    // starts with: its tokens are fed to the grammar first.
    std::string              grammar_prefix;
    // Added to a token's logit before sampling (OpenAI's logit_bias); -100
    // bans it, +100 all but forces it.
    std::vector<std::pair<Token, float>> logit_bias;
    // >= 0: each sampled token's log-probability is kept, with this many
    // most likely alternatives (the model's distribution, before sampling).
    int32_t                  n_probs = -1;
};

// A JSON schema (serialized) as GBNF, through llama-common's converter.
// invalid_request when the schema is not one it takes.
Result<std::string> json_schema_grammar(const std::string & schema);

// The sampling fields requests and presets set, by the names every API
// uses (OpenAI's body, Ollama's options, preset keys), with their ranges:
// one table for every reader. `seed` is not here: its range is any integer.
struct SamplingField {
    const char * name;
    double       lo, hi;
    bool         integer;
    uint32_t     bit;  // SamplingParams::Field
    void (*store)(SamplingParams &, double);
};
const std::vector<SamplingField> & sampling_fields();
// Stores v (within f's range) and marks the field given.
void set_sampling(SamplingParams & params, const SamplingField & f, double v);

// Fields `defaults` gives and `params` does not take the defaults' values.
void apply_defaults(SamplingParams & params, const SamplingParams & defaults);

}  // namespace kiln::engine
