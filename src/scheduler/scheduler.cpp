#include "scheduler/scheduler.h"

#include <algorithm>

namespace kiln::scheduler {

const char * finish_name(Finish f) {
    switch (f) {
        case Finish::stop:      return "stop";
        case Finish::length:    return "length";
        case Finish::cancelled: return "cancelled";
        case Finish::error:     return "error";
    }
    return "stop";
}

struct Scheduler::Active {
    std::unique_ptr<Job> job;
    std::vector<Token>   tokens;     // what to prefill: the prompt, plus generated tokens after a pause
    std::vector<Token>   generated;  // every sampled token
    int32_t              seq = -1;
    int32_t              slot = -1;
    bool                 decoding = false;  // prefill done; `pending` is next
    Token                pending = 0;
    bool                 resumed = false;   // admitted again after a pause
    uint64_t             order = 0;         // admission order
    JobStats             stats;
    clock::time_point    t_submit, t_admit, t_first;
};

namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

int32_t common_prefix(const std::vector<Token> & a, const std::vector<Token> & b, size_t cap) {
    size_t n = 0;
    const size_t m = std::min({a.size(), b.size(), cap});
    while (n < m && a[n] == b[n]) ++n;
    return static_cast<int32_t>(n);
}

}  // namespace

Scheduler::Scheduler(Engine & engine, SchedulerOptions options)
    : engine_(engine),
      opts_(options),
      n_ctx_seq_(options.n_ctx_seq > 0 ? std::min(options.n_ctx_seq, engine.kv_size()) : engine.kv_size()),
      ledger_(engine.max_seqs()),
      seqs_(static_cast<size_t>(std::min(engine.max_seqs(), options.slots + std::max(1, options.cache_seqs)))) {
    // At least one sequence id beyond the running jobs, for admission.
    opts_.slots = std::max<int32_t>(1, std::min<int32_t>(opts_.slots, static_cast<int32_t>(seqs_.size()) - 1));
    slots_.resize(static_cast<size_t>(opts_.slots));
    publish();
}

Scheduler::~Scheduler() { stop(); }

Status Scheduler::submit(std::unique_ptr<Job> job) {
    const auto n = static_cast<int32_t>(job->prompt.size());
    if (n == 0) return make_error(ErrorCode::invalid_request, "the prompt is empty", "prompt");
    if (n >= n_ctx_seq_) {
        ++metrics_.requests_refused;
        return make_error(ErrorCode::context_exceeded,
                          "the prompt has " + std::to_string(n) + " tokens (n_prompt_tokens) but a request's context holds " +
                              std::to_string(n_ctx_seq_) + " (n_ctx); shorten it or raise the context size");
    }
    auto a      = std::make_unique<Active>();
    a->tokens   = job->prompt;
    a->job      = std::move(job);
    a->t_submit = clock::now();
    a->stats.n_prompt = n;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return make_error(ErrorCode::unavailable, "the server is shutting down");
        if (waiting_.load() >= opts_.max_queue) {
            ++metrics_.requests_refused;
            return make_error(ErrorCode::unavailable,
                              "too many requests waiting (" + std::to_string(opts_.max_queue) + "); retry shortly");
        }
        ++waiting_;
        inbox_.push_back(std::move(a));
    }
    cv_.notify_one();
    return {};
}

void Scheduler::take_inbox() {
    std::lock_guard lock(mutex_);
    while (!inbox_.empty()) {
        queue_.push_back(std::move(inbox_.front()));
        inbox_.pop_front();
    }
}

void Scheduler::drop_cancelled() {
    for (auto it = queue_.begin(); it != queue_.end();) {
        if ((*it)->job->cancelled->load()) {
            --waiting_;
            ++metrics_.requests_cancelled;
            (*it)->job->on_done(Finish::cancelled, (*it)->stats, nullptr);
            it = queue_.erase(it);
        } else {
            ++it;
        }
    }
    for (size_t i = 0; i < active_.size();) {
        if (active_[i]->job->cancelled->load()) {
            finish(*active_[i], Finish::cancelled);  // erases active_[i]
        } else {
            ++i;
        }
    }
}

void Scheduler::clear_seq(int seq) {
    engine_.seq_rm(seq, 0, -1);
    ledger_.truncate(seq, 0);
    seqs_[seq].tokens.clear();
}

int Scheduler::free_slot() const {
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
        if (!slots_[i].job) return i;
    }
    return -1;
}

