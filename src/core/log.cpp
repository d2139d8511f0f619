#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace kiln::log {
namespace {

Level initial_level() {
    Level l = Level::info;
    if (const char * env = std::getenv("KILN_LOG_LEVEL")) parse_level(env, l);
    return l;
}

std::atomic<Level> g_level{initial_level()};
std::mutex         g_mutex;

const char * level_tag(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info:  return "info";
        case Level::warn:  return "warn";
        case Level::error: return "error";
    }
    return "info";
}

}  // namespace

void  set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level & out) {
    if (text == "debug") { out = Level::debug; return true; }
    if (text == "info")  { out = Level::info;  return true; }
    if (text == "warn" || text == "warning") { out = Level::warn; return true; }
    if (text == "error") { out = Level::error; return true; }
    return false;
}

void write(Level l, std::string_view message) {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    localtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "%s.%03d %-5s %.*s\n", stamp, static_cast<int>(ms), level_tag(l),
                 static_cast<int>(message.size()), message.data());
}

}  // namespace kiln::log
