#include <gtest/gtest.h>

#include <fstream>

#include "store/sha256.h"
#include "test_models.h"

using namespace kiln::store;

TEST(Sha256, KnownVectors) {
    Sha256 empty;
    EXPECT_EQ(empty.finish(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 abc;
    abc.update("a", 1);
    abc.update("bc", 2);
    EXPECT_EQ(abc.finish(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, FilesHashLikeTheirBytes) {
    const auto dir = kiln::test::temp_dir();
    std::string big(3'000'000, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
    std::ofstream(dir / "f.bin", std::ios::binary) << big;
    Sha256 h;
    h.update(big.data(), big.size());
    uint64_t last = 0;
    auto r = sha256_file(dir / "f.bin", [&](uint64_t done) {
        last = done;
        return true;
    });
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, h.finish());
    EXPECT_EQ(last, big.size());
    auto stopped = sha256_file(dir / "f.bin", [](uint64_t) { return false; });
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().code, kiln::ErrorCode::cancelled);
    EXPECT_FALSE(sha256_file(dir / "missing.bin"));
}
