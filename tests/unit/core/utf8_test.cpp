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

TEST(Utf8, SanitizeRefusesOverlongFormsSurrogatesAndPastTheLastCodePoint) {
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(sanitize("\xC0\xAF"), fffd + fffd);              // '/' in two bytes
    EXPECT_EQ(sanitize("\xE0\x80\xAF"), fffd + fffd + fffd);   // '/' in three
    EXPECT_EQ(sanitize("\xED\xA0\x80"), fffd + fffd + fffd);   // U+D800, a surrogate
    EXPECT_EQ(sanitize("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // U+110000
    EXPECT_EQ(sanitize("\xED\x9F\xBF"), "\xED\x9F\xBF");        // U+D7FF, just below
    EXPECT_EQ(sanitize("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
    EXPECT_EQ(sanitize(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8, CompletePrefixHoldsBackOnlyWhatCouldStillBeCompleted) {
    EXPECT_EQ(complete_prefix("a\xE0\xA0"), 1u);  // U+0800 needs one more byte
    EXPECT_EQ(complete_prefix("a\xE0\x80"), 3u);  // overlong whatever follows
    EXPECT_EQ(complete_prefix("a\xED\xA0"), 3u);  // a surrogate whatever follows
    EXPECT_EQ(complete_prefix("a\xF4\x90"), 3u);  // past U+10FFFF
    EXPECT_EQ(complete_prefix("a\xF4\x8F"), 1u);
    EXPECT_EQ(complete_prefix("a\xE0"), 1u);
    EXPECT_EQ(complete_prefix("a\xC1"), 2u);      // never a lead byte
}

TEST(Utf8, CharacterWidthsAndLengths) {
    using kiln::utf8::char_length;
    using kiln::utf8::char_width;
    EXPECT_EQ(char_width("a"), 1);
    EXPECT_EQ(char_width("\xE4\xB8\xAD"), 2);          // 中
    EXPECT_EQ(char_width("\xF0\x9F\x98\x80"), 2);      // 😀
    EXPECT_EQ(char_width("\xCC\x81"), 0);              // combining acute
    EXPECT_EQ(char_width("\xEF\xBD\x81"), 2);          // fullwidth a
    EXPECT_EQ(char_width("\xFF"), 1);                  // invalid: one replacement character
    EXPECT_EQ(char_length('a'), 1u);
    EXPECT_EQ(char_length(0xE4), 3u);
    EXPECT_EQ(char_length(0xF0), 4u);
    EXPECT_EQ(char_length(0x80), 1u);
}
