// What the HTTP server allows its connections: how many, and how long a
// client may take to send a request or to read its answer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kiln::server {

struct ConnectionLimits {
    int32_t                   max_total      = 1024;  // open connections; more are answered 503 and closed
    int32_t                   max_per_client = 256;   // open connections of one client address
    std::chrono::milliseconds header_timeout{10'000}; // a request's line and headers, from its first byte
    std::chrono::milliseconds body_timeout{60'000};   // its body, from the end of its headers
    std::chrono::milliseconds idle_timeout{5'000};    // waiting for a request (a new or kept-alive connection)
    std::chrono::milliseconds send_timeout{10'000};   // a client that reads nothing of its answer this long is dropped
};

// Counters for /metrics and the logs. Any thread.
struct ConnectionStats {
    std::atomic<int64_t> open{0};
    std::atomic<int64_t> accepted{0};
    std::atomic<int64_t> refused{0};    // over a cap
    std::atomic<int64_t> timed_out{0};  // closed by a header, body or send deadline
};

}  // namespace kiln::server
