#include <gtest/gtest.h>

#include "store/model_ref.h"

using namespace kiln::store;

TEST(ModelRef, ParsesEveryFormUsersType) {
    auto r = parse_ref("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->repo, "bartowski/Llama-3.2-1B-Instruct-GGUF");
    EXPECT_EQ(r->quant, "Q4_K_M");
    EXPECT_TRUE(r->file.empty());

    r = parse_ref("Qwen/Qwen2.5-0.5B-Instruct-GGUF");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF");
    EXPECT_TRUE(r->quant.empty());

    r = parse_ref("https://huggingface.co/org/repo/sub/dir/model-q8_0.gguf");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->repo, "org/repo");
    EXPECT_EQ(r->file, "sub/dir/model-q8_0.gguf");

    r = parse_ref("org/repo:latest");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->quant.empty());
}

TEST(ModelRef, RefusesWhatIsNotAReference) {
    for (const char * bad : {"", "llama3", "hf.co/", "org/", "/repo", "org/repo:", "org/re po",
                             "org/repo/../../etc/passwd.gguf", "org/repo/file.bin", "org/repo//x.gguf",
                             "org/repo/a\\b.gguf", "../x/y"}) {
        auto r = parse_ref(bad);
        EXPECT_FALSE(r) << "'" << bad << "' parsed";
        if (!r) {
            EXPECT_EQ(r.error().code, kiln::ErrorCode::invalid_request);
        }
    }
}

TEST(ModelRef, QuantFromFileNames) {
    EXPECT_EQ(quant_of("Llama-3.2-1B-Instruct-Q4_K_M.gguf"), "Q4_K_M");
    EXPECT_EQ(quant_of("qwen2.5-7b-instruct-q5_k_m-00001-of-00002.gguf"), "Q5_K_M");
    EXPECT_EQ(quant_of("model.IQ2_XXS.gguf"), "IQ2_XXS");
    EXPECT_EQ(quant_of("gemma-3-4b-it-bf16.gguf"), "BF16");
    EXPECT_EQ(quant_of("Phi-3-mini-4k-instruct-fp16.gguf"), "");
    EXPECT_EQ(quant_of("model-f16.gguf"), "F16");
    EXPECT_EQ(quant_of("sub/dir/Q8_0/model-Q8_0.gguf"), "Q8_0");
    EXPECT_EQ(quant_of("Qwen3-4B-UD-Q4_K_XL.gguf"), "Q4_K_XL");
    EXPECT_EQ(quant_of("plain.gguf"), "");
}

TEST(ModelRef, SplitPartsAndProjectors) {
    auto p = split_part_of("big-Q4_K_M-00002-of-00003.gguf");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->prefix, "big-Q4_K_M");
    EXPECT_EQ(p->index, 2);
    EXPECT_EQ(p->count, 3);
    EXPECT_FALSE(split_part_of("big-00004-of-00003.gguf"));
    EXPECT_FALSE(split_part_of("big.gguf"));
    EXPECT_TRUE(is_mmproj("mmproj-model-f16.gguf"));
    EXPECT_TRUE(is_mmproj("gemma-3-4b-it-MMPROJ-bf16.gguf"));
    EXPECT_FALSE(is_mmproj("model-Q4_K_M.gguf"));
}

TEST(ModelRef, SafeRepoPaths) {
    EXPECT_TRUE(is_safe_repo_path("model.gguf"));
    EXPECT_TRUE(is_safe_repo_path("Q4_K_M/model-00001-of-00002.gguf"));
    for (const char * bad : {"", "/etc/passwd", "../x.gguf", "a/../../x.gguf", "a/./b.gguf", "a//b.gguf",
                             "a\\..\\b.gguf", "C:/x.gguf", "a/b/", "x\n.gguf"}) {
        EXPECT_FALSE(is_safe_repo_path(bad)) << bad;
    }
}

namespace {
std::vector<RepoFile> repo() {
    return {
        {"README.md", 100},
        {"model-Q2_K.gguf", 300},
        {"model-Q4_0.gguf", 500},
        {"model-Q4_K_S.gguf", 520},
        {"model-Q4_K_M.gguf", 550},
        {"model-Q8_0.gguf", 900},
        {"model-F16.gguf", 1600},
        {"BF16/model-BF16-00001-of-00002.gguf", 800},
        {"BF16/model-BF16-00002-of-00002.gguf", 800},
        {"mmproj-model-f32.gguf", 400},
        {"mmproj-model-f16.gguf", 200},
        {"../evil-Q3_K_M.gguf", 10},
    };
}
}  // namespace

TEST(ModelRef, SelectsByQuantCaseInsensitively) {
    auto s = select_files({"o/r", "q8_0", ""}, repo());
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(s->files.size(), 1u);
    EXPECT_EQ(s->files[0].path, "model-Q8_0.gguf");
    EXPECT_EQ(s->quant, "Q8_0");
    EXPECT_FALSE(s->defaulted);
    ASSERT_TRUE(s->mmproj);
    EXPECT_EQ(s->mmproj->path, "mmproj-model-f16.gguf");
}

TEST(ModelRef, DefaultIsQ4KMThenSmallestQ4ThenQ8) {
    auto files = repo();
    auto s     = select_files({"o/r", "", ""}, files);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->files[0].path, "model-Q4_K_M.gguf");
    EXPECT_TRUE(s->defaulted);

    std::erase_if(files, [](const RepoFile & f) { return f.path == "model-Q4_K_M.gguf"; });
    s = select_files({"o/r", "", ""}, files);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->files[0].path, "model-Q4_0.gguf");

    std::erase_if(files, [](const RepoFile & f) { return f.path.find("Q4") != std::string::npos; });
    s = select_files({"o/r", "", ""}, files);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->files[0].path, "model-Q8_0.gguf");

    std::erase_if(files, [](const RepoFile & f) { return f.path.find("Q8") != std::string::npos; });
    s = select_files({"o/r", "", ""}, files);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("Q2_K"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("BF16"), std::string::npos) << s.error().message;
}

TEST(ModelRef, SplitModelsComeWithEveryPartInOrder) {
    auto s = select_files({"o/r", "bf16", ""}, repo());
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(s->files.size(), 2u);
    EXPECT_EQ(s->files[0].path, "BF16/model-BF16-00001-of-00002.gguf");
    EXPECT_EQ(s->files[1].path, "BF16/model-BF16-00002-of-00002.gguf");

    auto files = repo();
    std::erase_if(files, [](const RepoFile & f) { return f.path.find("00002-of") != std::string::npos; });
    EXPECT_FALSE(select_files({"o/r", "bf16", ""}, files));  // a part is missing
}

TEST(ModelRef, NamedFileAndUnknownQuant) {
    auto s = select_files({"o/r", "", "BF16/model-BF16-00002-of-00002.gguf"}, repo());
    ASSERT_TRUE(s);
    EXPECT_EQ(s->files.size(), 2u);
    auto missing = select_files({"o/r", "Q6_K", ""}, repo());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, kiln::ErrorCode::model_not_found);
    EXPECT_NE(missing.error().message.find("Q4_K_M"), std::string::npos);
    // A traversal name from the API is never chosen.
    EXPECT_FALSE(select_files({"o/r", "Q3_K_M", ""}, repo()));
}
