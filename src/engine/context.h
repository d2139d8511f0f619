// RAII llama_context over a unified KV pool shared by several sequences, and
// an RAII llama_batch. A Context is owned by exactly one thread (the model's
// run loop); none of its methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "llama.h"

namespace kiln::engine {

class Model;

struct ContextParams {
    uint32_t n_ctx     = 0;    // KV cells shared by all sequences; 0: the model's trained context
    uint32_t n_batch   = 512;  // tokens per llama_decode (one micro-batch)
    uint32_t n_seq_max = 1;    // sequence ids [0, n_seq_max)
    int32_t  n_threads = 0;    // 0: one per hardware thread
    bool     embeddings = false;  // pooled embeddings instead of logits (embedding models)
    // Flash attention; auto: see resolve_flash_attn. With it, attention is
    // bit-exact wherever a sequence's cells lie in the pool (alone or batched,
    // fresh or reused); without it, sums over the pool round by cell position.
    enum class FlashAttn { auto_, on, off } flash_attn = FlashAttn::auto_;
    // KV cache element type, for K and V alike (f16; q8_0 halves the memory,
    // and quantized V needs flash attention).
    ggml_type kv_type = GGML_TYPE_F16;
};

// What auto means for a generation context of a model with n_head attention
// heads: off on a machine without a GPU when the KV pool is unquantized, idle
// cached prefixes leave the pool (the host cache is on), and the attention
// score buffer the matrix path needs (n_batch x n_ctx floats a head) stays
// within max_score_bytes; llama.cpp's choice (on wherever the device has it)
// otherwise. Measured on the CPU (docs/benchmarks.md), the matrix path
// decodes 15-70% faster (one product over every sequence's queries, where
// flash attention walks the pool cell by cell, query by query) and
// prefills 5-20% slower, more with other requests in the pool (a prompt's
// scores span every used cell). Prefixes left in the pool would slow every
// step of it; the cap keeps long contexts, where the buffer grows big and
// prompts are long, on flash attention. `on` and `off` stay as they are.
ContextParams::FlashAttn resolve_flash_attn(const ContextParams & params, uint32_t n_head, bool idle_prefixes_leave);
inline constexpr uint64_t max_score_bytes = 1ull << 30;

// The llama_context_params a Context of these parameters is created with
// (one KV pool for all sequences). Also what a memory estimate measures.
llama_context_params llama_params(const ContextParams & params);

// Tokens of several sequences for one llama_decode.
class Batch {
  public:
    explicit Batch(int32_t capacity);
    ~Batch();
    Batch(const Batch &) = delete;
    Batch & operator=(const Batch &) = delete;

    void    clear() { batch_.n_tokens = 0; }
    // Returns false when full.
    bool    add(llama_token token, llama_pos pos, llama_seq_id seq, bool logits);
    int32_t size() const { return batch_.n_tokens; }
    const llama_batch & get() const { return batch_; }

  private:
    llama_batch batch_;
    int32_t     capacity_;
};

// "auto", "on" or "off", and back.
Result<ContextParams::FlashAttn> parse_flash_attn(const std::string & text);
const char *                     flash_attn_name(ContextParams::FlashAttn mode);
// "f16", "bf16", "f32", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0" or "iq4_nl".
Result<ggml_type> parse_kv_type(const std::string & text);

enum class DecodeStatus { ok, no_room };

class Context {
  public:
    static Result<std::unique_ptr<Context>> create(const Model & model, const ContextParams & params);
    ~Context();
    Context(const Context &) = delete;
    Context & operator=(const Context &) = delete;

    uint32_t        n_ctx() const;
    uint32_t        n_batch() const;
    uint32_t        n_seq_max() const { return n_seq_max_; }
    llama_context * get() const { return ctx_; }
    const Model &   model() const { return model_; }

    // no_room: the KV pool could not take the batch; nothing changed.
    Result<DecodeStatus> decode(const Batch & batch);
    void seq_rm(llama_seq_id seq, llama_pos p0, llama_pos p1);
    void seq_cp(llama_seq_id src, llama_seq_id dst, llama_pos p0, llama_pos p1);
    // The KV of `seq` as bytes in host memory (llama_state_seq_*), and back:
    // load replaces whatever `seq` holds, at the saved positions, in any free
    // cells. Empty / false: it could not (no room; nothing changed).
    std::vector<uint8_t> seq_save(llama_seq_id seq) const;
    bool                 seq_load(llama_seq_id seq, const std::vector<uint8_t> & data);
    // Embedding contexts: the pooled embedding of `seq` after a decode
    // (empty if the model does not pool), and dropping all sequences.
    std::vector<float> pooled_embedding(llama_seq_id seq) const;
    void               clear();

  private:
    Context(const Model & model, llama_context * ctx, uint32_t n_seq_max);

    const Model &   model_;
    llama_context * ctx_ = nullptr;
    uint32_t        n_seq_max_ = 1;
};

}  // namespace kiln::engine
