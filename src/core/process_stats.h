// The process's own memory, as /metrics and the soak report it: what the
// kernel counts (resident pages) and what the C library's allocator holds
// (in use by live allocations, or freed and kept for reuse). A resident size
// that grows while "in use" stays flat is the allocator keeping memory, not
// a leak.
#pragma once

#include <cstdint>
#include <optional>

namespace kiln {

struct ProcessStats {
    int64_t                resident_bytes = 0;  // VmRSS
    int64_t                threads        = 0;
    std::optional<int64_t> heap_in_use_bytes;   // glibc only: live allocations
    std::optional<int64_t> heap_free_bytes;     // glibc only: freed, still held by malloc
};

ProcessStats process_stats();

}  // namespace kiln
