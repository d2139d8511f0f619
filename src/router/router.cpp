#include "router/router.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/units.h"
#include "router/backend_kinds.h"
#include "router/model_spec.h"

namespace kiln::router {

using namespace std::chrono_literals;

struct Router::Entry {
    std::string                       id;
    std::vector<std::string>          aliases;
    enum class State { loading, ready, unloading } state = State::loading;
    std::shared_ptr<backend::Backend> backend;
    Plan                              plan;
    int32_t                           active = 0;
    KeepAlive                         keep_alive;
    Clock::time_point                 last_used = Clock::now();
    bool                              unload_when_idle = false;
    std::optional<Error>              failed;  // the load failed; waiters read why
    double                            load_ms = 0;
    bool                              resizable   = false;  // in-process: a request may ask for another context
    int32_t                           n_ctx_train = 0;
    int32_t                           preset_ctx  = 0;
};

int32_t Router::wanted_ctx(int32_t asked, int32_t n_ctx_train, int32_t preset_ctx) {
    if (asked <= 0) return 0;
    const int32_t cap = std::max(n_ctx_train, preset_ctx);
    return cap > 0 ? std::min(asked, cap) : asked;
}

Lease::~Lease() {
    backend_.reset();  // before release: an unload that follows must hold the last reference
    router_.release(id_);
}

Router::Router(Resolver & resolver, Loader & loader, RouterOptions options)
    : resolver_(resolver), loader_(loader), options_(std::move(options)) {
    reaper_ = std::thread([this] { reap(); });
}

Router::~Router() {
    shutdown();
    if (reaper_.joinable()) reaper_.join();
    std::unique_lock lock(mutex_);
    while (!entries_.empty()) {
        auto e = entries_.begin()->second;
        if (e->state == Entry::State::ready && e->active == 0) {
            unload_locked(lock, e);
        } else {
            changed_.wait(lock);  // a load or an unload in flight on another thread
        }
    }
}

void Router::shutdown() {
    loader_.cancel_loads();
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto & [id, e] : entries_) {
        if (e->backend) e->backend->shutdown();
    }
    changed_.notify_all();
}

uint64_t Router::reserved_locked() const {
    uint64_t used = 0;
    for (const auto & [id, e] : entries_) used += e->plan.footprint.total();
    return used;
}

uint64_t Router::memory_reserved() const {
    std::lock_guard lock(mutex_);
    return reserved_locked();
}

Router::EntryPtr Router::find_locked(const std::string & name) const {
    if (auto it = entries_.find(name); it != entries_.end()) return it->second;
    for (const auto & [id, e] : entries_) {
        if (std::find(e->aliases.begin(), e->aliases.end(), name) != e->aliases.end()) return e;
    }
    return nullptr;
}

namespace {

std::string mib(uint64_t bytes) { return format_bytes(bytes); }

// Runs f on a thread of its own at nice 19: sizing and loading a model
// (vocabulary, KV cache clearing) compete for the cores with the models
// already serving, whose spinning thread pools suffer most from losing one.
// A thread of its own because a nice value cannot be lowered back without
// privilege, and threads inherit it.
template <typename F>
auto at_low_priority(F && f) -> decltype(f()) {
    std::optional<decltype(f())> out;
    std::thread t([&] {
        setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
        out.emplace(f());
    });
    t.join();
    return std::move(*out);
}

Error too_big(const ModelSpec & spec, const Footprint & f, uint64_t budget) {
    std::string parts = "weights " + mib(f.weights) + ", KV cache " + mib(f.kv) + " for " + std::to_string(f.n_ctx) +
                        " tokens, compute " + mib(f.compute);
    if (f.host_cache > 0) parts += ", prompt cache " + mib(f.host_cache);
    return make_error(ErrorCode::invalid_request,
                      "model '" + spec.id + "' needs " + mib(f.total()) + " (" + parts + ") but the memory budget is " +
                          mib(budget) + "; raise the budget (--memory-budget), or use a smaller context or quant",
                      "model");
}

}  // namespace

namespace {

std::string plan_key(const ModelSpec & spec) { return spec.id + "@" + std::to_string(spec.llama.n_ctx); }

}  // namespace

