// Markdown as it streams, for a terminal: headings, **bold**, *italic*,
// `inline code`, fenced code blocks (a language label and colouring for
// common languages), lists, quotes and tables (held until the table ends,
// then printed aligned). Text is wrapped at word boundaries to the width,
// counting the display width of each character (CJK takes two columns).
// Nothing is ever rewritten: a word is held until it is known to fit, a
// line start until its kind is known, so the terminal never flickers.
// Not thread-safe; one per answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln::cli {

struct MarkdownOptions {
    bool color = true;  // ANSI styles (off with NO_COLOR: structure only)
    int  width = 0;     // wrap at this many columns; 0: no wrapping
};

class MarkdownStream {
  public:
    explicit MarkdownStream(MarkdownOptions options) : o_(options) {}
    // Bytes to write for more of the answer (may hold back a few).
    std::string push(std::string_view text);
    // The rest, at the end of the answer.
    std::string finish();

  private:
    enum class Line { undecided, paragraph, heading, quote, item, code, table_row };
    void        feed(char c);
    void        decide();           // the line's kind, from its first characters
    void        end_line();         // at '\n'
    void        inline_char(char c);  // styled text of a paragraph-like line
    void        flush_word();
    void        emit_word_char(const std::string & ch);
    void        end_code_line();
    void        flush_table();
    std::string style(const char * code) const;
    std::string restyle() const;  // the escape for the styles in force

    MarkdownOptions          o_;
    std::string              out_;
    std::string              head_;  // the line's first characters, before its kind is known
    Line                     kind_ = Line::undecided;
    std::string              line_;  // a code line or a table row, whole
    bool                     in_code_ = false;
    std::string              lang_;
    std::vector<std::string> table_;
    // Inline state.
    bool        bold_ = false, italic_ = false, code_span_ = false, heading_ = false, quote_ = false;
    bool        star_ = false;   // a '*' waiting to see whether a second follows
    std::string word_;           // the word being built (styled bytes)
    int         word_cols_ = 0;
    int         col_       = 0;  // columns used on the screen line
    int         indent_    = 0;  // columns a wrapped line starts at
    std::string utf8_;           // bytes of a character not yet whole
};

// Display columns of UTF-8 text (escape sequences excluded).
int display_width(std::string_view text);

}  // namespace kiln::cli
