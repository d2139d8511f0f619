// Embedding models through the in-process backend: pooled, normalized,
// deterministic, batched equal to alone, clear errors.
#include <cmath>

#include <gtest/gtest.h>

#include "backend/llama_backend.h"
#include "test_models.h"

using namespace kiln::backend;

namespace {

std::unique_ptr<LlamaBackend> make(const std::filesystem::path & model) {
    LlamaOptions o;
    o.model_path = model;
    auto b       = LlamaBackend::create(o);
    EXPECT_TRUE(b) << b.error().message;
    return b ? std::move(*b) : nullptr;
}

std::vector<std::vector<float>> embed(LlamaBackend & b, std::vector<std::string> inputs, bool normalize = true) {
    auto ch = b.submit(EmbedRequest{"", std::move(inputs), normalize});
    EXPECT_TRUE(ch) << ch.error().message;
    if (!ch) return {};
    auto ev = (*ch)->pop(std::chrono::seconds(60));
    EXPECT_TRUE(ev && ev->as_done());
    return ev && ev->as_done() ? ev->as_done()->embeddings : std::vector<std::vector<float>>{};
}

double norm(const std::vector<float> & v) {
    double n = 0;
    for (float x : v) n += static_cast<double>(x) * x;
    return std::sqrt(n);
}

}  // namespace

TEST(Embeddings, PooledNormalizedAndDeterministic) {
    auto b = make(kiln::test::tiny_embed_model());
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->info().embedding);
    EXPECT_EQ(b->info().n_embd, 128);
    auto e = embed(*b, {"hello world", "a completely different sentence"});
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].size(), 128u);
    EXPECT_NEAR(norm(e[0]), 1.0, 1e-4);
    EXPECT_NE(e[0], e[1]);
    // The same batch again: the same bits.
    EXPECT_EQ(embed(*b, {"hello world", "a completely different sentence"}), e);
    // Alone, the kernels may differ (with ARM's f16 arithmetic, llamafile's
    // GEMM only from 8 rows): the same vector up to rounding.
    const auto alone = embed(*b, {"hello world"})[0];
    ASSERT_EQ(alone.size(), e[0].size());
    double dot = 0;
    for (size_t k = 0; k < alone.size(); ++k) dot += static_cast<double>(alone[k]) * e[0][k];
    EXPECT_GT(dot, 0.9999);
    EXPECT_EQ(embed(*b, {"hello world"})[0], alone);
    EXPECT_GT(norm(embed(*b, {"hello world"}, false)[0]), 0.0);
}

TEST(Embeddings, BatchedEqualsAlone) {
    auto b = make(kiln::test::tiny_embed_model());
    ASSERT_TRUE(b);
    std::vector<std::string> inputs;
    for (int i = 0; i < 20; ++i) inputs.push_back("sentence number " + std::to_string(i) + " about things");
    auto together = embed(*b, inputs);
    ASSERT_EQ(together.size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); i += 7) {
        auto alone = embed(*b, {inputs[i]})[0];
        ASSERT_EQ(alone.size(), together[i].size());
        // Batched kernels round differently in the last bits; the vectors agree.
        double dot = 0;
        for (size_t k = 0; k < alone.size(); ++k) dot += static_cast<double>(alone[k]) * together[i][k];
        EXPECT_GT(dot, 0.9999) << "input " << i;
    }
}

TEST(Embeddings, ErrorsForWrongModelKindAndLongInput) {
    auto b = make(kiln::test::tiny_embed_model());
    ASSERT_TRUE(b);
    ChatRequest chat;
    chat.messages = {{"user", "hi"}};
    auto r = b->submit(chat);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("embedding model"), std::string::npos);

    std::string long_input;
    for (int i = 0; i < 700; ++i) long_input += "word ";
    auto l = b->submit(EmbedRequest{"", {"short", long_input}, true});
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, kiln::ErrorCode::context_exceeded);
    EXPECT_NE(l.error().message.find("input[1]"), std::string::npos);

    auto chat_model = make(kiln::test::tiny_model());
    ASSERT_TRUE(chat_model);
    auto e = chat_model->submit(EmbedRequest{"", {"x"}, true});
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("does not produce embeddings"), std::string::npos);
}

namespace {

std::vector<float> scores(LlamaBackend & b, const std::string & query, std::vector<std::string> docs) {
    auto ch = b.submit(RerankRequest{"", query, std::move(docs)});
    EXPECT_TRUE(ch) << ch.error().message;
    if (!ch) return {};
    auto ev = (*ch)->pop(std::chrono::seconds(60));
    EXPECT_TRUE(ev && ev->as_done());
    if (!ev || !ev->as_done()) return {};
    EXPECT_TRUE(ev->as_done()->embeddings.empty()) << "a rerank's result is its scores";
    return ev->as_done()->scores;
}

}  // namespace

TEST(Rerank, OneScorePerDocumentDeterministicAndOrderFree) {
    auto b = make(kiln::test::tiny_reranker_model());
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->info().reranker);
    auto s = scores(*b, "what is a kiln", {"a kiln is an oven", "bananas are yellow", "pottery is fired"});
    ASSERT_EQ(s.size(), 3u);
    EXPECT_NE(s[0], s[1]);
    // Same pair, same score, whatever else is in the batch.
    auto alone = scores(*b, "what is a kiln", {"bananas are yellow"});
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_NEAR(alone[0], s[1], 1e-3);
}

TEST(Rerank, WrongModelKindIsAClearError) {
    auto reranker = make(kiln::test::tiny_reranker_model());
    ASSERT_TRUE(reranker);
    auto e = reranker->submit(EmbedRequest{"", {"x"}, true});
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("reranker"), std::string::npos);

    auto embedder = make(kiln::test::tiny_embed_model());
    ASSERT_TRUE(embedder);
    auto r = embedder->submit(RerankRequest{"", "q", {"d"}});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not a reranker"), std::string::npos);
}
