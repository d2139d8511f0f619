#include <gtest/gtest.h>

#include "core/utf8.h"

using kiln::utf8::complete_prefix;
using kiln::utf8::sanitize;

TEST(Utf8, CompletePrefixKeepsWholeText) {
    EXPECT_EQ(complete_prefix("hello"), 5u);
    EXPECT_EQ(complete_prefix("h\xC3\xA9"), 3u);              // é
    EXPECT_EQ(complete_prefix("\xF0\x9F\x98\x80"), 4u);       // 😀
    EXPECT_EQ(complete_prefix(""), 0u);
}

TEST(Utf8, CompletePrefixHoldsBackUnfinishedCharacter) {
    EXPECT_EQ(complete_prefix("ab\xC3"), 2u);
    EXPECT_EQ(complete_prefix("ab\xE4\xB8"), 2u);             // 中 missing its last byte
    EXPECT_EQ(complete_prefix("a\xF0\x9F\x98"), 1u);
}

TEST(Utf8, CompletePrefixPassesInvalidBytes) {
    // A stray continuation byte can never complete: nothing to wait for.
    EXPECT_EQ(complete_prefix("a\x80"), 2u);
    EXPECT_EQ(complete_prefix("a\xFF"), 2u);
}

TEST(Utf8, SanitizeReplacesInvalidSequences) {
    EXPECT_EQ(sanitize("ok"), "ok");
    EXPECT_EQ(sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(sanitize("\xE4\xB8"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(sanitize("\xE4\xB8\xAD"), "\xE4\xB8\xAD");
}

TEST(Utf8, SplitListTrimsAndDropsEmptyItems) {
    using kiln::utf8::split_list;
    EXPECT_EQ(split_list(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_list(""), std::vector<std::string>{});
    EXPECT_EQ(split_list("completion,tools"), (std::vector<std::string>{"completion", "tools"}));
}