// A sequence id no job runs on, other than `keep`: an empty one, else the
// least recently used cached prefix (which the caller drops).
int Scheduler::idle_seq(int keep) const {
    int lru = -1;
    for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
        if (i == keep || seqs_[i].job) continue;
        if (seqs_[i].tokens.empty()) return i;
        if (lru < 0 || seqs_[i].last_use < seqs_[lru].last_use) lru = i;
    }
    return lru;
}

// Where a job whose longest cached prefix is `best`'s first `len` tokens runs.
int Scheduler::pick_seq(int best, int32_t len) const {
    // In place, when the job continues that sequence (the next turn of a
    // chat; a few last tokens may tokenize differently once rendered into
    // the next prompt). A job sharing less (another user's turn after the
    // same system prompt) leaves it for its owner.
    constexpr int32_t kContinuationSlack = 8;
    if (best >= 0 && !seqs_[best].job &&
        static_cast<int32_t>(seqs_[best].tokens.size()) - len <= kContinuationSlack) {
        return best;
    }
    // Else a new sequence sharing the prefix's cells (the id may be `best`
    // itself when it is the least recently used).
    return idle_seq(-1);
}

// Frees the cells of a cached prefix: into host memory when there is a host
// cache (only the part no other sequence holds), else gone.
void Scheduler::drop_seq(int seq) {
    Seq & s = seqs_[seq];
    if (opts_.host_cache_bytes > 0 && ledger_.exclusive(seq) > 0) {
        Spilled e;
        e.base     = ledger_.shared_prefix(seq);
        e.tokens   = std::move(s.tokens);
        e.last_use = s.last_use;
        e.data     = engine_.seq_spill(seq, e.base);
        ledger_.truncate(seq, 0);
        s.tokens.clear();
        const auto bytes = static_cast<int64_t>(e.data.size());
        if (bytes == 0 || bytes > opts_.host_cache_bytes) {
            ++metrics_.evicted_prefixes;
            return;
        }
        spilled_.push_back(std::move(e));
        spilled_bytes_ += bytes;
        ++metrics_.spilled_prefixes;
        // Over the cap: the least recently used go for good.
        while (spilled_bytes_ > opts_.host_cache_bytes) {
            auto lru = std::min_element(spilled_.begin(), spilled_.end(),
                                        [](const Spilled & a, const Spilled & b) { return a.last_use < b.last_use; });
            spilled_bytes_ -= static_cast<int64_t>(lru->data.size());
            spilled_.erase(lru);
            ++metrics_.evicted_prefixes;
        }
        metrics_.host_cache_bytes = static_cast<uint64_t>(spilled_bytes_);
        return;
    }
    clear_seq(seq);
    ++metrics_.evicted_prefixes;
}

// While requests run, cached prefixes nobody runs move to host memory: each
// cell left in the pool is walked by the attention of every decode step.
void Scheduler::spill_idle() {
    if (opts_.host_cache_bytes <= 0 || active_.empty()) return;
    for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
        if (!seqs_[i].job && !seqs_[i].tokens.empty() && ledger_.exclusive(i) > 0) drop_seq(i);
    }
}

// Brings spilled_[index] back into the pool as an idle cached sequence and
// returns its id, or -1 (then the copy is gone: a cache may lose things).
int Scheduler::restore(size_t index, int depth) {
    Spilled e = std::move(spilled_[index]);
    spilled_.erase(spilled_.begin() + static_cast<std::ptrdiff_t>(index));
    spilled_bytes_ -= static_cast<int64_t>(e.data.size());
    metrics_.host_cache_bytes = static_cast<uint64_t>(spilled_bytes_);
    const auto n = static_cast<int32_t>(e.tokens.size());

    // The shared part: from a sequence in the pool that holds it, or first
    // brought back itself.
    int holder = -1;
    if (e.base > 0) {
        for (int i = 0; i < static_cast<int>(seqs_.size()) && holder < 0; ++i) {
            if (common_prefix(seqs_[i].tokens, e.tokens, static_cast<size_t>(e.base)) == e.base) holder = i;
        }
        for (size_t k = 0; holder < 0 && depth < 4 && k < spilled_.size(); ++k) {
            if (spilled_[k].base < e.base &&
                common_prefix(spilled_[k].tokens, e.tokens, static_cast<size_t>(e.base)) == e.base) {
                holder = restore(k, depth + 1);
                break;
            }
        }
        if (holder < 0) return -1;
    }
    if (engine_.kv_size() - ledger_.used() < n - e.base) return -1;
    const int y = idle_seq(holder);
    if (y < 0) return -1;
    if (!seqs_[y].tokens.empty()) drop_seq(y);
    if (!engine_.seq_fill(y, e.data)) return -1;
    if (e.base > 0) {
        engine_.seq_cp(holder, y, 0, e.base);
        ledger_.share_prefix(holder, y, e.base);
        seqs_[holder].last_use = tick_;
    }
    ledger_.append(y, n - e.base);
    seqs_[y].tokens   = std::move(e.tokens);
    seqs_[y].last_use = tick_;
    ++metrics_.restored_prefixes;
    return y;
}

