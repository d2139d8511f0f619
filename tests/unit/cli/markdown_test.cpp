#include <gtest/gtest.h>

#include "cli/markdown.h"

using kiln::cli::display_width;
using kiln::cli::MarkdownOptions;
using kiln::cli::MarkdownStream;

namespace {

// The whole rendering of `text` fed `step` bytes at a time.
std::string render(const std::string & text, MarkdownOptions o, size_t step = 1) {
    MarkdownStream md(o);
    std::string    out;
    for (size_t i = 0; i < text.size(); i += step) out += md.push(text.substr(i, step));
    return out + md.finish();
}

}  // namespace

TEST(Markdown, StructureWithoutColourIsPlainAndTheSameHoweverItStreams) {
    const std::string text = "# Title\nSome **bold** and `code`.\n\n- one\n- two\n1. first\n> quoted\n";
    const MarkdownOptions plain{false, 0};
    const std::string     want = "Title\nSome bold and code.\n\n• one\n• two\n1. first\n│ quoted\n";
    EXPECT_EQ(render(text, plain, 1), want);
    EXPECT_EQ(render(text, plain, 7), want);
    EXPECT_EQ(render(text, plain, text.size()), want);
}

TEST(Markdown, FencedCodeGetsItsLabelAndColours) {
    const std::string out = render("Look:\n```python\ndef f(x):\n    return 1 # one\n```\nDone.\n", {true, 0}, 3);
    EXPECT_NE(out.find(" python "), std::string::npos) << out;
    EXPECT_NE(out.find("\x1b[35mdef\x1b[0m"), std::string::npos) << "a keyword is coloured: " << out;
    EXPECT_NE(out.find("\x1b[2m# one"), std::string::npos) << "a comment is dimmed";
    EXPECT_EQ(out.find("```"), std::string::npos) << "the fences themselves are not shown";
    EXPECT_NE(out.find("Done."), std::string::npos);
    const std::string plain = render("```\nx = 1\n```\n", {false, 0});
    EXPECT_EQ(plain, " code \n  x = 1\n");
}

TEST(Markdown, TablesAreAlignedWithWideCharacters) {
    const std::string out = render("| name | n |\n|---|---|\n| 日本 | 10 |\n| ab | 2 |\nafter\n", {false, 0}, 2);
    EXPECT_EQ(out,
              "│ name │ n  │\n"
              "├──────┼────┤\n"
              "│ 日本 │ 10 │\n"
              "│ ab   │ 2  │\n"
              "after\n");
}

TEST(Markdown, WrapsAtWordsToTheWidthCountingColumns) {
    const std::string out = render("aaa bbb ccc ddd eee\n", {false, 8}, 1);
    EXPECT_EQ(out, "aaa bbb \nccc ddd \neee\n");
    const std::string items = render("- alpha beta gamma\n", {false, 10}, 1);
    EXPECT_EQ(items, "• alpha \n  beta \n  gamma\n") << "a wrapped item keeps its indent";
    EXPECT_EQ(display_width("日本語"), 6);
    EXPECT_EQ(display_width("\x1b[1mab\x1b[0m"), 2);
}

TEST(Markdown, ColourMarksBoldItalicAndHeadings) {
    const std::string out = render("## Head\n*it* **b**\n", {true, 0}, 1);
    EXPECT_NE(out.find("\x1b[1;35mHead"), std::string::npos) << out;
    EXPECT_NE(out.find("\x1b[3mit"), std::string::npos) << out;
    EXPECT_NE(out.find("\x1b[1mb"), std::string::npos) << out;
    EXPECT_EQ(render("2 * 3 = 6\n", {false, 0}), "2 * 3 = 6\n") << "a lone star is text";
}
