#include "scheduler/kv_ledger.h"

#include <stdexcept>

namespace kiln::scheduler {

KvLedger::KvLedger(int32_t n_seqs) : paths_(n_seqs) {}

int32_t KvLedger::new_cell() {
    ++used_;
    if (!free_.empty()) {
        const int32_t c = free_.back();
        free_.pop_back();
        refs_[c] = 1;
        return c;
    }
    refs_.push_back(1);
    return static_cast<int32_t>(refs_.size()) - 1;
}

void KvLedger::release(int32_t cell) {
    if (--refs_[cell] == 0) {
        --used_;
        free_.push_back(cell);
    }
}

int32_t KvLedger::exclusive(int32_t seq) const {
    int32_t n = 0;
    for (int32_t c : paths_[seq]) n += refs_[c] == 1;
    return n;
}

int32_t KvLedger::shared_prefix(int32_t seq) const {
    int32_t n = 0;
    for (int32_t c : paths_[seq]) {
        if (refs_[c] == 1) break;
        ++n;
    }
    return n;
}

void KvLedger::append(int32_t seq, int32_t n) {
    for (int32_t i = 0; i < n; ++i) paths_[seq].push_back(new_cell());
}

void KvLedger::truncate(int32_t seq, int32_t p0) {
    auto & path = paths_[seq];
    if (p0 < 0) p0 = 0;
    while (static_cast<int32_t>(path.size()) > p0) {
        release(path.back());
        path.pop_back();
    }
}

void KvLedger::share_prefix(int32_t src, int32_t dst, int32_t n) {
    if (!paths_[dst].empty()) throw std::logic_error("share_prefix: destination sequence is not empty");
    if (n > length(src)) throw std::logic_error("share_prefix: source is shorter than n");
    for (int32_t i = 0; i < n; ++i) {
        const int32_t c = paths_[src][i];
        ++refs_[c];
        paths_[dst].push_back(c);
    }
}

}  // namespace kiln::scheduler
