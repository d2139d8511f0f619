// The load generator behind `kiln bench`: drives any OpenAI-compatible
// server's streamed /v1/chat/completions with N concurrent clients and
// measures what users feel (time to first token, inter-token latency) and
// what the server delivers (output tokens/s, requests/s).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cli::bench {

struct Scenario {
    std::string url = "http://127.0.0.1:11434";  // base URL, without /v1
    std::string model;                           // "model" field; empty: omitted
    std::string api_key;
    int32_t     concurrency   = 1;
    int32_t     requests      = 0;    // per level; 0: 4 x concurrency
    int32_t     prompt_tokens = 200;  // approximate (one word ~ one token)
    int32_t     gen_tokens    = 128;  // max_tokens, EOS ignored where the server allows
    int32_t     shared_prefix = 0;    // tokens every prompt starts with
    // Multi-turn: `users` conversations of `turns` turns each, all starting
    // with a shared system prompt of `shared_prefix` tokens; each turn sends
    // the whole history plus a new user message of prompt_tokens.
    bool        multi_turn = false;
    int32_t     users      = 8;
    int32_t     turns      = 6;
    std::string salt;                 // makes prompts differ from any earlier run
};

struct Percentiles {
    double p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

struct LevelResult {
    int32_t     concurrency   = 0;
    int32_t     requests      = 0;
    int32_t     failed        = 0;
    double      seconds       = 0;
    int64_t     output_tokens = 0;
    int64_t     prompt_tokens = 0;  // as the server counted them (usage)
    int64_t     cached_tokens = 0;
    Percentiles ttft_ms;
    Percentiles itl_ms;
    double      output_tps    = 0;
    double      requests_ps   = 0;
    double      client_cpu    = 0;  // the load generator's own CPU, in cores
    std::string first_error;
};

LevelResult run(const Scenario & scenario);

}  // namespace kiln::cli::bench
