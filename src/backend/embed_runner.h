// Embeddings for embedding models (BERT-style, pooled): packs the inputs of
// all waiting requests into batches (each input whole, as non-causal models
// need), decodes, and returns each input's pooled vector. submit() from any
// thread; run() on the one thread that owns the context.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "backend/types.h"
#include "engine/context.h"

namespace kiln::backend {

class EmbedRunner {
  public:
    EmbedRunner(engine::Context & ctx, int32_t max_seqs);

    // Each input must fit one batch (the caller checks). One Done event
    // with the embeddings, in input order, goes to the channel; with `scores`
    // (a reranker, whose pooled vector is one value), with those as scores.
    void submit(std::vector<std::vector<llama_token>> inputs, bool normalize, std::shared_ptr<Channel> channel,
                bool scores = false);
    void run();
    void stop();

  private:
    struct Work {
        std::vector<std::vector<llama_token>> inputs;
        std::vector<std::vector<float>>       results;
        size_t                                remaining = 0;
        int32_t                               n_tokens  = 0;
        bool                                  normalize = true;
        bool                                  scores    = false;
        std::shared_ptr<Channel>              channel;
    };
    struct Item {
        std::shared_ptr<Work> work;
        size_t                index;
    };
    void run_batch(std::vector<Item> & items);

    engine::Context &       ctx_;
    engine::Batch           batch_;
    int32_t                 max_seqs_;
    std::mutex              mutex_;
    std::condition_variable cv_;
    std::deque<Item>        queue_;
    bool                    stopping_ = false;
};

}  // namespace kiln::backend
