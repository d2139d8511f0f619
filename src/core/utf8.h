// UTF-8 helpers for streaming text: a token's bytes may end inside a
// multi-byte character, and nothing kiln emits may split one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>
#include <string_view>

namespace kiln::utf8 {

// Length of the longest prefix of `s` that does not end inside an incomplete
// multi-byte sequence. Invalid bytes count as complete (they are passed on
// and become U+FFFD at the JSON boundary), so the result only ever holds
// back the last 1-3 bytes of a sequence that may still be completed.
size_t complete_prefix(std::string_view s);

// Replaces invalid sequences (overlong forms and surrogates included) with
// U+FFFD so the text is safe to put in JSON.
std::string sanitize(std::string_view s);

// Bytes the character that starts with `lead` claims (1 for a byte that
// starts none), for text that arrives a byte at a time.
size_t char_length(unsigned char lead);
// Terminal columns of one character, by utf8proc's East Asian width tables:
// 2 for CJK and emoji, 0 for combining marks and controls, 1 for an invalid
// sequence (it prints as one replacement character).
int char_width(std::string_view ch);

// ASCII letters case-folded, other bytes (UTF-8 included) unchanged: for
// names, hosts and quantization labels compared case-insensitively.
std::string ascii_lower(std::string_view s);
// "a, b,,c" -> {"a", "b", "c"}: comma-separated items, spaces around them
// trimmed, empty ones dropped (settings lists, stored capability lists).
std::vector<std::string> split_list(std::string_view list);
std::string ascii_upper(std::string_view s);
// Levenshtein distance in bytes (for "did you mean" suggestions).
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace kiln::utf8