Result<Router::Plan> Router::plan(const ModelSpec & spec) {
    {
        std::lock_guard lock(mutex_);
        if (auto it = plans_.find(plan_key(spec)); it != plans_.end()) return it->second;
    }
    const uint64_t budget = options_.memory_budget;
    Plan           p;
    const int32_t  train = spec.n_ctx_train;
    if (spec.llama.n_ctx > 0 || train <= 0) {
        KILN_TRY(p.footprint, loader_.estimate(spec, spec.llama.n_ctx));
        if (p.footprint.total() > budget) return too_big(spec, p.footprint, budget);
        p.note = spec.llama.n_ctx > 0 ? "as configured" : "the backend's default";
    } else {
        KILN_TRY(Footprint full, loader_.estimate(spec, train));
        if (full.total() <= budget) {
            p.footprint = full;
            p.note      = "the model's trained context";
        } else {
            // The largest context that fits: KV grows linearly with it.
            const int32_t lo = std::min(options_.min_ctx, train);
            KILN_TRY(Footprint small, loader_.estimate(spec, lo));
            if (small.total() > budget || full.n_ctx <= small.n_ctx) return too_big(spec, small, budget);
            const double per_token = static_cast<double>(full.total() - small.total()) / (full.n_ctx - small.n_ctx);
            int32_t      n         = lo + static_cast<int32_t>(std::floor((budget - small.total()) / per_token));
            n                      = std::clamp(n / 256 * 256, lo, train);
            p.footprint            = small;
            for (int tries = 0; tries < 8 && n > lo; ++tries) {
                KILN_TRY(Footprint f, loader_.estimate(spec, n));
                if (f.total() <= budget) {
                    p.footprint = f;
                    break;
                }
                n = std::max(lo, (n - std::max(256, n / 16)) / 256 * 256);
            }
            p.note = std::to_string(p.footprint.n_ctx) + " of its trained " + std::to_string(train) +
                     " tokens: the most that fits the memory budget of " + mib(budget);
        }
    }
    std::lock_guard lock(mutex_);
    plans_[plan_key(spec)] = p;
    return p;
}

Status Router::make_room(std::unique_lock<std::mutex> & lock, const Footprint & need, const std::string & id,
                         const std::function<bool()> & gone) {
    const auto deadline = Clock::now() + options_.room_wait;
    for (;;) {
        if (stopping_) return make_error(ErrorCode::unavailable, "the server is shutting down");
        const bool fits = reserved_locked() + need.total() <= options_.memory_budget &&
                          static_cast<int32_t>(entries_.size()) < std::max(1, options_.max_models);
        if (fits) return {};
        EntryPtr victim;
        for (const auto & [other, e] : entries_) {
            if (e->state == Entry::State::ready && e->active == 0 && (!victim || e->last_used < victim->last_used)) {
                victim = e;
            }
        }
        if (victim) {
            log::info("unloading {} to make room for {}", victim->id, id);
            unload_locked(lock, victim);
            continue;
        }
        if (gone && gone()) return make_error(ErrorCode::cancelled, "the client went away");
        if (Clock::now() >= deadline) {
            std::string busy;
            for (const auto & [other, e] : entries_) busy += (busy.empty() ? "" : ", ") + other;
            return make_error(ErrorCode::unavailable, "no room to load '" + id + "': " + busy +
                                                          " still busy; try again when they finish");
        }
        changed_.wait_until(lock, std::min(deadline, Clock::now() + 100ms));
    }
}

void Router::unload_locked(std::unique_lock<std::mutex> & lock, const EntryPtr & e) {
    e->state = Entry::State::unloading;
    auto backend = std::move(e->backend);
    lock.unlock();
    if (backend) {
        backend->shutdown();
        // Freeing a model (its run loop, KV cache, mapping) competes for the
        // cores like loading one. glibc keeps freed heap memory for reuse
        // (its mmap threshold grows with the large buffers a model frees):
        // give it back, so the next model's room is really there.
        at_low_priority([&] {
            backend.reset();
            malloc_trim(0);
            return 0;
        });
    }
    lock.lock();
    if (auto it = entries_.find(e->id); it != entries_.end() && it->second == e) entries_.erase(it);
    log::info("unloaded {}", e->id);
    changed_.notify_all();
}

