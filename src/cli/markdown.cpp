#include "cli/markdown.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/utf8.h"

namespace kiln::cli {
namespace {

std::string trim(std::string_view s) {
    size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
}

const std::set<std::string> & keywords(const std::string & lang) {
    static const std::set<std::string> c_like = {
        "auto", "bool", "break", "case", "catch", "char", "class", "const", "constexpr", "continue", "default", "delete",
        "do", "double", "else", "enum", "explicit", "false", "float", "for", "if", "include", "inline", "int", "long",
        "namespace", "new", "nullptr", "private", "protected", "public", "return", "short", "signed", "size_t", "sizeof",
        "static", "std", "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typename", "union",
        "unsigned", "using", "virtual", "void", "volatile", "while", "define"};
    static const std::set<std::string> python = {
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
        "False", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "None", "nonlocal", "not", "or",
        "pass", "raise", "return", "True", "try", "while", "with", "yield", "self", "print"};
    static const std::set<std::string> js = {
        "async", "await", "break", "case", "catch", "class", "const", "continue", "default", "delete", "do", "else",
        "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "let", "new",
        "null", "return", "switch", "this", "throw", "true", "try", "typeof", "undefined", "var", "void", "while", "yield",
        "interface", "type", "from", "of"};
    static const std::set<std::string> rust = {
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
        "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
        "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn"};
    static const std::set<std::string> go = {
        "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go",
        "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct", "switch", "type",
        "var", "nil", "true", "false"};
    static const std::set<std::string> shell = {"if", "then", "else", "elif", "fi", "for", "while", "do", "done", "case",
                                                "esac", "in", "function", "return", "export", "local", "echo", "exit"};
    static const std::set<std::string> none;
    if (lang == "c" || lang == "cpp" || lang == "c++" || lang == "h" || lang == "hpp" || lang == "java" || lang == "cs") return c_like;
    if (lang == "python" || lang == "py") return python;
    if (lang == "js" || lang == "javascript" || lang == "ts" || lang == "typescript" || lang == "jsx" || lang == "tsx") return js;
    if (lang == "rust" || lang == "rs") return rust;
    if (lang == "go" || lang == "golang") return go;
    if (lang == "sh" || lang == "bash" || lang == "shell" || lang == "zsh" || lang == "console") return shell;
    return none;
}

bool hash_comments(const std::string & lang) {
    return lang == "python" || lang == "py" || lang == "sh" || lang == "bash" || lang == "shell" || lang == "zsh" ||
           lang == "yaml" || lang == "yml" || lang == "toml" || lang == "ruby" || lang == "rb";
}

}  // namespace

int display_width(std::string_view text) {
    int w = 0;
    for (size_t i = 0; i < text.size();) {
        if (text[i] == '\x1b') {  // skip an escape sequence
            while (i < text.size() && text[i] != 'm') ++i;
            ++i;
            continue;
        }
        const size_t n = std::min(utf8::char_length(static_cast<unsigned char>(text[i])), text.size() - i);
        w += utf8::char_width(text.substr(i, n));
        i += n;
    }
    return w;
}

std::string MarkdownStream::style(const char * code) const { return o_.color ? std::string("\x1b[") + code + "m" : ""; }

std::string MarkdownStream::restyle() const {
    if (!o_.color) return {};
    std::string s = "\x1b[0m";
    if (heading_) s += "\x1b[1;35m";
    if (quote_) s += "\x1b[2m";
    if (bold_) s += "\x1b[1m";
    if (italic_) s += "\x1b[3m";
    if (code_span_) s += "\x1b[36m";
    return s;
}

std::string MarkdownStream::push(std::string_view text) {
    for (char c : text) feed(c);
    std::string out;
    out.swap(out_);
    return out;
}

void MarkdownStream::feed(char c) {
    if (in_code_ || kind_ == Line::code || kind_ == Line::table_row) {
        if (c == '\n') {
            if (kind_ == Line::table_row) {
                table_.push_back(line_);
                line_.clear();
                kind_ = Line::undecided;
                head_.clear();
            } else {
                end_code_line();
            }
        } else {
            line_ += c;
        }
        return;
    }
    if (kind_ == Line::undecided) {
        if (c == '\n') {
            if (!table_.empty()) flush_table();
            kind_ = Line::paragraph;
            const std::string held = std::move(head_);
            head_.clear();
            for (char h : held) inline_char(h);
            end_line();
            return;
        }
        head_ += c;
        decide();
        return;
    }
    if (c == '\n') {
        end_line();
    } else {
        inline_char(c);
    }
}

void MarkdownStream::decide() {
    const std::string & h = head_;
    if (!table_.empty() && h[0] != '|') flush_table();
    auto as = [&](Line kind, size_t skip, const std::string & prefix) {
        kind_ = kind;
        out_ += prefix;
        col_ += display_width(prefix);
        indent_ = col_;
        const std::string rest = h.substr(skip);
        head_.clear();
        for (char r : rest) inline_char(r);
    };
    // Leading spaces (a nested list): kept, then the rest decides.
    if (h == std::string(h.size(), ' ') && h.size() < 8) return;
    const size_t lead = h.find_first_not_of(' ');
    const std::string body = h.substr(lead);
    if (std::string("```").rfind(body, 0) == 0 && body.size() < 3) return;
    if (body.rfind("```", 0) == 0) {
        kind_ = Line::code;
        line_ = body;
        head_.clear();
        return;
    }
    if (lead == 0 && body[0] == '|') {
        kind_ = Line::table_row;
        line_ = body;
        head_.clear();
        return;
    }
    if (lead == 0 && body[0] == '#') {
        const size_t hashes = body.find_first_not_of('#');
        if (hashes == std::string::npos) return;  // more '#' may come
        if (body[hashes] == ' ' && hashes <= 6) {
            heading_ = true;
            out_ += restyle();
            return as(Line::heading, hashes + 1, "");
        }
        return as(Line::paragraph, 0, "");
    }
    if (body[0] == '>') {
        quote_ = true;
        const size_t skip = lead + (body.size() > 1 && body[1] == ' ' ? 2 : 1);
        if (body.size() < 2) return;  // a space may follow
        std::string bar = style("2") + "│ ";
        kind_           = Line::quote;
        out_ += std::string(lead, ' ') + bar;
        col_ += static_cast<int>(lead) + 2;
        indent_ = col_;
        const std::string rest = h.substr(skip);
        head_.clear();
        for (char r : rest) inline_char(r);
        return;
    }
    if (body[0] == '-' || body[0] == '*' || body[0] == '+') {
        if (body.size() < 2) return;
        if (body[1] == ' ') return as(Line::item, lead + 2, std::string(lead, ' ') + style("33") + "• " + style("0"));
        return as(Line::paragraph, 0, "");
    }
    if (std::isdigit(static_cast<unsigned char>(body[0]))) {
        const size_t digits = body.find_first_not_of("0123456789");
        if (digits == std::string::npos) return;
        if (body[digits] == '.' || body[digits] == ')') {
            if (digits + 1 >= body.size()) return;
            if (body[digits + 1] == ' ') {
                return as(Line::item, lead + digits + 2, std::string(lead, ' ') + style("33") + body.substr(0, digits + 1) + " " + style("0"));
            }
        }
        return as(Line::paragraph, 0, "");
    }
    return as(Line::paragraph, 0, "");
}

void MarkdownStream::inline_char(char c) {
    utf8_ += c;
    if (utf8_.size() < utf8::char_length(static_cast<unsigned char>(utf8_[0]))) return;
    std::string ch;
    ch.swap(utf8_);  // (a move-construct here trips GCC 12's -Wmaybe-uninitialized)
    if (star_) {
        star_ = false;
        if (ch == "*") {
            bold_ = !bold_;
            word_ += restyle();
            return;
        }
        if (!italic_ && (ch == " " || ch == "\t")) {
            emit_word_char("*");  // "2 * 3": a star before a space opens nothing
        } else {
            italic_ = !italic_;
            word_ += restyle();
        }
    }
    if (ch == "*" && !code_span_) {
        star_ = true;
        return;
    }
    if (ch == "`") {
        code_span_ = !code_span_;
        word_ += restyle();
        return;
    }
    if (ch == " " || ch == "\t") {
        flush_word();
        if (o_.width <= 0 || col_ < o_.width) {
            out_ += ' ';
            ++col_;
        }
        return;
    }
    emit_word_char(ch);
}

void MarkdownStream::emit_word_char(const std::string & ch) {
    word_ += ch;
    word_cols_ += utf8::char_width(ch);
    // A word longer than a whole line goes out in pieces.
    if (o_.width > 0 && word_cols_ >= o_.width - indent_) flush_word();
}

void MarkdownStream::flush_word() {
    if (word_.empty()) return;
    if (o_.width > 0 && word_cols_ > 0 && col_ + word_cols_ > o_.width && col_ > indent_) {
        out_ += "\n" + std::string(static_cast<size_t>(indent_), ' ');
        col_ = indent_;
    }
    out_ += word_;
    col_ += word_cols_;
    word_.clear();
    word_cols_ = 0;
}

void MarkdownStream::end_line() {
    if (star_) {
        star_ = false;
        emit_word_char("*");
    }
    if (!utf8_.empty()) {
        emit_word_char(utf8_);
        utf8_.clear();
    }
    flush_word();
    bold_ = italic_ = code_span_ = heading_ = quote_ = false;
    out_ += style("0") + "\n";
    col_    = 0;
    indent_ = 0;
    kind_   = Line::undecided;
    head_.clear();
}

void MarkdownStream::end_code_line() {
    const std::string line = std::move(line_);
    line_.clear();
    kind_ = Line::undecided;
    head_.clear();
    if (!in_code_) {  // an opening fence
        lang_ = trim(line.substr(line.find("```") + 3));
        for (auto & ch : lang_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        out_ += style("2;7") + " " + (lang_.empty() ? std::string("code") : lang_) + " " + style("0") + "\n";
        in_code_ = true;
        return;
    }
    if (trim(line).rfind("```", 0) == 0) {
        in_code_ = false;
        lang_.clear();
        return;
    }
    // Colour one line: comments, strings, numbers, keywords.
    const auto & keys  = keywords(lang_);
    const bool   hash  = hash_comments(lang_);
    std::string  out   = "  ";
    for (size_t i = 0; i < line.size();) {
        const char c = line[i];
        if ((hash && c == '#') || (!hash && c == '/' && i + 1 < line.size() && line[i + 1] == '/' && !keys.empty())) {
            out += style("2") + line.substr(i) + style("0");
            break;
        }
        if ((c == '"' || c == '\'') && !keys.empty()) {
            size_t j = i + 1;
            while (j < line.size() && line[j] != c) j += line[j] == '\\' ? 2 : 1;
            j = std::min(j + 1, line.size());
            out += style("32") + line.substr(i, j - i) + style("0");
            i = j;
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) && !keys.empty()) {
            size_t j = i;
            while (j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) || line[j] == '.')) ++j;
            out += style("33") + line.substr(i, j - i) + style("0");
            i = j;
            continue;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t j = i;
            while (j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) || line[j] == '_')) ++j;
            const std::string word = line.substr(i, j - i);
            out += keys.count(word) ? style("35") + word + style("0") : word;
            i = j;
            continue;
        }
        out += c;
        ++i;
    }
    out_ += out + "\n";
}

