#include <gtest/gtest.h>

#include <fstream>

#include "store/gguf_info.h"
#include "test_models.h"

using namespace kiln::store;
namespace fs = std::filesystem;

TEST(GgufInfo, ReadsAChatModelsMetadataWithoutLoadingIt) {
    auto info = read_gguf_info(kiln::test::tiny_model("qwen2", 512));
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->architecture, "llama");
    EXPECT_EQ(info->context_length, 512u);
    EXPECT_EQ(info->embedding_length, 64u);
    EXPECT_EQ(info->block_count, 2u);
    EXPECT_GT(info->n_params, 1'000'000u);
    EXPECT_FALSE(info->quant.empty());
    EXPECT_NE(info->chat_template.find("im_start"), std::string::npos);
    EXPECT_FALSE(info->projector);
    ASSERT_FALSE(info->capabilities.empty());
    EXPECT_EQ(info->capabilities.front(), "completion");
}

TEST(GgufInfo, EmbeddingModelsSayEmbedding) {
    auto info = read_gguf_info(kiln::test::tiny_embed_model());
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->architecture, "bert");
    ASSERT_FALSE(info->capabilities.empty());
    EXPECT_EQ(info->capabilities.front(), "embedding");
}

TEST(GgufInfo, RefusesMissingForeignAndTruncatedFiles) {
    const auto dir = kiln::test::temp_dir();
    auto missing = read_gguf_info(dir / "nope.gguf");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, kiln::ErrorCode::not_found);

    std::ofstream(dir / "text.gguf") << "this is not a model";
    auto foreign = read_gguf_info(dir / "text.gguf");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code, kiln::ErrorCode::invalid_request);

    // The first 200 bytes of a real model: a header cut short.
    {
        std::ifstream in(kiln::test::tiny_model("qwen2", 512), std::ios::binary);
        std::string head(200, '\0');
        in.read(head.data(), 200);
        std::ofstream(dir / "cut.gguf", std::ios::binary) << head;
    }
    auto cut = read_gguf_info(dir / "cut.gguf");
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().code, kiln::ErrorCode::invalid_request);
    EXPECT_EQ(cut.error().message.find(dir.string()), std::string::npos) << "no absolute paths in messages";
}

TEST(GgufInfo, FormatsParameterCounts) {
    EXPECT_EQ(format_params(7'000'000'000), "7B");
    EXPECT_EQ(format_params(1'240'000'000), "1.2B");
    EXPECT_EQ(format_params(245'900'000), "245.9M");
    EXPECT_EQ(format_params(999), "999");
}
