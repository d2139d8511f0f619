#include "engine/context.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/model.h"
#include "engine/stop_matcher.h"

namespace kiln::engine {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char * finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::stop:      return "stop";
        case FinishReason::length:    return "length";
        case FinishReason::cancelled: return "cancelled";
    }
    return "stop";
}

Result<std::unique_ptr<Context>> Context::create(const Model & model, const ContextParams & params) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx                = params.n_ctx;
    cp.n_batch              = params.n_batch;
    cp.n_ubatch             = params.n_batch;
    cp.n_seq_max            = 1;
    const int32_t threads   = params.n_threads > 0 ? params.n_threads
                                                   : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
    cp.n_threads            = threads;
    cp.n_threads_batch      = threads;
    cp.no_perf              = true;
    llama_context * ctx     = llama_init_from_model(model.get(), cp);
    if (!ctx) {
        return make_error(ErrorCode::internal, "cannot create a context of " + std::to_string(params.n_ctx) +
                                                   " tokens for this model (out of memory?)");
    }
    return std::unique_ptr<Context>(new Context(model, ctx));
}

Context::Context(const Model & model, llama_context * ctx) : model_(model), ctx_(ctx) {}

Context::~Context() { llama_free(ctx_); }

uint32_t Context::n_ctx() const { return llama_n_ctx(ctx_); }

Status Context::decode(const llama_token * tokens, int32_t n) {
    const int32_t rc = llama_decode(ctx_, llama_batch_get_one(const_cast<llama_token *>(tokens), n));
    if (rc != 0) {
        cached_.clear();
        exact_ = 0;
        llama_memory_clear(llama_get_memory(ctx_), true);
        return make_error(rc == 1 ? ErrorCode::context_exceeded : ErrorCode::internal,
                          "llama_decode failed (code " + std::to_string(rc) + ")");
    }
    cached_.insert(cached_.end(), tokens, tokens + n);
    return {};
}

Result<GenerateResult> Context::generate(const std::vector<llama_token> & prompt, const GenerateParams & params,
                                         const TextSink & sink) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    GenerateResult r;
    r.n_prompt = static_cast<int32_t>(prompt.size());
    if (prompt.empty() || prompt.size() >= n_ctx()) {
        return make_error(ErrorCode::context_exceeded, "prompt of " + std::to_string(prompt.size()) +
                                                           " tokens does not fit a context of " + std::to_string(n_ctx()));
    }

    // Reuse the KV of the longest common prefix with the previous request
    // (multi-turn chats resend their history), but only whole n_batch chunks
    // that the previous request decoded exactly as a fresh run would: then the
    // reused KV is bit-for-bit what recomputing it gives, and a seeded request
    // answers the same whether or not its prefix was cached. At least one
    // prompt token is decoded so there are logits to sample from.
    const size_t n_batch = llama_n_batch(ctx_);
    size_t       common  = 0;
    while (common < exact_ && common < prompt.size() && cached_[common] == prompt[common]) ++common;
    common = std::min(common, prompt.size() - 1) / n_batch * n_batch;
    if (!llama_memory_seq_rm(llama_get_memory(ctx_), 0, static_cast<llama_pos>(common), -1)) {
        common = 0;
        llama_memory_clear(llama_get_memory(ctx_), true);
    }
    cached_.resize(common);
    r.n_cached = static_cast<int32_t>(common);

    Sampler sampler(model_, params.sampling);
    r.seed = sampler.seed();
    for (llama_token t : prompt) sampler.accept(t);

    for (size_t i = common; i < prompt.size(); i += n_batch) {
        const int32_t n = static_cast<int32_t>(std::min(n_batch, prompt.size() - i));
        if (Status s = decode(prompt.data() + i, n); !s) return s.error();
    }
    exact_      = prompt.size() / n_batch * n_batch;
    r.prompt_ms = ms_since(t0);

    const auto  t1 = clock::now();
    Detokenizer detok(model_);
    StopMatcher stops(params.stop);
    auto emit = [&](const std::string & text) { return text.empty() || sink(text); };

    r.finish = FinishReason::length;
    while (params.max_tokens < 0 || r.n_generated < params.max_tokens) {
        const llama_token tok = sampler.sample(ctx_, -1);
        if (!params.ignore_eos && model_.is_eog(tok)) {
            r.finish = FinishReason::stop;
            break;
        }
        ++r.n_generated;
        if (!emit(stops.push(detok.push(tok)))) {
            r.finish = FinishReason::cancelled;
            break;
        }
        if (stops.stopped()) {
            r.finish = FinishReason::stop;
            break;
        }
        if (cached_.size() + 1 >= n_ctx()) break;  // context full: finish "length"
        if (params.max_tokens >= 0 && r.n_generated >= params.max_tokens) break;
        if (Status s = decode(&tok, 1); !s) return s.error();
    }
    if (r.finish != FinishReason::cancelled && !stops.stopped()) {
        std::string tail = detok.flush();
        tail             = stops.push(tail) + (stops.stopped() ? "" : stops.flush());
        if (stops.stopped()) r.finish = FinishReason::stop;
        if (!emit(tail)) r.finish = FinishReason::cancelled;
    }
    r.generation_ms = ms_since(t1);
    return r;
}

}  // namespace kiln::engine