bool Scheduler::admit(std::unique_ptr<Active> & a) {
    const int slot = free_slot();
    if (slot < 0) return false;
    // The longest cached prefix of any sequence, running or finished, or in
    // host memory. At least one prompt token is left to decode, for the
    // logits to sample.
    const size_t cap    = a->tokens.size() - 1;
    auto         usable = [&](int32_t l) {
        return a->job->reproducible ? l / opts_.max_batch_tokens * opts_.max_batch_tokens : l;
    };
    int     best = -1;
    int32_t len  = 0;
    auto    find_best = [&] {
        best = -1;
        len  = 0;
        for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
            const int32_t l = common_prefix(seqs_[i].tokens, a->tokens, cap);
            if (l > len) {
                len  = l;
                best = i;
            }
        }
        len = usable(len);
        if (len == 0) best = -1;
    };
    find_best();
    int     spilled     = -1;
    int32_t len_spilled = 0;
    for (size_t j = 0; j < spilled_.size(); ++j) {
        const int32_t l = usable(common_prefix(spilled_[j].tokens, a->tokens, cap));
        if (l > len_spilled) {
            len_spilled = l;
            spilled     = static_cast<int>(j);
        }
    }
    // A job still prefilling more of this prompt (requests that arrived
    // together with one system prompt): wait for it rather than compute the
    // same tokens twice. It is older, so it gets the step's budget first.
    constexpr int32_t kWorthWaiting = 64;
    for (const auto & b : active_) {
        if (b->decoding) continue;
        const int32_t shared = common_prefix(b->tokens, a->tokens, cap);
        if (shared - std::max({len, len_spilled, static_cast<int32_t>(seqs_[b->seq].tokens.size())}) >= kWorthWaiting) {
            return false;
        }
    }
    if (len_spilled > len) {
        const int y = restore(static_cast<size_t>(spilled), 0);
        if (y >= 0) {
            best = y;
            len  = len_spilled;
        } else {
            find_best();  // the restore may have moved what was in the pool
        }
    }
    const int s = pick_seq(best, len);
    if (s < 0) return false;  // every sequence runs a job: cannot happen with cache_seqs >= 1
    if (s == best) {
        engine_.seq_rm(s, len, -1);
        ledger_.truncate(s, len);
        seqs_[s].tokens.resize(len);
    } else {
        if (!seqs_[s].tokens.empty()) drop_seq(s);
        if (len > 0) {
            engine_.seq_cp(best, s, 0, len);
            ledger_.share_prefix(best, s, len);
            seqs_[s].tokens.assign(a->tokens.begin(), a->tokens.begin() + len);
            seqs_[best].last_use = tick_;
        }
    }
    seqs_[s].last_use = tick_;
    a->seq            = s;
    a->slot           = slot;
    a->decoding       = false;
    a->order          = tick_;
    if (!a->resumed) {
        a->t_admit          = clock::now();
        a->stats.n_cached   = len;
        a->stats.queue_ms   = ms_between(a->t_submit, a->t_admit);
        metrics_.prompt_tokens += a->stats.n_prompt;
        metrics_.cached_prompt_tokens += len;
    }
    seqs_[s].job        = a.get();
    slots_[slot].job      = a.get();
    slots_[slot].last_seq = s;
    active_.push_back(std::move(a));
    --waiting_;
    return true;
}

