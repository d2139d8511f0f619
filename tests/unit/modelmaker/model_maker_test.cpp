#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "engine/model.h"
#include "modelmaker/model_maker.h"
#include "test_models.h"

using namespace kiln::modelmaker;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path & p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ModelSpec small(const std::string & type) {
    ModelSpec s = kiln::test::tiny_spec("llama", "llama-spm", 256);
    s.type      = type;
    return s;
}

}  // namespace

class MakerTypes : public ::testing::TestWithParam<std::string> {};

TEST_P(MakerTypes, SameSpecSameBytesAndLoads) {
    auto dir = kiln::test::temp_dir();
    ASSERT_TRUE(make_model(small(GetParam()), default_vocab_dir(), dir / "a.gguf", 1).ok());
    ASSERT_TRUE(make_model(small(GetParam()), default_vocab_dir(), dir / "b.gguf", 2).ok());
    EXPECT_EQ(read_all(dir / "a.gguf"), read_all(dir / "b.gguf"));

    auto model = kiln::engine::Model::load(dir / "a.gguf");
    ASSERT_TRUE(model) << model.error().message;
    EXPECT_EQ((*model)->meta("general.architecture"), "llama");
    EXPECT_EQ((*model)->n_ctx_train(), 256);
    // Nothing but the model is left beside it.
    int files = 0;
    for ([[maybe_unused]] const auto & e : fs::directory_iterator(dir)) ++files;
    EXPECT_EQ(files, 2);
}

INSTANTIATE_TEST_SUITE_P(Types, MakerTypes, ::testing::Values("f32", "f16", "q8_0", "q4_0"));

TEST(ModelMaker, DifferentSeedDifferentBytes) {
    auto dir = kiln::test::temp_dir();
    auto a = small("f16");
    auto b = small("f16");
    b.seed = 2;
    ASSERT_TRUE(make_model(a, default_vocab_dir(), dir / "a.gguf").ok());
    ASSERT_TRUE(make_model(b, default_vocab_dir(), dir / "b.gguf").ok());
    EXPECT_NE(read_all(dir / "a.gguf"), read_all(dir / "b.gguf"));
}

TEST(ModelMaker, BertEmbeddingModelLoads) {
    auto dir = kiln::test::temp_dir();
    ModelSpec s = kiln::test::tiny_spec("bert", "bert-bge", 128);
    ASSERT_TRUE(make_model(s, default_vocab_dir(), dir / "e.gguf").ok());
    auto model = kiln::engine::Model::load(dir / "e.gguf");
    ASSERT_TRUE(model) << model.error().message;
    EXPECT_EQ((*model)->meta("general.architecture"), "bert");
    EXPECT_EQ((*model)->meta("tokenizer.chat_template"), "");
}

TEST(ModelMaker, ImpossibleShapesAreClearErrors) {
    auto s   = small("f16");
    s.n_embd = 66;
    auto r   = normalize(s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("divisible by n_head"), std::string::npos);

    s           = small("f16");
    s.n_head_kv = 3;
    EXPECT_FALSE(normalize(s));

    s        = small("q4_0");
    s.n_embd = 48;
    s.n_head = 4;
    EXPECT_FALSE(normalize(s));

    s      = small("f16");
    s.type = "q5_k";
    EXPECT_FALSE(normalize(s));
}

TEST(ModelMaker, UnknownVocabNamesTheChoices) {
    auto dir = kiln::test::temp_dir();
    auto s   = small("f16");
    s.vocab  = "klingon";
    auto st  = make_model(s, default_vocab_dir(), dir / "x.gguf");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("llama-spm"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}
