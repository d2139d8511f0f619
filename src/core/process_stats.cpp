#include "core/process_stats.h"

#include <cstdlib>
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kiln {

ProcessStats process_stats() {
    ProcessStats s;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        auto value = [&](const char * key) -> std::optional<int64_t> {
            const std::string k = key;
            if (line.compare(0, k.size(), k) != 0) return std::nullopt;
            try {
                return std::stoll(line.substr(k.size()));
            } catch (...) {
                return std::nullopt;
            }
        };
        if (auto v = value("VmRSS:")) s.resident_bytes = *v * 1024;  // in kB
        if (auto v = value("Threads:")) s.threads = *v;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 m = mallinfo2();
    // uordblks: in use from the heaps; hblkhd: in use in blocks of their own
    // mapping (freed at once); fordblks: free but held in the heaps. All 0
    // when another allocator has replaced glibc's (a sanitizer's): unknown.
    if (m.uordblks + m.hblkhd + m.fordblks > 0) {
        s.heap_in_use_bytes = static_cast<int64_t>(m.uordblks + m.hblkhd);
        s.heap_free_bytes   = static_cast<int64_t>(m.fordblks);
    }
#endif
    return s;
}

void limit_allocator_retention() {
#if defined(__GLIBC__)
    const char * tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::string(tunables).find("glibc.malloc.") != std::string::npos) return;
    // Blocks of 4 MiB and more are mapped on their own and unmapped when
    // freed (a model's buffers, a KV cache); a heap's free top past 4 MiB is
    // given back. Setting them also stops glibc from raising them.
    constexpr int threshold = 4 << 20;
    mallopt(M_MMAP_THRESHOLD, threshold);
    mallopt(M_TRIM_THRESHOLD, threshold);
#endif
}

}  // namespace kiln