std::vector<SeqChunk> Scheduler::plan() const {
    std::vector<SeqChunk> chunks;
    int32_t budget = opts_.max_batch_tokens;
    for (const auto & a : active_) {
        if (!a->decoding) continue;
        chunks.push_back({a->seq, static_cast<int32_t>(seqs_[a->seq].tokens.size()), {a->pending}, true});
        --budget;
    }
    // Prompt chunks in what the step has left: the prompt with the fewest
    // tokens left first (oldest first among equals), and no more prompts
    // once the step holds prefill_step_tokens of them. A step's cost grows
    // with its tokens, so prompts finished one after another give their
    // first tokens sooner, on average, than prompts advanced side by side;
    // and the answers already streaming ride along in every step. While
    // answers stream, prompt tokens stop at prefill_step_tokens even within
    // one prompt: each step is a pause between two of their tokens.
    const bool streaming = !chunks.empty();
    std::vector<const Active *> waiting;
    for (const auto & a : active_) {
        if (!a->decoding) waiting.push_back(a.get());
    }
    auto left = [&](const Active * a) {
        return static_cast<int32_t>(a->tokens.size()) - static_cast<int32_t>(seqs_[a->seq].tokens.size());
    };
    std::stable_sort(waiting.begin(), waiting.end(), [&](const Active * x, const Active * y) { return left(x) < left(y); });
    int32_t prefill = 0;
    for (const Active * a : waiting) {
        if (budget <= 0 || prefill >= opts_.prefill_step_tokens) break;
        const auto done = static_cast<int32_t>(seqs_[a->seq].tokens.size());
        const int32_t room = streaming ? std::min(budget, opts_.prefill_step_tokens - prefill) : budget;
        const auto    n    = std::min<int32_t>(room, left(a));
        SeqChunk c{a->seq, done, {a->tokens.begin() + done, a->tokens.begin() + done + n}, false};
        c.logits = done + n == static_cast<int32_t>(a->tokens.size());
        chunks.push_back(std::move(c));
        budget -= n;
        prefill += n;
    }
    return chunks;
}

bool Scheduler::evict_one() {
    // Least recently used cached prefix whose cells nobody else holds.
    int victim = -1;
    for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
        if (seqs_[i].job || seqs_[i].tokens.empty() || ledger_.exclusive(i) == 0) continue;
        if (victim < 0 || seqs_[i].last_use < seqs_[victim].last_use) victim = i;
    }
    if (victim < 0) return false;
    drop_seq(victim);
    return true;
}

bool Scheduler::pause_youngest() {
    if (active_.size() < 2) return false;
    auto a = std::move(active_.back());
    active_.pop_back();
    // Its KV is recomputed on resumption: prompt and everything sampled so far.
    a->tokens = a->job->prompt;
    a->tokens.insert(a->tokens.end(), a->generated.begin(), a->generated.end());
    a->decoding = false;
    a->resumed  = true;
    seqs_[a->seq].job    = nullptr;
    slots_[a->slot].job  = nullptr;
    clear_seq(a->seq);
    a->seq  = -1;
    a->slot = -1;
    ++waiting_;
    ++metrics_.preemptions;
    queue_.push_front(std::move(a));
    return true;
}

// Shrinks the plan to what the KV pool can hold, evicting cached prefixes and
// pausing the youngest requests as needed. Returns the chunks to decode.
std::vector<SeqChunk> Scheduler::fit(std::vector<SeqChunk> chunks) {
    for (;;) {
        int32_t need_decode = 0, need_prefill = 0;
        for (const auto & c : chunks) {
            const auto n = static_cast<int32_t>(c.tokens.size());
            if (seqs_[c.seq].job->decoding) need_decode += n;
            else need_prefill += n;
        }
        const int32_t free = engine_.kv_size() - ledger_.used();
        if (need_decode + need_prefill <= free) return chunks;
        if (evict_one()) continue;
        if (need_decode <= free && free - need_decode > 0) {
            // Trim prompt chunks to the room left.
            int32_t room = free - need_decode;
            std::vector<SeqChunk> out;
            for (auto & c : chunks) {
                if (seqs_[c.seq].job->decoding) {
                    out.push_back(std::move(c));
                } else if (room > 0) {
                    if (static_cast<int32_t>(c.tokens.size()) > room) {
                        c.tokens.resize(room);
                        c.logits = false;
                    }
                    room -= static_cast<int32_t>(c.tokens.size());
                    out.push_back(std::move(c));
                }
            }
            return out;
        }
        if (!pause_youngest()) return {};
        chunks = plan();
    }
}

