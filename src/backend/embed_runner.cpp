#include "backend/embed_runner.h"

#include <cmath>

namespace kiln::backend {

EmbedRunner::EmbedRunner(engine::Context & ctx, int32_t max_seqs)
    : ctx_(ctx), batch_(static_cast<int32_t>(ctx.n_batch())), max_seqs_(max_seqs) {}

void EmbedRunner::submit(std::vector<std::vector<llama_token>> inputs, bool normalize, std::shared_ptr<Channel> channel,
                         bool scores) {
    auto work       = std::make_shared<Work>();
    work->remaining = inputs.size();
    work->results.resize(inputs.size());
    for (const auto & in : inputs) work->n_tokens += static_cast<int32_t>(in.size());
    work->inputs    = std::move(inputs);
    work->normalize = normalize;
    work->scores    = scores;
    work->channel   = std::move(channel);
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            work->channel->push(Event::fail(make_error(ErrorCode::unavailable, "the server is shutting down")));
            return;
        }
        for (size_t i = 0; i < work->inputs.size(); ++i) queue_.push_back({work, i});
    }
    cv_.notify_one();
}

void EmbedRunner::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
}

void EmbedRunner::run() {
    const auto capacity = static_cast<size_t>(ctx_.n_batch());
    for (;;) {
        std::vector<Item> items;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) break;
            // Whole inputs, first come first served, as many as one batch holds.
            size_t tokens = 0;
            while (!queue_.empty() && static_cast<int32_t>(items.size()) < max_seqs_) {
                Item & next = queue_.front();
                if (next.work->channel->cancelled()) {
                    queue_.pop_front();
                    continue;
                }
                const size_t n = next.work->inputs[next.index].size();
                if (!items.empty() && tokens + n > capacity) break;
                tokens += n;
                items.push_back(std::move(next));
                queue_.pop_front();
            }
        }
        if (!items.empty()) run_batch(items);
    }
    std::lock_guard lock(mutex_);
    for (auto & item : queue_) {
        item.work->channel->push(Event::fail(make_error(ErrorCode::unavailable, "the server is shutting down")));
        item.work->remaining = 0;
    }
    queue_.clear();
}

void EmbedRunner::run_batch(std::vector<Item> & items) {
    batch_.clear();
    for (size_t k = 0; k < items.size(); ++k) {
        const auto & tokens = items[k].work->inputs[items[k].index];
        for (size_t p = 0; p < tokens.size(); ++p) {
            batch_.add(tokens[p], static_cast<llama_pos>(p), static_cast<llama_seq_id>(k), true);
        }
    }
    auto r = ctx_.decode(batch_);
    for (size_t k = 0; k < items.size(); ++k) {
        Work & w = *items[k].work;
        if (w.remaining == 0) continue;  // already failed
        if (!r || *r != engine::DecodeStatus::ok) {
            w.remaining = 0;
            w.channel->push(Event::fail(r ? make_error(ErrorCode::internal, "no room to compute the embeddings") : r.error()));
            continue;
        }
        std::vector<float> e = ctx_.pooled_embedding(static_cast<llama_seq_id>(k));
        if (w.normalize) {
            double norm = 0;
            for (float x : e) norm += static_cast<double>(x) * x;
            norm = std::sqrt(norm);
            if (norm > 0) {
                for (float & x : e) x = static_cast<float>(x / norm);
            }
        }
        w.results[items[k].index] = std::move(e);
        if (--w.remaining == 0) {
            Done done;
            done.usage.prompt_tokens = w.n_tokens;
            if (w.scores) {  // a reranker's: one value per input
                for (const auto & v : w.results) done.scores.push_back(v.empty() ? 0.0f : v.front());
            } else {
                done.embeddings = std::move(w.results);
            }
            w.channel->push(std::move(done));
        }
    }
    ctx_.clear();
}

}  // namespace kiln::backend