Result<std::shared_ptr<Lease>> Router::acquire(const std::string & requested, const Ask & ask) {
    auto grant = [&](const EntryPtr & e) {
        e->active++;
        if (ask.keep_alive) e->keep_alive = *ask.keep_alive;
        e->unload_when_idle = false;
        e->last_used        = Clock::now();
        return std::shared_ptr<Lease>(new Lease(*this, e->id, e->backend));
    };
    std::string name = requested.empty() ? options_.default_model : requested;
    std::unique_lock lock(mutex_);
    if (stopping_) return make_error(ErrorCode::unavailable, "the server is shutting down");
    if (name.empty()) {
        if (entries_.size() != 1) {
            return make_error(ErrorCode::invalid_request, "'model' is required: name one of the models", "model");
        }
        name = entries_.begin()->first;
    }
    // Names of loaded models are answered without the resolver (no catalog read per request).
    // A context it asks for that the model has already counts as its own.
    auto fits_ctx = [&](const Entry & e) {
        const int32_t want = wanted_ctx(ask.n_ctx, e.n_ctx_train, e.preset_ctx);
        return !e.resizable || want == 0 || want == e.plan.footprint.n_ctx;
    };
    EntryPtr known = find_locked(name);
    if (known && known->state == Entry::State::ready && fits_ctx(*known)) return grant(known);
    lock.unlock();

    KILN_TRY(ModelSpec spec, resolver_.resolve(name));
    const int32_t preset_ctx = spec.llama.n_ctx;
    const bool in_process = kind_of(spec).in_process;
    if (in_process && ask.n_ctx > 0) spec.llama.n_ctx = wanted_ctx(ask.n_ctx, spec.n_ctx_train, preset_ctx);
    KILN_TRY(Plan p, at_low_priority([&] { return plan(spec); }));
    // The name as typed ("org/repo", a short form) reaches this model directly from now on.
    if (name != spec.id && std::find(spec.aliases.begin(), spec.aliases.end(), name) == spec.aliases.end()) {
        spec.aliases.push_back(name);
    }
    lock.lock();
    for (;;) {
        if (stopping_) return make_error(ErrorCode::unavailable, "the server is shutting down");
        if (auto it = entries_.find(spec.id); it != entries_.end()) {
            EntryPtr e = it->second;
            for (const auto & a : spec.aliases) {
                if (std::find(e->aliases.begin(), e->aliases.end(), a) == e->aliases.end()) e->aliases.push_back(a);
            }
            if (e->state == Entry::State::ready && !fits_ctx(*e)) {
                // Loaded with another context: again with this one, once its requests end.
                if (e->active == 0) {
                    log::info("reloading {} with a context of {} tokens", e->id, p.footprint.n_ctx);
                    unload_locked(lock, e);
                    continue;
                }
                e->unload_when_idle = true;
                changed_.notify_all();
                const bool gone_now = changed_.wait_for(lock, options_.room_wait, [&] {
                    return stopping_ || entries_.find(spec.id) == entries_.end() || entries_.find(spec.id)->second != e;
                });
                if (!gone_now) {
                    return make_error(ErrorCode::unavailable,
                                      "'" + spec.id + "' is busy with another context; try again when it finishes");
                }
                continue;
            }
            if (e->state == Entry::State::ready) return grant(e);
            // Loading (one load for everyone) or unloading: wait for it to settle.
            changed_.wait(lock, [&] { return stopping_ || e->state == Entry::State::ready || e->failed ||
                                             entries_.find(spec.id) == entries_.end() ||
                                             entries_.find(spec.id)->second != e; });
            if (e->failed) return *e->failed;
            continue;
        }
        KILN_CHECK(make_room(lock, p.footprint, spec.id, ask.gone));
        if (entries_.count(spec.id)) continue;  // another request started it while we made room

        auto e        = std::make_shared<Entry>();
        e->id         = spec.id;
        e->aliases    = spec.aliases;
        e->plan       = p;
        e->keep_alive = spec.keep_alive.value_or(options_.keep_alive);
        e->resizable   = in_process && !p.footprint.fixed_ctx;
        e->n_ctx_train = spec.n_ctx_train;
        e->preset_ctx  = preset_ctx;
        entries_[spec.id] = e;
        lock.unlock();
        log::info("loading {} (context {} tokens: {}; needs {})", spec.id, p.footprint.n_ctx, p.note,
                  mib(p.footprint.total()));
        const auto t0     = Clock::now();
        auto       loaded = at_low_priority([&] { return loader_.load(spec, p.footprint.n_ctx); });
        if (loaded) (*loaded)->start();
        lock.lock();
        if (!loaded) {
            e->failed = loaded.error();
            entries_.erase(spec.id);
            changed_.notify_all();
            return loaded.error();
        }
        e->backend = std::shared_ptr<backend::Backend>(std::move(*loaded));
        e->load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        e->state   = Entry::State::ready;
        if (stopping_) e->backend->shutdown();
        changed_.notify_all();
        return grant(e);
    }
}