void Scheduler::after_decode(const std::vector<SeqChunk> & chunks) {
    int32_t out = 0;
    std::vector<std::pair<Active *, Finish>> done;
    for (const auto & c : chunks) {
        Seq & seq = seqs_[c.seq];
        ledger_.append(c.seq, static_cast<int32_t>(c.tokens.size()));
        seq.tokens.insert(seq.tokens.end(), c.tokens.begin(), c.tokens.end());
        seq.last_use = tick_;
        if (!c.logits) continue;

        Active &    a = *seq.job;
        const Token t = engine_.sample(*a.job->sampling, out++);
        const auto  now = clock::now();
        if (a.stats.n_generated == 0) {
            a.t_first         = now;
            a.stats.prompt_ms = ms_between(a.t_admit, now);
            metrics_.ttft_seconds.observe(ms_between(a.t_submit, now) / 1000.0);
        }
        a.stats.generation_ms = ms_between(a.t_first, now);
        ++a.stats.n_generated;
        ++metrics_.generated_tokens;
        a.generated.push_back(t);
        a.decoding = true;
        a.pending  = t;

        if (a.job->on_token(t) == Verdict::stop) {
            done.emplace_back(&a, Finish::stop);
        } else if (a.job->max_tokens >= 0 && a.stats.n_generated >= a.job->max_tokens) {
            done.emplace_back(&a, Finish::length);
        } else if (static_cast<int32_t>(seq.tokens.size()) + 1 >= n_ctx_seq_) {
            done.emplace_back(&a, Finish::length);  // prompt + output fill the request's context
        }
    }
    for (auto [a, f] : done) finish(*a, f);
}

void Scheduler::finish(Active & a, Finish f, const Error * error) {
    // The sequence keeps its KV as a cached prefix for later requests.
    seqs_[a.seq].job      = nullptr;
    seqs_[a.seq].last_use = tick_;
    slots_[a.slot].job    = nullptr;
    if (f == Finish::cancelled) ++metrics_.requests_cancelled;
    else ++metrics_.requests_finished;
    a.job->on_done(f, a.stats, error);
    auto it = std::find_if(active_.begin(), active_.end(), [&](const auto & p) { return p.get() == &a; });
    active_.erase(it);
}

bool Scheduler::step() {
    ++tick_;
    take_inbox();
    drop_cancelled();
    while (!queue_.empty() && admit(queue_.front())) queue_.pop_front();
    spill_idle();
    if (active_.empty()) {
        publish();
        return false;
    }

    const auto t0     = clock::now();
    auto       chunks = fit(plan());
    if (chunks.empty()) {
        // One request alone fills the pool: its context is full.
        finish(*active_.front(), Finish::length);
        publish();
        return true;
    }
    auto r = engine_.decode(chunks);
    if (!r) {
        const Error e = r.error();
        while (!active_.empty()) finish(*active_.front(), Finish::error, &e);
    } else if (*r == DecodeResult::no_room) {
        // The engine found less room than the ledger: free some and retry.
        if (!evict_one() && !pause_youngest()) {
            const Error e = make_error(ErrorCode::internal, "the KV cache has no room left for this request");
            finish(*active_.front(), Finish::error, &e);
        }
    } else {
        after_decode(chunks);
        ++metrics_.decode_steps;
        metrics_.step_seconds.observe(ms_between(t0, clock::now()) / 1000.0);
    }
    publish();
    return true;
}

void Scheduler::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (stopping_) break;
            if (active_.empty() && queue_.empty()) {
                cv_.wait(lock, [&] { return stopping_ || !inbox_.empty(); });
                if (stopping_) break;
            }
        }
        step();
    }
    cancel_all();
}

void Scheduler::cancel_all() {
    take_inbox();
    const Error e = make_error(ErrorCode::unavailable, "the server is shutting down");
    for (auto & a : queue_) a->job->on_done(Finish::cancelled, a->stats, &e);
    queue_.clear();
    while (!active_.empty()) finish(*active_.front(), Finish::cancelled, &e);
    waiting_ = 0;
    publish();
}

void Scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
}

void Scheduler::publish() {
    Snapshot s;
    s.kv_used   = ledger_.used();
    s.kv_size   = engine_.kv_size();
    s.n_ctx_seq = n_ctx_seq_;
    s.queued    = static_cast<int32_t>(queue_.size());
    for (int i = 0; i < opts_.slots; ++i) {
        SlotInfo info;
        info.id = i;
        const Slot & slot = slots_[i];
        if (const Active * a = slot.job) {
            info.state       = a->decoding ? "decode" : "prefill";
            info.n_tokens    = static_cast<int32_t>(seqs_[a->seq].tokens.size());
            info.n_prompt    = a->stats.n_prompt;
            info.n_generated = a->stats.n_generated;
        } else if (slot.last_seq >= 0 && !seqs_[slot.last_seq].job && !seqs_[slot.last_seq].tokens.empty()) {
            info.state    = "cached";
            info.n_tokens = static_cast<int32_t>(seqs_[slot.last_seq].tokens.size());
        } else {
            info.state = "idle";
        }
        s.slots.push_back(info);
    }
    std::lock_guard lock(mutex_);
    s.queued += static_cast<int32_t>(inbox_.size());
    snapshot_ = std::move(s);
}

Snapshot Scheduler::snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
}

}  // namespace kiln::scheduler
