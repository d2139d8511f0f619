// Generation on a tiny generated model: determinism, limits, stop strings.
#include <gtest/gtest.h>

#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/model.h"
#include "test_models.h"

using namespace kiln::engine;

namespace {

struct Fixture {
    std::unique_ptr<Model>   model;
    std::unique_ptr<Context> ctx;
};

Fixture make(const std::string & vocab = "qwen2", uint32_t n_batch = 512) {
    Fixture f;
    auto m = Model::load(kiln::test::tiny_model(vocab));
    EXPECT_TRUE(m) << m.error().message;
    f.model = std::move(*m);
    ContextParams cp;
    cp.n_ctx   = 256;
    cp.n_batch = n_batch;
    auto c   = Context::create(*f.model, cp);
    EXPECT_TRUE(c) << c.error().message;
    f.ctx = std::move(*c);
    return f;
}

struct Output {
    std::string    text;
    GenerateResult result;
};

Output generate(Fixture & f, const std::string & prompt, GenerateParams p) {
    Output out;
    auto tokens = f.model->tokenize(prompt, true, false);
    auto r = f.ctx->generate(tokens, p, [&](const std::string & t) {
        out.text += t;
        return true;
    });
    EXPECT_TRUE(r) << r.error().message;
    out.result = *r;
    return out;
}

GenerateParams seeded(uint32_t seed, int max_tokens) {
    GenerateParams p;
    p.sampling.seed        = seed;
    p.sampling.temperature = 0.9f;
    p.max_tokens           = max_tokens;
    p.ignore_eos           = true;
    return p;
}

}  // namespace

TEST(Generation, SameSeedSameText) {
    auto f = make();
    auto a = generate(f, "Once upon a time", seeded(42, 24));
    auto b = generate(f, "Once upon a time", seeded(42, 24));
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.result.n_generated, 24);
    EXPECT_EQ(a.result.finish, FinishReason::length);
}

TEST(Generation, CachedPrefixGivesTheSameTextAsAFreshContext) {
    // n_batch 8: a prompt of 20+ tokens decodes in chunks, and whole chunks
    // of the previous request's prompt are reused.
    auto cached = make("qwen2", 8);
    auto fresh  = make("qwen2", 8);
    const std::string prompt = "The quick brown fox jumps over the lazy dog and keeps running far away";
    auto first = generate(cached, prompt, seeded(11, 24));
    EXPECT_EQ(first.result.n_cached, 0);
    auto second = generate(cached, prompt + " again", seeded(11, 24));
    EXPECT_GE(second.result.n_cached, 8);
    EXPECT_EQ(second.result.n_cached % 8, 0);
    EXPECT_EQ(second.text, generate(fresh, prompt + " again", seeded(11, 24)).text);
}

TEST(Generation, SameSeedSameTextInAFreshContext) {
    auto f1 = make();
    auto f2 = make();
    EXPECT_EQ(generate(f1, "abc", seeded(7, 16)).text, generate(f2, "abc", seeded(7, 16)).text);
}

TEST(Generation, DifferentSeedsDiverge) {
    auto f = make();
    EXPECT_NE(generate(f, "Hello", seeded(1, 32)).text, generate(f, "Hello", seeded(2, 32)).text);
}

TEST(Generation, GreedyIsDeterministicWithoutSeed) {
    auto f = make();
    GenerateParams p;
    p.sampling.temperature = 0;
    p.max_tokens           = 16;
    p.ignore_eos           = true;
    EXPECT_EQ(generate(f, "Hi", p).text, generate(f, "Hi", p).text);
}

TEST(Generation, StopStringEndsGenerationAndIsNotEmitted) {
    auto f    = make();
    auto full = generate(f, "Tell me", seeded(3, 40));
    ASSERT_GE(full.text.size(), 8u);
    // Pick a stop string from the middle of what the model produces.
    size_t mid = full.text.size() / 2;
    while (mid > 0 && (static_cast<unsigned char>(full.text[mid]) & 0xC0) == 0x80) --mid;
    std::string stop = full.text.substr(mid, 1);
    auto p = seeded(3, 40);
    p.stop = {stop};
    auto cut = generate(f, "Tell me", p);
    EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
    EXPECT_EQ(cut.result.finish, FinishReason::stop);
}

TEST(Generation, ContextEndFinishesWithLength) {
    auto f = make();
    auto out = generate(f, "Hi", seeded(5, -1));  // no max: runs to the end of the 256-token context
    EXPECT_EQ(out.result.finish, FinishReason::length);
    EXPECT_EQ(out.result.n_prompt + out.result.n_generated, 256);
}

TEST(Generation, CancelFromTheSinkStops) {
    auto f = make();
    auto tokens = f.model->tokenize("Hi", true, false);
    int calls = 0;
    auto r = f.ctx->generate(tokens, seeded(5, 100), [&](const std::string &) { return ++calls < 3; });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->finish, FinishReason::cancelled);
    EXPECT_LT(r->n_generated, 100);
}

TEST(Generation, PromptThatFillsTheContextIsAnError) {
    auto f = make();
    std::vector<llama_token> tokens(256, f.model->tokenize("a", false, false).at(0));
    auto r = f.ctx->generate(tokens, seeded(1, 1), [](const std::string &) { return true; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, kiln::ErrorCode::context_exceeded);
}

TEST(Generation, WorksOnEveryChatVocab) {
    for (const char * vocab : {"llama-spm", "llama-bpe", "gpt-2"}) {
        auto f   = make(vocab);
        auto out = generate(f, "Hello", seeded(9, 8));
        EXPECT_EQ(out.result.n_generated, 8) << vocab;
    }
}