void MarkdownStream::flush_table() {
    std::vector<std::vector<std::string>> rows;
    bool                                  header = false;
    for (const auto & r : table_) {
        std::vector<std::string> cells;
        std::string              s = trim(r);
        if (!s.empty() && s.front() == '|') s.erase(0, 1);
        if (!s.empty() && s.back() == '|') s.pop_back();
        size_t start = 0;
        for (size_t i = 0; i <= s.size(); ++i) {
            if (i == s.size() || s[i] == '|') {
                cells.push_back(trim(s.substr(start, i - start)));
                start = i + 1;
            }
        }
        const bool separator = std::all_of(cells.begin(), cells.end(), [](const std::string & c) {
            return !c.empty() && c.find_first_not_of(":-") == std::string::npos;
        });
        if (separator) {
            header = rows.size() == 1;
            continue;
        }
        rows.push_back(std::move(cells));
    }
    table_.clear();
    size_t cols = 0;
    for (const auto & r : rows) cols = std::max(cols, r.size());
    std::vector<int> widths(cols, 0);
    for (const auto & r : rows) {
        for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], display_width(r[i]));
    }
    auto rule = [&](const char * left, const char * mid, const char * right) {
        std::string s = style("2") + left;
        for (size_t i = 0; i < cols; ++i) {
            for (int k = 0; k < widths[i] + 2; ++k) s += "─";
            s += i + 1 < cols ? mid : right;
        }
        return s + style("0") + "\n";
    };
    for (size_t r = 0; r < rows.size(); ++r) {
        std::string line = style("2") + "│" + style("0");
        for (size_t i = 0; i < cols; ++i) {
            const std::string cell = i < rows[r].size() ? rows[r][i] : "";
            const bool        bold = header && r == 0;
            line += " " + (bold ? style("1") : "") + cell + (bold ? style("0") : "") +
                    std::string(static_cast<size_t>(widths[i] - display_width(cell)), ' ') + " " + style("2") + "│" + style("0");
        }
        out_ += line + "\n";
        if (header && r == 0) out_ += rule("├", "┼", "┤");
    }
}

std::string MarkdownStream::finish() {
    if (kind_ == Line::code || kind_ == Line::table_row || in_code_) {
        if (!line_.empty() || kind_ != Line::undecided) feed('\n');
        if (in_code_) in_code_ = false;
    }
    if (kind_ == Line::undecided && !head_.empty()) {
        kind_ = Line::paragraph;
        const std::string held = std::move(head_);
        head_.clear();
        for (char h : held) inline_char(h);
    }
    if (!table_.empty()) flush_table();
    if (kind_ != Line::undecided) {
        if (star_) {
            star_ = false;
            emit_word_char("*");
        }
        flush_word();
        out_ += style("0");
    }
    std::string out;
    out.swap(out_);
    return out;
}

}  // namespace kiln::cli
