// Counters and histograms the scheduler keeps for /metrics. Lock-free
// updates from the run loop; any thread may read.
#pragma once

#include <memory>
#include <atomic>
#include <cstdint>
#include <vector>

namespace kiln::scheduler {

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);

    const std::vector<double> & bounds() const { return bounds_; }
    // Cumulative count of observations <= bounds()[i]; i == bounds().size(): all.
    uint64_t cumulative(size_t i) const;
    uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    double   sum() const { return sum_.load(std::memory_order_relaxed); }

  private:
    std::vector<double>                    bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
    std::atomic<uint64_t>                  count_{0};
    std::atomic<double>                    sum_{0};
};

struct Metrics {
    std::atomic<uint64_t> requests_finished{0};
    std::atomic<uint64_t> requests_cancelled{0};
    std::atomic<uint64_t> requests_refused{0};
    std::atomic<uint64_t> prompt_tokens{0};      // prompt tokens of admitted requests
    std::atomic<uint64_t> cached_prompt_tokens{0};  // of which reused from the prefix cache
    std::atomic<uint64_t> generated_tokens{0};
    std::atomic<uint64_t> decode_steps{0};
    std::atomic<uint64_t> preemptions{0};        // requests paused for KV room
    std::atomic<uint64_t> evicted_prefixes{0};   // dropped (not kept in host memory)
    std::atomic<uint64_t> spilled_prefixes{0};   // moved from the KV pool to host memory
    std::atomic<uint64_t> restored_prefixes{0};  // moved back for a request that continues them
    std::atomic<uint64_t> host_cache_bytes{0};   // host memory the spilled prefixes take now
    Histogram ttft_seconds{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
    Histogram step_seconds{{0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
};

}  // namespace kiln::scheduler
