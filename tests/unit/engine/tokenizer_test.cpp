#include <gtest/gtest.h>

#include "core/utf8.h"
#include "engine/model.h"
#include "test_models.h"

using kiln::engine::Detokenizer;
using kiln::engine::Model;
using kiln::engine::ModelParams;

namespace {

std::unique_ptr<Model> load_vocab(const std::string & name) {
    ModelParams p;
    p.vocab_only = true;
    auto m = Model::load(kiln::test::vocab_file(name), p);
    if (!m) ADD_FAILURE() << m.error().message;
    return m ? std::move(*m) : nullptr;
}

const char * kTexts[] = {
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. 1234567890",
    "  leading spaces and\ttabs\nand newlines\n",
    "naïve café, 中文字符, Привет, 😀🚀",
};

}  // namespace

class TokenizerRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerRoundTrip, TextSurvivesTokenizeDetokenize) {
    auto model = load_vocab(GetParam());
    ASSERT_TRUE(model);
    for (const char * text : kTexts) {
        auto tokens = model->tokenize(text, false, false);
        ASSERT_FALSE(tokens.empty()) << text;
        std::string back = model->detokenize(tokens);
        if (GetParam() == "bert-bge") {
            // WordPiece lowercases and drops accents and whitespace: lossy by
            // design, so only plain lowercase ASCII comes back unchanged.
            if (text == kTexts[1]) {
                EXPECT_EQ(back, " the quick brown fox jumps over the lazy dog. 1234567890");
            }
            continue;
        }
        // Detokenized text tokenizes back to the same tokens.
        EXPECT_EQ(model->tokenize(back, false, false), tokens) << "vocab " << GetParam() << ": " << text;
        // SentencePiece vocabularies add a leading space to the first word.
        if (back.size() == std::string(text).size() + 1 && back[0] == ' ') back.erase(0, 1);
        EXPECT_EQ(back, text) << "vocab " << GetParam();
    }
}

TEST_P(TokenizerRoundTrip, IncrementalDetokenizationNeverSplitsCharacters) {
    auto model = load_vocab(GetParam());
    ASSERT_TRUE(model);
    const std::string text = "emoji 😀🚀 and 中文 and é";
    auto tokens = model->tokenize(text, false, false);
    Detokenizer detok(*model);
    std::string all;
    for (auto t : tokens) {
        std::string piece = detok.push(t);
        EXPECT_EQ(kiln::utf8::complete_prefix(piece), piece.size()) << "piece ends inside a character";
        EXPECT_EQ(kiln::utf8::sanitize(piece), piece) << "piece is not valid UTF-8";
        all += piece;
    }
    all += detok.flush();
    // Byte-exact with the pieces themselves (a generated stream keeps the
    // leading space SentencePiece puts on a word).
    std::string pieces;
    for (auto t : tokens) pieces += model->token_to_piece(t);
    EXPECT_EQ(all, pieces);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, TokenizerRoundTrip,
                         ::testing::Values("llama-spm", "llama-bpe", "qwen2", "gpt-2", "bert-bge"));

TEST(Tokenizer, SpmSplitsEmojiIntoByteTokens) {
    // The case incremental detokenization exists for: byte-fallback tokens
    // each carry part of one character.
    auto model = load_vocab("llama-spm");
    ASSERT_TRUE(model);
    auto tokens = model->tokenize("😀", false, false);
    ASSERT_GE(tokens.size(), 4u);  // four <0xNN> byte tokens (plus a space prefix)
    Detokenizer detok(*model);
    int         held = 0;
    std::string all;
    for (auto t : tokens) {
        std::string piece = detok.push(t);
        held += piece.empty();
        all += piece;
    }
    EXPECT_EQ(held, 3);  // the first three bytes of the emoji wait for the fourth
    EXPECT_NE(all.find("😀"), std::string::npos);
}
