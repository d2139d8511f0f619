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

// Keeps the C library's allocator from holding on to memory a long-running
// process has freed (glibc; elsewhere nothing). By default glibc raises its
// thresholds each time a large block is freed, after which large blocks come
// from its per-thread heaps and up to 64 MiB of free memory stays resident at
// the top of each: after minutes of loads, unloads and streams, kiln with no
// model held 67-139 MiB, with 0.5-3 MiB in use; with fixed thresholds, about
// 30 MiB.
// A threshold the user sets with GLIBC_TUNABLES wins.
void limit_allocator_retention();

}  // namespace kiln
