#include "scheduler/metrics.h"

#include <algorithm>

namespace kiln::scheduler {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
    const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    double s = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(s, s + value, std::memory_order_relaxed)) {
    }
}

uint64_t Histogram::cumulative(size_t i) const {
    uint64_t n = 0;
    for (size_t k = 0; k <= std::min(i, bounds_.size()); ++k) n += buckets_[k].load(std::memory_order_relaxed);
    return n;
}

}  // namespace kiln::scheduler
