#include "core/utf8.h"

#include <algorithm>
#include <cstring>

#include <utf8proc.h>

namespace kiln::utf8 {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

const utf8proc_uint8_t * bytes(std::string_view s) { return reinterpret_cast<const utf8proc_uint8_t *>(s.data()); }

// Length of a valid sequence at s[i] (utf8proc decides: no overlong forms,
// no surrogates, nothing past U+10FFFF), 0 if invalid, -1 if it is cut off
// by the end of s and bytes still to come could complete it.
int valid_sequence_at(std::string_view s, size_t i) {
    const auto *            p    = bytes(s) + i;
    const auto              left = static_cast<utf8proc_ssize_t>(s.size() - i);
    utf8proc_int32_t        cp   = 0;
    const utf8proc_ssize_t  n    = utf8proc_iterate(p, left, &cp);
    if (n > 0) return static_cast<int>(n);
    const int want = utf8proc_utf8class[p[0]];
    if (want <= left) return 0;
    // Completable? Only the second byte has a range narrower than 80..BF
    // (E0: A0.., ED: ..9F, F0: 90.., F4: ..8F), and each holds 80 or BF.
    for (const utf8proc_uint8_t pad : {0x80, 0xBF}) {
        utf8proc_uint8_t whole[4];
        std::memcpy(whole, p, static_cast<size_t>(left));
        std::memset(whole + left, pad, static_cast<size_t>(want - left));
        if (utf8proc_iterate(whole, want, &cp) == want) return -1;
    }
    return 0;
}

}  // namespace

size_t char_length(unsigned char lead) {
    const int n = utf8proc_utf8class[lead];
    return n > 0 ? static_cast<size_t>(n) : 1;
}

int char_width(std::string_view ch) {
    utf8proc_int32_t cp = 0;
    if (ch.empty() || utf8proc_iterate(bytes(ch), static_cast<utf8proc_ssize_t>(ch.size()), &cp) <= 0) return 1;
    return utf8proc_charwidth(cp);
}

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
