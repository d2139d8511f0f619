#include <gtest/gtest.h>

#include "store/hf_client.h"

using namespace kiln::store;

TEST(HfParse, FileListTakesLfsSizeAndHash) {
    auto files = parse_file_list(R"([
        {"type": "file", "path": "a-Q4_K_M.gguf", "size": 134, "lfs": {"oid": "ab12", "size": 4000000000}},
        {"type": "directory", "path": "d"},
        {"type": "file", "path": "README.md", "size": 10}])");
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[0].path, "a-Q4_K_M.gguf");
    EXPECT_EQ((*files)[0].size, 4000000000u);
    EXPECT_EQ((*files)[0].sha256, "ab12");
    EXPECT_EQ((*files)[1].size, 10u);
    EXPECT_EQ((*files)[1].sha256, "");
}

TEST(HfParse, SizesThatAreNoCountAreZeroNotUndefined) {
    // fuzz_hf's finding: a size past uint64_t parses as a float, and reading
    // it as uint64_t was undefined behaviour (UBSan). Nonsense sizes read 0.
    auto files = parse_file_list(R"([
        {"type": "file", "path": "a.gguf", "size": 2222222222222222222222222210, "lfs": {"oid": "ab", "size": 10}},
        {"type": "file", "path": "b.gguf", "size": -5},
        {"type": "file", "path": "c.gguf", "size": 1e300, "lfs": {"size": -1e300}},
        {"type": "file", "path": "d.gguf", "size": "12"}])");
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_EQ(files->size(), 4u);
    EXPECT_EQ((*files)[0].size, 10u);
    EXPECT_EQ((*files)[1].size, 0u);
    EXPECT_EQ((*files)[2].size, 0u);
    EXPECT_EQ((*files)[3].size, 0u);
}

TEST(HfParse, SearchReadsCountsLeniently) {
    auto models = parse_search(R"([
        {"id": "org/a-GGUF", "downloads": 12, "likes": 3, "lastModified": "2026-01-01"},
        {"modelId": "org/b-GGUF", "downloads": 1e40, "likes": -2},
        {"downloads": 5}])");
    ASSERT_TRUE(models) << models.error().message;
    ASSERT_EQ(models->size(), 2u);
    EXPECT_EQ((*models)[0].id, "org/a-GGUF");
    EXPECT_EQ((*models)[0].downloads, 12u);
    EXPECT_EQ((*models)[0].likes, 3u);
    EXPECT_EQ((*models)[1].id, "org/b-GGUF");
    EXPECT_EQ((*models)[1].downloads, 0u);
    EXPECT_EQ((*models)[1].likes, 0u);
}

TEST(HfParse, NotAListIsAnError) {
    EXPECT_FALSE(parse_file_list(R"({"error": "Repository not found"})"));
    EXPECT_FALSE(parse_file_list("not json"));
    EXPECT_FALSE(parse_search("{}"));
}

TEST(HfParse, AnEntryOfTheWrongShapeIsSkippedNotTheWholeList) {
    // The doc's promise: entries of the wrong shape are skipped. A type, path
    // or oid that is not text used to throw, and lose every other file.
    auto files = parse_file_list(R"([
        {"type": 7, "path": "x.gguf"},
        {"type": "file", "path": ["y.gguf"]},
        {"type": "file", "path": "z.gguf", "size": 3, "lfs": {"oid": 12, "size": 3}},
        {"type": "file", "path": "a.gguf", "size": 4}])");
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[0].path, "z.gguf");
    EXPECT_EQ((*files)[0].sha256, "");
    EXPECT_EQ((*files)[1].path, "a.gguf");
    auto models = parse_search(R"([{"id": 5, "modelId": "org/c-GGUF", "pipeline_tag": null}, {"id": "org/d-GGUF"}])");
    ASSERT_TRUE(models) << models.error().message;
    ASSERT_EQ(models->size(), 2u);
    EXPECT_EQ((*models)[0].id, "org/c-GGUF");
    EXPECT_EQ((*models)[1].id, "org/d-GGUF");
}
