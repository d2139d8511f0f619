#include <gtest/gtest.h>

#include "store/url.h"

using namespace kiln::store;

TEST(Url, EscapesLikeHuggingFaceExpects) {
    EXPECT_EQ(url_escape("a b+c/d~e-f_g.h"), "a%20b%2Bc%2Fd~e-f_g.h");
    EXPECT_EQ(url_escape("\xC3\xA9"), "%C3%A9");
    EXPECT_EQ(url_escape(""), "");
    EXPECT_EQ(url_escape_path("a b/c+d.gguf"), "a%20b/c%2Bd.gguf");
    EXPECT_EQ(url_escape_path("dir/../x?#"), "dir/../x%3F%23");
    EXPECT_EQ(url_escape_path("/lead//x/"), "/lead//x/");
}

TEST(Url, AuthorityIsLowerHostAndPortWithTheSchemesDefault) {
    EXPECT_EQ(url_authority("https://U:pw@HF.co/x?y#z"), "hf.co:443");
    EXPECT_EQ(url_authority("https://hf.co:443"), url_authority("https://hf.co"));
    EXPECT_NE(url_authority("http://hf.co"), url_authority("https://hf.co"));  // a downgrade is another place
    EXPECT_EQ(url_authority("http://127.0.0.1:8080/api"), "127.0.0.1:8080");
    EXPECT_EQ(url_authority("http://[::1]:8080/"), "[::1]:8080");
    EXPECT_EQ(url_authority("no-scheme"), "");
    EXPECT_EQ(url_authority("hf.co/x"), "");
    EXPECT_EQ(url_authority("https://"), "");
}

TEST(Url, ParsesWhatLibcurlTakesAndRefusesTheRest) {
    auto p = parse_url("HTTPS://Example.COM:8443/a/b?q=1#f");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->scheme, "https");
    EXPECT_EQ(p->host, "example.com");
    EXPECT_EQ(p->port, "8443");
    EXPECT_EQ(p->path, "/a/b");
    EXPECT_EQ(p->query, "q=1");
    EXPECT_EQ(p->fragment, "f");
    auto bare = parse_url("http://localhost");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->port, "80");
    EXPECT_EQ(bare->path, "/");
    for (const char * bad : {"", "localhost:8080", "http://", "http://exa mple.com/", "://x"}) {
        auto r = parse_url(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code, kiln::ErrorCode::invalid_request);
        }
    }
}
