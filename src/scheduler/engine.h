// What the scheduler needs from an inference engine, and nothing more: decode
// a batch of sequence chunks into one unified KV pool, sample, and move KV
// between sequence ids. The real implementation is backend/llama_engine; tests
// use a fake. Called only from the scheduler's run-loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"

namespace kiln::scheduler {

using Token = int32_t;

// Per-request sampler state, created by the engine, opaque to the scheduler.
class Sampling {
  public:
    virtual ~Sampling() = default;
};

// Tokens of one sequence in a decode step, at positions pos, pos+1, ...
struct SeqChunk {
    int32_t            seq = 0;
    int32_t            pos = 0;
    std::vector<Token> tokens;
    bool               logits = false;  // sample after the last token
};

enum class DecodeResult { ok, no_room };

class Engine {
  public:
    virtual ~Engine() = default;
    // Cells in the unified KV pool, shared by all sequences.
    virtual int32_t kv_size() const = 0;
    // Sequence ids are [0, max_seqs()).
    virtual int32_t max_seqs() const = 0;
    // Runs one batch. `no_room`: the KV pool could not take it and nothing was
    // decoded; the caller frees cells and retries. After `ok`, the chunks
    // with `logits` can be sampled with output indices 0, 1, ... in order.
    virtual Result<DecodeResult> decode(const std::vector<SeqChunk> & chunks) = 0;
    virtual Token sample(Sampling & sampling, int32_t output_index) = 0;
    // KV of `seq` at positions [p0, p1) (p1 < 0: to the end) is dropped.
    virtual void seq_rm(int32_t seq, int32_t p0, int32_t p1) = 0;
    // `dst` gets `src`'s KV at [p0, p1), sharing the cells (no copy).
    virtual void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) = 0;
    // Host copies, for cached prefixes that leave the pool: saves `seq`'s KV
    // from position p0 on (the positions before are held by other
    // sequences), then drops all of `seq` from the pool. Empty: not saved
    // (the sequence is dropped all the same).
    virtual std::vector<uint8_t> seq_spill(int32_t seq, int32_t p0) = 0;
    // `seq`, which is empty, gets back what seq_spill saved, at the same
    // positions. False: no room, and nothing changed.
    virtual bool seq_fill(int32_t seq, const std::vector<uint8_t> & data) = 0;
};

}  // namespace kiln::scheduler
