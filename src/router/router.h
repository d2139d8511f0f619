// The model manager: a name in a request becomes a loaded backend. Models
// load on demand (one load however many requests wait for it), stay loaded
// while requests use them and for their keep-alive after, and make room for
// each other within a memory budget and a count, least recently used first.
// A model with running or queued requests is never unloaded under them.
//
// The router knows models only through Resolver (names -> specs) and Loader
// (specs -> memory estimates and backends), so its logic is tested with
// fakes; it never knows which kind of backend it holds.
//
// Thread-safe: HTTP handlers call acquire() concurrently. Loads run on the
// thread of the request that asked first; unloads on the thread that needs
// the room, or on the router's own keep-alive thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend/types.h"
#include "core/result.h"
#include "router/keep_alive.h"

namespace kiln::router {

using Clock = std::chrono::steady_clock;

struct ModelSpec;  // router/model_spec.h

// What a model takes in memory once loaded, known before loading.
struct Footprint {
    uint64_t weights    = 0;
    uint64_t kv         = 0;
    uint64_t compute    = 0;
    uint64_t host_cache = 0;  // the cap of its host prompt cache
    int32_t  n_ctx      = 0;  // the KV pool it gets
    bool     fixed_ctx  = false;  // its context is not the router's to choose (an embedding model)
    uint64_t total() const { return weights + kv + compute + host_cache; }
};

class Loader {
  public:
    virtual ~Loader() = default;
    // What `spec` would take with a KV pool of `n_ctx` tokens. Cheap enough
    // to call a few times per load (reads the file's header only). Also on
    // the low-priority thread.
    virtual Result<Footprint> estimate(const ModelSpec & spec, int32_t n_ctx) = 0;
    // Loads it, not yet started (the router calls Backend::start). May take
    // seconds; called without any router lock held, on a thread of the lowest CPU
    // priority (so the models already serving keep their cores).
    virtual Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t n_ctx) = 0;
    // Loads in progress stop as soon as they can, and later ones fail
    // (shutdown). Any thread.
    virtual void cancel_loads() {}
};

class Resolver {
  public:
    virtual ~Resolver() = default;
    // model_not_found naming close names when nothing matches. Any thread.
    virtual Result<ModelSpec> resolve(const std::string & name) = 0;
};

struct RouterOptions {
    uint64_t                  memory_budget = 0;  // bytes for all loaded models together
    int32_t                   max_models    = 3;  // loaded at once
    KeepAlive                 keep_alive    = KeepAlive::minutes(5);
    std::string               default_model;       // what an empty "model" means; empty: the only loaded model
    int32_t                   min_ctx       = 2048;  // the smallest context an automatic one shrinks to
    std::chrono::milliseconds room_wait{std::chrono::minutes(5)};  // a load waits this long for busy models to finish
};

// One loaded (or loading) model, as /api/ps shows it.
struct LoadedModel {
    std::string        id;
    backend::ModelInfo info;      // empty while loading
    Footprint          footprint;
    std::string        context_note;  // how its context was chosen
    bool               loading = false;
    int32_t            active  = 0;   // requests holding it
    KeepAlive          keep_alive;
    // When it unloads if no request comes: nullopt while active or forever.
    std::optional<std::chrono::system_clock::time_point> expires_at;
    double             load_ms = 0;
};

// What a request asks of the model besides its name.
struct Ask {
    // Ollama's per-request keep_alive: replaces the model's.
    std::optional<KeepAlive> keep_alive;
    // A KV pool the request wants (0: the model's own choice); up to the
    // trained context, unless a preset's ctx_size is larger. A loaded
    // model with another context is loaded again with this one, once
    // its running requests end (in-process models only).
    int32_t n_ctx = 0;
    // Polled during a wait for room: true ends it (the client left).
    std::function<bool()> gone;
};

class Router;

// A request's hold on a model: while a lease lives, the model stays loaded.
// Dropping it (the response ended) starts the model's keep-alive again.
class Lease {
  public:
    ~Lease();
    Lease(const Lease &) = delete;
    Lease & operator=(const Lease &) = delete;
    backend::Backend &         backend() const { return *backend_; }
    const backend::ModelInfo & info() const { return backend_->info(); }

  private:
    friend class Router;
    Lease(Router & router, std::string id, std::shared_ptr<backend::Backend> backend)
        : router_(router), id_(std::move(id)), backend_(std::move(backend)) {}
    Router &                          router_;
    std::string                       id_;
    std::shared_ptr<backend::Backend> backend_;
};

class Router {
  public:
    Router(Resolver & resolver, Loader & loader, RouterOptions options);
    // Unloads every model (after shutdown() cancelled their requests).
    ~Router();
    Router(const Router &) = delete;
    Router & operator=(const Router &) = delete;


    // The backend serving `name` (an id, alias or anything the resolver
    // takes; empty: the default model), loaded first if needed. Errors:
    // model_not_found, invalid_request (a model that cannot fit the budget
    // even alone, with the numbers), unavailable (shutting down, or no room
    // in time), a failed load.
    Result<std::shared_ptr<Lease>> acquire(const std::string & name, const Ask & ask = {});
    // What names resolve with (for checks that load nothing).
    Resolver & resolver() { return resolver_; }
    // Loads `name` (or keeps it) without a request.
    Result<LoadedModel> load(const std::string & name, const Ask & ask = {});
    // Unloads now if idle (returns once its memory is free), else as soon as
    // its last request ends. not_found when it is not loaded.
    Result<LoadedModel> unload(const std::string & name);

    std::vector<LoadedModel> loaded() const;
    // f once with every ready model, under the router's lock: for quick
    // reads only (snapshots, metrics), never a request. The backends are
    // valid only during the call.
    struct Ready {
        LoadedModel              model;
        const backend::Backend * backend = nullptr;
    };
    void with_ready(const std::function<void(const std::vector<Ready> &)> & f) const;
    // Cancels every model's requests; later acquires get unavailable.
    void shutdown();

    uint64_t memory_budget() const { return options_.memory_budget; }
    uint64_t memory_reserved() const;  // footprints of loaded and loading models

  private:
    friend class Lease;
    struct Entry;
    using EntryPtr = std::shared_ptr<Entry>;
    struct Plan {
        Footprint   footprint;
        std::string note;
    };

    void release(const std::string & id);
    Result<Plan> plan(const ModelSpec & spec);
    // Under lock: the entry `name` names directly (id or alias), if any.
    EntryPtr find_locked(const std::string & name) const;
    // Under `lock`: unloads idle models until `need` more bytes and one more
    // model fit, waiting (up to the deadline) while busy models hold the room.
    Status make_room(std::unique_lock<std::mutex> & lock, const Footprint & need, const std::string & id,
                     const std::function<bool()> & gone);
    // The context a request's n_ctx means for a model: capped at what it may have.
    static int32_t wanted_ctx(int32_t asked, int32_t n_ctx_train, int32_t preset_ctx);
    uint64_t reserved_locked() const;
    // Under `lock`, which it releases while the backend is destroyed.
    void unload_locked(std::unique_lock<std::mutex> & lock, const EntryPtr & e);
    LoadedModel describe_locked(const Entry & e) const;
    void        reap();  // the keep-alive thread

    Resolver &                      resolver_;
    Loader &                        loader_;
    RouterOptions                   options_;
    mutable std::mutex              mutex_;
    std::condition_variable         changed_;  // any entry changed state or count
    std::map<std::string, EntryPtr> entries_;  // by id
    std::map<std::string, Plan>     plans_;    // by id: estimates are cached
    bool                            stopping_ = false;
    std::thread                     reaper_;
};

}  // namespace kiln::router
