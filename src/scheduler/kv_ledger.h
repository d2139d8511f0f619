// Exact bookkeeping of the unified KV pool as llama.cpp manages it: a cell
// holds one position of one or more sequences (seq_cp shares cells, it does
// not copy), and is free when no sequence holds it. The scheduler mirrors
// every engine KV operation here to know, before decoding, what is in use.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::scheduler {

class KvLedger {
  public:
    explicit KvLedger(int32_t n_seqs);

    // Cells held by at least one sequence.
    int32_t used() const { return used_; }
    // Positions `seq` holds (its cells are positions 0..length-1).
    int32_t length(int32_t seq) const { return static_cast<int32_t>(paths_[seq].size()); }
    // Cells `seq` holds that no other sequence holds: what dropping it frees.
    int32_t exclusive(int32_t seq) const;
    // Leading positions of `seq` whose cells another sequence holds too.
    int32_t shared_prefix(int32_t seq) const;

    // `n` new cells at the end of `seq` (a decode).
    void append(int32_t seq, int32_t n);
    // Drops `seq`'s positions from p0 on.
    void truncate(int32_t seq, int32_t p0);
    // `dst` (which must be empty) shares `src`'s first n cells.
    void share_prefix(int32_t src, int32_t dst, int32_t n);

  private:
    int32_t new_cell();
    void    release(int32_t cell);

    std::vector<std::vector<int32_t>> paths_;  // per sequence: cell ids by position
    std::vector<int32_t>              refs_;   // per cell: sequences holding it
    std::vector<int32_t>              free_;   // recycled cell ids
    int32_t                           used_ = 0;
};

}  // namespace kiln::scheduler