void Router::release(const std::string & id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry & e = *it->second;
    e.active  = std::max(0, e.active - 1);
    e.last_used = Clock::now();
    changed_.notify_all();  // the keep-alive thread and requests waiting for room
}

Result<LoadedModel> Router::load(const std::string & name, const Ask & ask) {
    KILN_TRY(auto lease, acquire(name, ask));
    std::string id = lease->info().id;
    lease.reset();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return make_error(ErrorCode::unavailable, "model '" + id + "' was unloaded again at once");
    return describe_locked(*it->second);
}

Result<LoadedModel> Router::unload(const std::string & name) {
    std::unique_lock lock(mutex_);
    EntryPtr e = find_locked(name);
    if (!e) {
        lock.unlock();
        auto spec = resolver_.resolve(name);  // a short name for a loaded model
        lock.lock();
        if (spec) e = find_locked(spec->id);
        if (!e) return make_error(ErrorCode::not_found, "model '" + name + "' is not loaded", "model");
    }
    changed_.wait(lock, [&] { return e->state != Entry::State::loading; });
    LoadedModel before = describe_locked(*e);
    if (e->state == Entry::State::unloading) {  // already on its way out: done when its memory is free
        changed_.wait(lock, [&] {
            auto it = entries_.find(e->id);
            return it == entries_.end() || it->second != e;
        });
        return before;
    }
    if (e->active > 0) {
        e->unload_when_idle = true;  // the keep-alive thread unloads it when the last request ends
        changed_.notify_all();
        return before;
    }
    unload_locked(lock, e);
    return before;
}

LoadedModel Router::describe_locked(const Entry & e) const {
    LoadedModel m;
    m.id           = e.id;
    if (e.backend) m.info = e.backend->info();
    m.footprint    = e.plan.footprint;
    m.context_note = e.plan.note;
    m.loading      = e.state == Entry::State::loading;
    m.active       = e.active;
    m.keep_alive   = e.unload_when_idle ? KeepAlive{} : e.keep_alive;
    m.load_ms      = e.load_ms;
    if (!m.keep_alive.is_forever()) {
        const auto from = e.active > 0 ? Clock::now() : e.last_used;
        const auto left = std::chrono::duration_cast<std::chrono::system_clock::duration>(
            from + m.keep_alive.duration - Clock::now());
        m.expires_at = std::chrono::system_clock::now() + left;
    }
    return m;
}

std::vector<LoadedModel> Router::loaded() const {
    std::lock_guard          lock(mutex_);
    std::vector<LoadedModel> out;
    for (const auto & [id, e] : entries_) {
        if (e->state != Entry::State::unloading) out.push_back(describe_locked(*e));
    }
    return out;
}

void Router::with_ready(const std::function<void(const std::vector<Ready> &)> & f) const {
    std::lock_guard    lock(mutex_);
    std::vector<Ready> ready;
    for (const auto & [id, e] : entries_) {
        if (e->state == Entry::State::ready && e->backend) ready.push_back({describe_locked(*e), e->backend.get()});
    }
    f(ready);
}

void Router::reap() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const auto now  = Clock::now();
        auto       next = Clock::time_point::max();
        EntryPtr   victim;
        for (const auto & [id, e] : entries_) {
            if (e->state != Entry::State::ready || e->active > 0) continue;
            if (!e->unload_when_idle && e->keep_alive.is_forever()) continue;
            const auto expiry = e->unload_when_idle ? now : e->last_used + e->keep_alive.duration;
            if (expiry <= now) {
                victim = e;
                break;
            }
            next = std::min(next, expiry);
        }
        if (victim) {
            log::info("{} idle for its keep-alive ({}); unloading", victim->id,
                      format_keep_alive(victim->unload_when_idle ? KeepAlive{} : victim->keep_alive));
            unload_locked(lock, victim);
            continue;
        }
        if (next == Clock::time_point::max()) {
            changed_.wait(lock);
        } else {
            changed_.wait_until(lock, next);
        }
    }
}

}  // namespace kiln::router
