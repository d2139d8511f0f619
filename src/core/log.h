// Process-wide logging to stderr. Thread-safe; lines are written whole.
// The level comes from KILN_LOG_LEVEL (debug, info, warn, error) or set_level.
#pragma once

#include <fmt/format.h>
#include <string>
#include <string_view>

namespace kiln::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void  set_level(Level level);
Level level();
// Parses "debug" | "info" | "warn" | "error"; false if unknown.
bool  parse_level(std::string_view text, Level & out);
void  write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args &&... args) {
    if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args &&... args) {
    if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args &&... args) {
    if (level() <= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args &&... args) {
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace kiln::log
