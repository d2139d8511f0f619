// A deterministic stand-in for the llama engine. It keeps its own model of
// the KV pool (cells shared by seq_cp, freed when no sequence holds them) and
// checks every decode against it, so scheduler bugs that corrupt a sequence's
// KV show up as wrong positions or wrong sampled tokens. The next token is a
// hash of the sequence's whole history: batch composition cannot change it.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "scheduler/engine.h"

namespace kiln::test {

using scheduler::Token;

class FakeSampling : public scheduler::Sampling {};

class FakeEngine : public scheduler::Engine {
  public:
    FakeEngine(int32_t kv_size, int32_t max_seqs) : kv_size_(kv_size), seqs_(max_seqs) {}

    int32_t kv_size() const override { return kv_size_; }
    int32_t max_seqs() const override { return static_cast<int32_t>(seqs_.size()); }

    Result<scheduler::DecodeResult> decode(const std::vector<scheduler::SeqChunk> & chunks) override {
        int32_t n = 0;
        std::set<int32_t> seen;
        for (const auto & c : chunks) {
            n += static_cast<int32_t>(c.tokens.size());
            if (!seen.insert(c.seq).second) throw std::logic_error("two chunks of one sequence in a batch");
            if (c.pos != static_cast<int32_t>(seqs_.at(c.seq).size())) {
                throw std::logic_error("chunk for seq " + std::to_string(c.seq) + " at pos " + std::to_string(c.pos) +
                                       " but it holds " + std::to_string(seqs_[c.seq].size()));
            }
        }
        if (used() + n > kv_size_ - hidden_cells) return scheduler::DecodeResult::no_room;
        outputs_.clear();
        for (const auto & c : chunks) {
            for (Token t : c.tokens) seqs_[c.seq].push_back(std::make_shared<Token>(t));
            if (c.logits) outputs_.push_back(c.seq);
        }
        batches_.push_back(chunks);
        return scheduler::DecodeResult::ok;
    }

    Token sample(scheduler::Sampling &, int32_t output_index) override {
        uint64_t h = 1469598103934665603ull;
        for (const auto & cell : seqs_.at(outputs_.at(output_index))) {
            if (!cell) throw std::logic_error("sampling a sequence whose prefix was never restored");
            h = (h ^ static_cast<uint64_t>(*cell)) * 1099511628211ull;
        }
        return static_cast<Token>(h % 1000);
    }

    void seq_rm(int32_t seq, int32_t p0, int32_t p1) override {
        auto & s = seqs_.at(seq);
        if (p1 >= 0 && p1 < static_cast<int32_t>(s.size())) throw std::logic_error("seq_rm in the middle");
        if (p0 < static_cast<int32_t>(s.size())) s.resize(p0);
    }

    void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override {
        auto &       d = seqs_.at(dst);
        const auto & s = seqs_.at(src);
        const auto   end = p1 < 0 ? s.size() : static_cast<size_t>(p1);
        if (p0 != 0) throw std::logic_error("seq_cp of a middle part");
        if (d.empty()) {
            d.assign(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(end));
            return;
        }
        // After a seq_fill: the missing prefix of a restored sequence.
        if (d.size() < end) throw std::logic_error("seq_cp over positions the destination has");
        for (size_t i = 0; i < end; ++i) {
            if (d[i]) throw std::logic_error("seq_cp over positions the destination has");
            d[i] = s.at(i);
        }
    }

    // The host copy is the tokens behind the cells, after the first position.
    std::vector<uint8_t> seq_spill(int32_t seq, int32_t p0) override {
        auto & s = seqs_.at(seq);
        std::vector<int32_t> words{p0};
        for (size_t i = static_cast<size_t>(p0); i < s.size(); ++i) words.push_back(*s[i]);
        s.clear();
        ++spills;
        if (fail_spills) return {};
        std::vector<uint8_t> out(words.size() * sizeof(int32_t));
        std::memcpy(out.data(), words.data(), out.size());
        return out;
    }

    bool seq_fill(int32_t seq, const std::vector<uint8_t> & data) override {
        auto & s = seqs_.at(seq);
        if (!s.empty()) throw std::logic_error("seq_fill into a non-empty sequence");
        std::vector<int32_t> words(data.size() / sizeof(int32_t));
        std::memcpy(words.data(), data.data(), words.size() * sizeof(int32_t));
        const auto n = static_cast<int32_t>(words.size()) - 1;
        if (used() + n > kv_size_ - hidden_cells) return false;
        s.assign(static_cast<size_t>(words.at(0)), nullptr);
        for (int32_t i = 0; i < n; ++i) s.push_back(std::make_shared<Token>(words[i + 1]));
        ++fills;
        return true;
    }

    // Distinct cells held by any sequence.
    int32_t used() const {
        std::set<const Token *> cells;
        for (const auto & s : seqs_) {
            for (const auto & c : s) {
                if (c) cells.insert(c.get());
            }
        }
        return static_cast<int32_t>(cells.size());
    }
    const std::vector<std::vector<scheduler::SeqChunk>> & batches() const { return batches_; }
    // Cells the engine has but does not report: decodes fail earlier than the
    // scheduler expects (as a real cache with padding or fragmentation may).
    int32_t hidden_cells = 0;
    int32_t spills = 0, fills = 0;
    bool    fail_spills = false;  // seq_spill saves nothing (as when host memory runs out)

  private:
    int32_t                                          kv_size_;
    std::vector<std::vector<std::shared_ptr<Token>>> seqs_;
    std::vector<int32_t>                             outputs_;
    std::vector<std::vector<scheduler::SeqChunk>>    batches_;
};

}  // namespace kiln::test
