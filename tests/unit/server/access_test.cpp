// The access policy's pieces: loopback Host names, origins, key comparison, key files.
#include <gtest/gtest.h>

#include <fstream>

#include "server/access.h"
#include "test_models.h"

using namespace kiln::server;

TEST(Access, LoopbackHostsWithAndWithoutPorts) {
    for (const char * h : {"localhost", "LOCALHOST:11434", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:8080", "::1",
                           "app.localhost", "localhost."}) {
        EXPECT_TRUE(loopback_host(h)) << h;
    }
    for (const char * h : {"", "evil.example", "localhost.evil.example", "127.0.0.1.evil.example", "10.0.0.1",
                           "[::2]:80", "0.0.0.0", "1270.0.0.1"}) {
        EXPECT_FALSE(loopback_host(h)) << h;
    }
}

TEST(Access, OriginsLoopbackOrListed) {
    AccessOptions o;
    o.cors_origins = {"https://app.example"};
    EXPECT_TRUE(origin_allowed("http://localhost:3000", o));
    EXPECT_TRUE(origin_allowed("https://127.0.0.1", o));
    EXPECT_TRUE(origin_allowed("https://APP.example", o));
    EXPECT_FALSE(origin_allowed("https://app.example.evil", o));
    EXPECT_FALSE(origin_allowed("null", o));
    EXPECT_FALSE(origin_allowed("file://localhost", o));
    EXPECT_FALSE(origin_allowed("http://localhost:3000/path", o));
    o.cors_origins = {"*"};
    EXPECT_TRUE(origin_allowed("https://anything.example", o));
}

TEST(Access, KeysMatchWholeOnly) {
    const std::vector<std::string> keys = {"sk-one", "sk-two"};
    EXPECT_TRUE(key_matches("sk-two", keys));
    EXPECT_FALSE(key_matches("sk-tw", keys));
    EXPECT_FALSE(key_matches("sk-two2", keys));
    EXPECT_FALSE(key_matches("", keys));
    EXPECT_FALSE(key_matches("", {""}));
}

TEST(Access, KeysFromAListAndAFile) {
    const auto dir = kiln::test::temp_dir();
    std::ofstream(dir / "keys") << "# comment\n  k2  \n\nk3 # the bot\n";
    auto keys = load_api_keys("k1, ,k0", (dir / "keys").string());
    ASSERT_TRUE(keys);
    EXPECT_EQ(*keys, (std::vector<std::string>{"k1", "k0", "k2", "k3"}));
    std::ofstream(dir / "empty") << "# nothing\n";
    EXPECT_FALSE(load_api_keys("", (dir / "empty").string()));
    EXPECT_FALSE(load_api_keys("", (dir / "missing").string()));
}
