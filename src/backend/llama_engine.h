// scheduler::Engine over an engine::Context: turns the scheduler's sequence
// chunks into one llama_batch and samples with each request's own chain.
// Run-loop thread only.
#pragma once

#include <vector>

#include "engine/context.h"
#include "engine/sampler.h"
#include "scheduler/engine.h"

namespace kiln::backend {

class LlamaSampling final : public scheduler::Sampling {
  public:
    LlamaSampling(const engine::Model & model, const engine::SamplingParams & params) : sampler(model, params) {}
    engine::Sampler sampler;
};

class LlamaEngine final : public scheduler::Engine {
  public:
    explicit LlamaEngine(engine::Context & ctx);

    int32_t kv_size() const override;
    int32_t max_seqs() const override;
    Result<scheduler::DecodeResult> decode(const std::vector<scheduler::SeqChunk> & chunks) override;
    scheduler::Token sample(scheduler::Sampling & sampling, int32_t output_index) override;
    void seq_rm(int32_t seq, int32_t p0, int32_t p1) override;
    void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override;
    std::vector<uint8_t> seq_spill(int32_t seq, int32_t p0) override;
    bool                 seq_fill(int32_t seq, const std::vector<uint8_t> & data) override;

  private:
    engine::Context &    ctx_;
    engine::Batch        batch_;
    std::vector<int32_t> outputs_;  // batch index of each output, in chunk order
};

}  // namespace kiln::backend
