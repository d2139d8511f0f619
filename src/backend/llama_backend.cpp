#include "backend/llama_backend.h"

#include <algorithm>
#include <chrono>
#include <sys/stat.h>

#include "core/log.h"

namespace kiln::backend {
namespace fs = std::filesystem;

Result<std::unique_ptr<LlamaBackend>> LlamaBackend::create(const LlamaOptions & o) {
    std::unique_ptr<LlamaBackend> b(new LlamaBackend());
    const auto t0 = std::chrono::steady_clock::now();

    auto model = engine::Model::load(o.model_path);
    if (!model) return model.error();
    b->model_ = std::move(*model);

    auto tmpl = engine::ChatTemplate::create(*b->model_, o.chat_template);
    if (!tmpl) return tmpl.error();
    b->template_ = std::move(*tmpl);

    const int32_t n_train = b->model_->n_ctx_train();
    int32_t       n_ctx   = o.n_ctx > 0 ? o.n_ctx : std::min(n_train, LlamaOptions::max_default_ctx);
    if (o.n_ctx <= 0 && n_train > LlamaOptions::max_default_ctx) {
        log::info("context: {} tokens (the model is trained for {}; set --ctx-size for more)", n_ctx, n_train);
    }
    engine::ContextParams cp;
    cp.n_ctx     = static_cast<uint32_t>(n_ctx);
    cp.n_batch   = static_cast<uint32_t>(std::max(1, o.n_batch));
    cp.n_threads = o.n_threads;
    auto ctx     = engine::Context::create(*b->model_, cp);
    if (!ctx) return ctx.error();
    b->context_ = std::move(*ctx);

    ModelInfo & i = b->info_;
    i.file_name   = o.model_path.filename().string();
    i.id          = !o.alias.empty() ? o.alias : o.model_path.stem().string();
    i.arch        = b->model_->meta("general.architecture");
    i.n_ctx       = static_cast<int32_t>(b->context_->n_ctx());
    i.n_ctx_train = n_train;
    i.n_params    = b->model_->n_params();
    i.size_bytes  = b->model_->size_bytes();
    struct stat st{};
    if (::stat(o.model_path.c_str(), &st) == 0) i.created = st.st_mtime;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    log::info("loaded {} ({}, {:.1f}M params, {:.1f} MiB) in {:.0f} ms, context {} tokens", i.id, i.arch,
              static_cast<double>(i.n_params) / 1e6, static_cast<double>(i.size_bytes) / (1024.0 * 1024.0), ms, i.n_ctx);

    b->thread_ = std::thread([p = b.get()] { p->run_loop(); });
    return b;
}

LlamaBackend::~LlamaBackend() {
    shutdown();
    if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(ChatRequest request) {
    if (request.messages.empty()) {
        return make_error(ErrorCode::invalid_request, "messages must not be empty", "messages");
    }
    auto rendered = template_->apply(request.messages, true);
    if (!rendered) return rendered.error();
    for (auto & s : rendered->additional_stops) request.params.stop.push_back(std::move(s));
    // Control tokens the template wrote as text become their ids. Templates
    // that write BOS themselves would get a second one from add_special.
    auto tokens = model_->tokenize(rendered->prompt, true, true);
    const llama_token bos = llama_vocab_bos(model_->vocab());
    if (tokens.size() >= 2 && tokens[0] == bos && tokens[1] == bos) tokens.erase(tokens.begin());
    return enqueue(std::move(tokens), std::move(request.params));
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(CompletionRequest request) {
    // Raw text: special tokens in it stay text, as in llama-server's default.
    return enqueue(model_->tokenize(request.prompt, true, false), std::move(request.params));
}

Result<std::shared_ptr<Channel>> LlamaBackend::enqueue(std::vector<llama_token> prompt, engine::GenerateParams params) {
    const auto n_ctx = static_cast<size_t>(info_.n_ctx);
    if (prompt.empty()) return make_error(ErrorCode::invalid_request, "the prompt is empty", "prompt");
    if (prompt.size() >= n_ctx) {
        return make_error(ErrorCode::context_exceeded,
                          "the prompt has " + std::to_string(prompt.size()) + " tokens (n_prompt_tokens) but the context holds " +
                              std::to_string(n_ctx) + " (n_ctx); shorten it or start the server with a larger --ctx-size",
                          "messages");
    }
    auto channel = std::make_shared<Channel>();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return make_error(ErrorCode::unavailable, "the server is shutting down");
        queue_.push_back(Job{std::move(prompt), std::move(params), channel});
    }
    cv_.notify_one();
    return channel;
}

void LlamaBackend::shutdown() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto & job : queue_) {
        job.channel->push(Event::fail(make_error(ErrorCode::unavailable, "the server is shutting down")));
    }
    queue_.clear();
    if (running_) running_->cancel();
    cv_.notify_all();
}

void LlamaBackend::run_loop() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            running_ = job.channel;
        }
        if (!job.channel->cancelled()) run_job(job);
        std::lock_guard lock(mutex_);
        running_.reset();
    }
}

void LlamaBackend::run_job(Job & job) {
    Channel & ch = *job.channel;
    auto sink = [&](const std::string & text) {
        if (ch.cancelled()) return false;
        ch.push(Event::delta(text));
        return true;
    };
    auto r = context_->generate(job.prompt, job.params, sink);
    if (!r) {
        log::error("generation failed: {}", r.error().message);
        ch.push(Event::fail(r.error()));
        return;
    }
    Event done;
    done.kind                    = Event::Kind::done;
    done.finish                  = r->finish;
    done.usage.prompt_tokens     = r->n_prompt;
    done.usage.completion_tokens = r->n_generated;
    done.usage.cached_tokens     = r->n_cached;
    done.timings.prompt_ms       = r->prompt_ms;
    done.timings.generation_ms   = r->generation_ms;
    log::debug("request done: {} prompt ({} cached), {} generated, {:.1f} tok/s", r->n_prompt, r->n_cached,
               r->n_generated, r->generation_ms > 0 ? 1000.0 * r->n_generated / r->generation_ms : 0.0);
    ch.push(std::move(done));
}

}  // namespace kiln::backend
