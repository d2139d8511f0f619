#include "backend/llama_engine.h"

namespace kiln::backend {

LlamaEngine::LlamaEngine(engine::Context & ctx) : ctx_(ctx), batch_(static_cast<int32_t>(ctx.n_batch())) {}

int32_t LlamaEngine::kv_size() const { return static_cast<int32_t>(ctx_.n_ctx()); }
int32_t LlamaEngine::max_seqs() const { return static_cast<int32_t>(ctx_.n_seq_max()); }

Result<scheduler::DecodeResult> LlamaEngine::decode(const std::vector<scheduler::SeqChunk> & chunks) {
    batch_.clear();
    outputs_.clear();
    for (const auto & c : chunks) {
        const auto n = static_cast<int32_t>(c.tokens.size());
        for (int32_t i = 0; i < n; ++i) {
            const bool logits = c.logits && i == n - 1;
            if (!batch_.add(c.tokens[i], c.pos + i, c.seq, logits)) {
                return make_error(ErrorCode::internal, "decode step larger than the batch size");
            }
            if (logits) outputs_.push_back(batch_.size() - 1);
        }
    }
    auto r = ctx_.decode(batch_);
    if (!r) return r.error();
    return *r == engine::DecodeStatus::ok ? scheduler::DecodeResult::ok : scheduler::DecodeResult::no_room;
}

scheduler::Token LlamaEngine::sample(scheduler::Sampling & sampling, int32_t output_index) {
    return static_cast<LlamaSampling &>(sampling).sampler.sample(ctx_.get(), outputs_.at(output_index));
}

void LlamaEngine::seq_rm(int32_t seq, int32_t p0, int32_t p1) { ctx_.seq_rm(seq, p0, p1); }
void LlamaEngine::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) { ctx_.seq_cp(src, dst, p0, p1); }

std::vector<uint8_t> LlamaEngine::seq_spill(int32_t seq, int32_t p0) {
    // The shared positions leave `seq` first (other sequences keep them), so
    // the copy holds only what is this sequence's own.
    if (p0 > 0) ctx_.seq_rm(seq, 0, p0);
    auto data = ctx_.seq_save(seq);
    ctx_.seq_rm(seq, -1, -1);
    return data;
}

bool LlamaEngine::seq_fill(int32_t seq, const std::vector<uint8_t> & data) { return ctx_.seq_load(seq, data); }

}  // namespace kiln::backend
