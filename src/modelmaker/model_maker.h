// Writes deterministic GGUF test models: random weights of a given shape and
// seed, with a real tokenizer copied from one of llama.cpp's vocab files.
// Same spec, same bytes. Used by tests, benchmarks and `make serve`'s demo.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace kiln::modelmaker {

struct ModelSpec {
    std::string arch  = "llama";      // llama | bert
    std::string vocab = "llama-spm";  // a name (models/ggml-vocab-<name>.gguf) or a .gguf path
    int32_t     n_embd    = 64;
    int32_t     n_layer   = 2;
    int32_t     n_head    = 4;
    int32_t     n_head_kv = 0;        // 0: same as n_head
    int32_t     n_ff      = 0;        // 0: 4 * n_embd (bert) or ~8/3 * n_embd rounded to 32 (llama)
    int32_t     n_ctx     = 2048;     // trained context length
    uint64_t    seed      = 1;
    std::string type      = "f16";    // f32 | f16 | q8_0 | q4_0
    // nullopt: ChatML for llama, none for bert. "" : no template.
    std::optional<std::string> chat_template;
    std::string name;                 // general.name; default derived from the spec
    bool        reranker = false;     // bert only: a classification head and rank pooling
};

// The vocab names kiln knows to work; any ggml-vocab-*.gguf file also works.
const std::vector<std::string> & known_vocabs();

// The ChatML template written by default.
const std::string & chatml_template();

// Checks the shape and fills the defaults (n_head_kv, n_ff, name).
Result<ModelSpec> normalize(ModelSpec spec);

// Resolves spec.vocab against `vocab_dir` (llama.cpp's models/ folder).
Result<std::filesystem::path> resolve_vocab(const std::string & vocab, const std::filesystem::path & vocab_dir);

// Writes the model to `out` atomically (a temporary beside it, renamed when
// complete). `threads` is used for quantization only (the output does not
// depend on it).
Status make_model(const ModelSpec & spec, const std::filesystem::path & vocab_dir, const std::filesystem::path & out,
                  int threads = 0);

// llama.cpp's models/ folder this binary was built with ($KILN_VOCAB_DIR overrides).
std::filesystem::path default_vocab_dir();

}  // namespace kiln::modelmaker
