#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

using kiln::engine::StopMatcher;

TEST(StopMatcher, NoStopsPassesEverything) {
    StopMatcher m({});
    EXPECT_EQ(m.push("hello"), "hello");
    EXPECT_EQ(m.flush(), "");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopsAndDropsTheStopString) {
    StopMatcher m({"END"});
    EXPECT_EQ(m.push("abc E"), "abc ");  // "E" may start END: held
    EXPECT_EQ(m.push("ND and more"), "");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(m.matched(), "END");
    EXPECT_EQ(m.push("ignored"), "");
}

TEST(StopMatcher, ReleasesHeldTextWhenItDoesNotMatch) {
    StopMatcher m({"END"});
    EXPECT_EQ(m.push("xE"), "x");
    EXPECT_EQ(m.push("Nd"), "ENd");
    EXPECT_EQ(m.push("EN"), "");
    EXPECT_EQ(m.flush(), "EN");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    StopMatcher m({"world", "lo w"});
    EXPECT_EQ(m.push("hello world"), "hel");
    EXPECT_EQ(m.matched(), "lo w");
}

TEST(StopMatcher, StopSplitAcrossManyPieces) {
    StopMatcher m({"<|im_end|>"});
    std::string out;
    for (const char * p : {"Hi", " <", "|im", "_", "end", "|>", "tail"}) out += m.push(p);
    EXPECT_EQ(out, "Hi ");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, MultiByteTextAroundStop) {
    StopMatcher m({"停"});
    EXPECT_EQ(m.push("中文停止"), "中文");
    EXPECT_TRUE(m.stopped());
}
