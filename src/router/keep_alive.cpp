#include "router/keep_alive.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace kiln::router {
namespace {

Error bad(const std::string & text, const std::string & param) {
    return make_error(ErrorCode::invalid_request,
                      (param.empty() ? "" : "'" + param + "' ") + "must be a duration like \"5m\", \"1h30m\" or \"90s\", a number of seconds, 0 "
                      "(unload when idle) or negative (keep loaded), got '" + text + "'",
                      param);
}

}  // namespace

KeepAlive keep_alive_seconds(double seconds) {
    if (seconds < 0) return KeepAlive::forever();
    return {std::chrono::milliseconds(static_cast<int64_t>(std::llround(std::min(seconds, 1e12) * 1000.0)))};
}

Result<KeepAlive> parse_keep_alive(const std::string & text, const std::string & param) {
    if (text.empty()) return bad(text, param);
    // A plain number: seconds.
    {
        double      v = 0;
        const char *b = text.data(), *e = text.data() + text.size();
        auto [p, ec] = std::from_chars(b, e, v);
        if (ec == std::errc() && p == e) {
            if (!std::isfinite(v)) return bad(text, param);
            return keep_alive_seconds(v);
        }
    }
    // Go's duration syntax: [-]{number unit}+ with units h, m, s, ms, us, ns.
    size_t i        = 0;
    bool   negative = false;
    if (text[0] == '-' || text[0] == '+') {
        negative = text[0] == '-';
        i        = 1;
    }
    double total_ms = 0;
    bool   any      = false;
    while (i < text.size()) {
        const size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (i == start) return bad(text, param);
        double n = 0;
        auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, n);
        if (ec != std::errc() || p != text.data() + i) return bad(text, param);
        const size_t ustart = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        const std::string unit = text.substr(ustart, i - ustart);
        double            scale = 0;
        if (unit == "h") scale = 3600e3;
        else if (unit == "m") scale = 60e3;
        else if (unit == "s") scale = 1e3;
        else if (unit == "ms") scale = 1;
        else if (unit == "us" || unit == "µs") scale = 1e-3;
        else if (unit == "ns") scale = 1e-6;
        else return bad(text, param);
        total_ms += n * scale;
        any = true;
    }
    if (!any || total_ms > 1e15) return bad(text, param);
    if (negative && total_ms > 0) return KeepAlive::forever();
    return KeepAlive{std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)))};
}

std::string format_keep_alive(KeepAlive k) {
    if (k.is_forever()) return "forever";
    const int64_t ms = k.duration.count();
    if (ms % 1000 != 0) return fmt::format("{}ms", ms);
    int64_t     s = ms / 1000;
    std::string out;
    if (s >= 3600) out += fmt::format("{}h", s / 3600), s %= 3600;
    if (s >= 60 || !out.empty()) out += fmt::format("{}m", s / 60), s %= 60;
    out += fmt::format("{}s", s);
    return out;
}

}  // namespace kiln::router
