// Continuous batching over one unified KV pool.
//
// One run-loop thread calls step() (through run()); it alone touches the
// Engine. Any thread may submit() and cancel (through the job's flag) and read
// snapshot(). Each step: take new jobs and cancellations, admit queued jobs
// while fewer than `slots` run (reusing the longest cached prefix of any
// sequence, running or finished), plan one batch (one token per decoding job,
// then prompt chunks shortest remaining first, bounded by max_batch_tokens), make KV room
// (evict cached prefixes least recently used first, then pause the youngest
// job, to be recomputed later, never failed), decode, sample, and finish jobs.
//
// Sequence ids form one pool: a finished job's sequence stays as a cached
// prefix where it is, and the next job that continues it (the next turn of a
// chat) runs on it in place; a job that shares only part of it gets a new
// sequence that shares the cells of that part. So `slots + cache_seqs`
// conversations stay cached while KV memory lasts.
//
// With host_cache_bytes, a cached sequence nobody runs is moved to host
// memory (only the cells it does not share) as soon as other requests run,
// and copied back when a request continues it (its shared part comes from
// the sequence that holds it, itself brought back first if it left too).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/engine.h"
#include "scheduler/kv_ledger.h"
#include "scheduler/metrics.h"

namespace kiln::scheduler {

enum class Finish { stop, length, cancelled, error };
const char * finish_name(Finish finish);

// The owner's decision after each sampled token (EOS, a stop string, ...).
enum class Verdict { more, stop };

struct JobStats {
    int32_t n_prompt      = 0;
    int32_t n_cached      = 0;  // prompt tokens reused from cached KV
    int32_t n_generated   = 0;
    double  queue_ms      = 0;  // submit to admission
    double  prompt_ms     = 0;  // admission to the first sampled token
    double  generation_ms = 0;  // first sampled token to the last
};

struct Job {
    std::vector<Token>        prompt;
    int32_t                   max_tokens = -1;  // -1: until the owner stops or the context ends
    // Reuse cached KV only in whole max_batch_tokens chunks from the start: a
    // seeded request alone on the server then samples exactly as on a fresh
    // one (a re-decoded prompt tail in another batch shape changes logits in
    // their last bits, and sampling can follow them).
    bool                      reproducible = false;
    std::unique_ptr<Sampling> sampling;
    // Run-loop thread: every sampled token, in order.
    std::function<Verdict(Token)> on_token;
    // Run-loop thread (or submit()'s caller for a refused job): once, at the end.
    std::function<void(Finish, const JobStats &, const Error *)> on_done;
    // Set by the requester to cancel; seen within one step.
    std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

struct SchedulerOptions {
    int32_t slots            = 4;    // concurrent sequences
    int32_t cache_seqs       = 8;    // sequence ids beyond `slots`, for cached prefixes
    int32_t max_queue        = 64;   // waiting jobs; more are refused (unavailable)
    int32_t max_batch_tokens = 512;  // tokens per decode step
    // A step takes no further prompt once it holds this many prompt tokens
    // (prompts go shortest remaining first): big enough that a step's fixed
    // cost is spread, small enough that prompts finish one after another.
    // While other jobs decode it is also the most prompt tokens a step
    // holds, so a long prompt pauses their streams by a bounded step.
    int32_t prefill_step_tokens = 128;
    int32_t n_ctx_seq        = 0;    // context of one request; 0: the whole KV pool
    // Host memory for cached prefixes moved out of the KV pool. With it, an
    // idle cached sequence leaves the pool while requests run (every cell in
    // the pool widens the attention of every decode step) and comes back,
    // copied, when a request continues it. 0: idle prefixes stay in the pool
    // until it runs short, then are dropped.
    int64_t host_cache_bytes = 0;
};

// A slot is one of the `slots` places a running job takes; it shows the
// sequence its last job ran on while that stays cached.
struct SlotInfo {
    int32_t     id = 0;
    std::string state;  // idle | cached | queued | prefill | decode
    int32_t     n_tokens = 0;  // KV positions the slot holds
    int32_t     n_prompt = 0;
    int32_t     n_generated = 0;
};

struct Snapshot {
    std::vector<SlotInfo> slots;
    int32_t               queued = 0;
    int32_t               kv_used = 0;
    int32_t               kv_size = 0;
    int32_t               n_ctx_seq = 0;
};

class Scheduler {
  public:
    Scheduler(Engine & engine, SchedulerOptions options);
    ~Scheduler();

    // Any thread. Refuses (returning the error, without calling on_done) a
    // prompt that cannot fit one request's context, or a full queue.
    Status submit(std::unique_ptr<Job> job);

    // Run-loop thread: one step. Returns false when there was nothing to do.
    bool step();
    // Run-loop thread: steps until stop(), sleeping while idle.
    void run();
    // Any thread: makes run() return; queued and running jobs finish cancelled.
    void stop();

    Snapshot         snapshot() const;
    const Metrics &  metrics() const { return metrics_; }
    int32_t          n_ctx_seq() const { return n_ctx_seq_; }

  private:
    using clock = std::chrono::steady_clock;
    struct Active;
    struct Seq {
        std::vector<Token> tokens;  // exactly the positions whose KV this sequence holds
        Active *           job = nullptr;
        uint64_t           last_use = 0;
    };

    struct Slot {
        Active * job = nullptr;
        int      last_seq = -1;
    };

    // A cached prefix in host memory.
    struct Spilled {
        std::vector<Token>   tokens;    // the positions 0..n-1 it stands for
        int32_t              base = 0;  // [0, base) is not in `data`: another sequence held it
        std::vector<uint8_t> data;
        uint64_t             last_use = 0;
    };

    void take_inbox();
    void drop_cancelled();
    bool admit(std::unique_ptr<Active> & a);
    int  pick_seq(int best, int32_t len) const;
    int  idle_seq(int keep) const;
    void drop_seq(int seq);
    void spill_idle();
    int  restore(size_t index, int depth);
    int  free_slot() const;
    void clear_seq(int seq);
    bool evict_one();
    bool pause_youngest();
    std::vector<SeqChunk> plan() const;
    std::vector<SeqChunk> fit(std::vector<SeqChunk> chunks);
    void after_decode(const std::vector<SeqChunk> & chunks);
    void finish(Active & a, Finish f, const Error * error = nullptr);
    void cancel_all();
    void publish();

    Engine &           engine_;
    SchedulerOptions   opts_;
    int32_t            n_ctx_seq_;
    KvLedger           ledger_;
    std::vector<Seq>   seqs_;   // the sequence-id pool
    std::vector<Slot>  slots_;
    std::vector<Spilled> spilled_;
    int64_t            spilled_bytes_ = 0;
    std::deque<std::unique_ptr<Active>> queue_;    // run loop's view
    std::vector<std::unique_ptr<Active>> active_;  // admission order
    uint64_t           tick_ = 0;

    mutable std::mutex                   mutex_;  // guards inbox_, stopping_, snapshot_
    std::condition_variable              cv_;
    std::deque<std::unique_ptr<Active>>  inbox_;
    bool                                 stopping_ = false;
    Snapshot                             snapshot_;
    std::atomic<int32_t>                 waiting_{0};  // inbox + queue, for admission control
    Metrics                              metrics_;
};

}  // namespace kiln::scheduler
