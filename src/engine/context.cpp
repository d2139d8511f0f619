#include "engine/context.h"

#include <algorithm>
#include <thread>

#include "engine/model.h"
#include "ggml-backend.h"

namespace kiln::engine {

Batch::Batch(int32_t capacity) : batch_(llama_batch_init(capacity, 0, 1)), capacity_(capacity) {}

Batch::~Batch() { llama_batch_free(batch_); }

bool Batch::add(llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
    if (batch_.n_tokens >= capacity_) return false;
    const int32_t i     = batch_.n_tokens++;
    batch_.token[i]     = token;
    batch_.pos[i]       = pos;
    batch_.n_seq_id[i]  = 1;
    batch_.seq_id[i][0] = seq;
    batch_.logits[i]    = logits;
    return true;
}

Result<ContextParams::FlashAttn> parse_flash_attn(const std::string & text) {
    if (text == "auto") return ContextParams::FlashAttn::auto_;
    if (text == "on") return ContextParams::FlashAttn::on;
    if (text == "off") return ContextParams::FlashAttn::off;
    return make_error(ErrorCode::invalid_request, "flash attention must be auto, on or off, got '" + text + "'");
}

const char * flash_attn_name(ContextParams::FlashAttn mode) {
    switch (mode) {
        case ContextParams::FlashAttn::on:  return "on";
        case ContextParams::FlashAttn::off: return "off";
        default:                            return "auto";
    }
}

Result<ggml_type> parse_kv_type(const std::string & text) {
    for (ggml_type t : {GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_F32, GGML_TYPE_Q8_0, GGML_TYPE_Q5_1, GGML_TYPE_Q5_0,
                        GGML_TYPE_Q4_1, GGML_TYPE_Q4_0, GGML_TYPE_IQ4_NL}) {
        if (text == ggml_type_name(t)) return t;
    }
    return make_error(ErrorCode::invalid_request,
                      "KV cache type must be f16, bf16, f32, q8_0, q5_1, q5_0, q4_1, q4_0 or iq4_nl, got '" + text + "'");
}

namespace {

bool has_gpu() {
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        const auto type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) return true;
    }
    return false;
}

}  // namespace

ContextParams::FlashAttn resolve_flash_attn(const ContextParams & params, uint32_t n_head, bool idle_prefixes_leave) {
    if (params.flash_attn != ContextParams::FlashAttn::auto_ || params.embeddings || n_head == 0 ||
        params.n_ctx == 0 || !idle_prefixes_leave) {
        return params.flash_attn;
    }
    const bool quantized = params.kv_type != GGML_TYPE_F16 && params.kv_type != GGML_TYPE_BF16 &&
                           params.kv_type != GGML_TYPE_F32;
    const uint64_t scores = uint64_t{params.n_batch} * params.n_ctx * n_head * sizeof(float);
    if (quantized || scores > max_score_bytes || has_gpu()) return params.flash_attn;
    return ContextParams::FlashAttn::off;
}

llama_context_params llama_params(const ContextParams & params) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx                = params.n_ctx;
    cp.n_batch              = params.n_batch;
    cp.n_ubatch             = params.n_batch;
    cp.n_seq_max            = std::max(1u, params.n_seq_max);
    // One KV pool for all sequences: any request may use all of it.
    cp.kv_unified           = true;
    const int32_t threads   = params.n_threads > 0 ? params.n_threads
                                                   : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
    cp.n_threads            = threads;
    cp.n_threads_batch      = threads;
    cp.no_perf              = true;
    cp.embeddings           = params.embeddings;
    cp.type_k               = params.kv_type;
    cp.type_v               = params.kv_type;
    switch (params.flash_attn) {
        case ContextParams::FlashAttn::auto_: cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO; break;
        case ContextParams::FlashAttn::on:    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED; break;
        case ContextParams::FlashAttn::off:   cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED; break;
    }
    return cp;
}

Result<std::unique_ptr<Context>> Context::create(const Model & model, const ContextParams & params) {
    const llama_context_params cp = llama_params(params);
    llama_context * ctx     = llama_init_from_model(model.get(), cp);
    if (!ctx) {
        return make_error(ErrorCode::internal, "cannot create a context of " + std::to_string(params.n_ctx) +
                                                   " tokens for this model (out of memory?)");
    }
    return std::unique_ptr<Context>(new Context(model, ctx, cp.n_seq_max));
}

Context::Context(const Model & model, llama_context * ctx, uint32_t n_seq_max)
    : model_(model), ctx_(ctx), n_seq_max_(n_seq_max) {}

Context::~Context() { llama_free(ctx_); }

uint32_t Context::n_ctx() const { return llama_n_ctx(ctx_); }
uint32_t Context::n_batch() const { return llama_n_batch(ctx_); }

Result<DecodeStatus> Context::decode(const Batch & batch) {
    const int32_t rc = llama_decode(ctx_, batch.get());
    if (rc == 0) return DecodeStatus::ok;
    // 1: no KV slot for the batch; llama.cpp restored the cache as it was.
    if (rc == 1) return DecodeStatus::no_room;
    return make_error(ErrorCode::internal, "llama_decode failed (code " + std::to_string(rc) + ")");
}

void Context::seq_rm(llama_seq_id seq, llama_pos p0, llama_pos p1) {
    if (llama_memory_t mem = llama_get_memory(ctx_)) llama_memory_seq_rm(mem, seq, p0, p1);
}

std::vector<float> Context::pooled_embedding(llama_seq_id seq) const {
    const float * e = llama_get_embeddings_seq(ctx_, seq);
    if (!e) return {};
    // Rank pooling yields the classifier's outputs (a reranker's score), not a vector.
    const auto n = llama_pooling_type(ctx_) == LLAMA_POOLING_TYPE_RANK ? llama_model_n_cls_out(model_.get())
                                                                        : static_cast<uint32_t>(llama_model_n_embd(model_.get()));
    return std::vector<float>(e, e + n);
}

void Context::clear() {
    if (llama_memory_t mem = llama_get_memory(ctx_)) llama_memory_clear(mem, true);
}

void Context::seq_cp(llama_seq_id src, llama_seq_id dst, llama_pos p0, llama_pos p1) {
    llama_memory_seq_cp(llama_get_memory(ctx_), src, dst, p0, p1);
}

std::vector<uint8_t> Context::seq_save(llama_seq_id seq) const {
    std::vector<uint8_t> out(llama_state_seq_get_size(ctx_, seq));
    const size_t n = out.empty() ? 0 : llama_state_seq_get_data(ctx_, out.data(), out.size(), seq);
    out.resize(n);
    return out;
}

bool Context::seq_load(llama_seq_id seq, const std::vector<uint8_t> & data) {
    if (data.empty()) return false;
    if (llama_state_seq_set_data(ctx_, data.data(), data.size(), seq) == data.size()) return true;
    seq_rm(seq, -1, -1);  // a failed load may leave part of it
    return false;
}

}  // namespace kiln::engine
