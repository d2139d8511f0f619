#include "core/utf8.h"

#include <algorithm>

namespace kiln::utf8 {
namespace {

// Expected sequence length from a lead byte, 0 for a continuation or invalid byte.
int sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return c >= 0xC2 ? 2 : 0;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return c <= 0xF4 ? 4 : 0;
    return 0;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of a valid sequence at s[i], 0 if invalid, -1 if truncated by the end.
int valid_sequence_at(std::string_view s, size_t i) {
    const int n = sequence_length(static_cast<unsigned char>(s[i]));
    if (n == 0) return 0;
    for (int k = 1; k < n; ++k) {
        if (i + k >= s.size()) return -1;
        if (!is_continuation(static_cast<unsigned char>(s[i + k]))) return 0;
    }
    return n;
}

}  // namespace

size_t complete_prefix(std::string_view s) {
    // Only the last three bytes can start an unfinished sequence.
    const size_t start = s.size() > 3 ? s.size() - 3 : 0;
    for (size_t i = start; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (is_continuation(c)) continue;
        if (valid_sequence_at(s, i) == -1) return i;
    }
    return s.size();
}

std::string sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const int n = valid_sequence_at(s, i);
        if (n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");
            i += 1;
        }
    }
    return out;
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto & c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string ascii_upper(std::string_view s) {
    std::string out(s);
    for (auto & c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

std::vector<std::string> split_list(std::string_view list) {
    std::vector<std::string> out;
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
    };
    for (;;) {
        const size_t comma = list.find(',');
        const auto   item  = trim(list.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) return out;
        list.remove_prefix(comma + 1);
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace kiln::utf8
