// The router's logic against a fake loader and resolver: load on demand
// (once for many waiters), the memory budget and model count, LRU eviction
// of idle models only, automatic context sizing, keep-alive, unload.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "router/model_spec.h"
#include "router/router.h"

using namespace kiln;
using namespace kiln::router;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t MiB = 1 << 20;

class FakeBackend final : public backend::Backend {
  public:
    explicit FakeBackend(std::string id, std::atomic<int> & alive) : alive_(alive) {
        info_.id = std::move(id);
        alive_++;
    }
    ~FakeBackend() override { alive_--; }
    const backend::ModelInfo & info() const override { return info_; }
    Result<std::shared_ptr<backend::Channel>> submit(backend::ChatRequest) override { return channel(); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::CompletionRequest) override { return channel(); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::EmbedRequest) override { return channel(); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::RerankRequest) override { return channel(); }
    void shutdown() override { stopped = true; }
    std::atomic<bool> stopped{false};

  private:
    std::shared_ptr<backend::Channel> channel() { return std::make_shared<backend::Channel>(); }
    backend::ModelInfo info_;
    std::atomic<int> & alive_;
};

// Each model weighs `weights` MiB plus `kv_per_token` bytes per context token.
struct FakeModel {
    uint64_t weights_mib  = 100;
    uint64_t kv_per_token = 0;
    int32_t  n_ctx_train  = 0;
};

class FakeWorld final : public Loader, public Resolver {
  public:
    std::map<std::string, FakeModel> models;
    std::atomic<int>                 loads{0};
    std::atomic<int>                 alive{0};  // backends not yet destroyed
    std::atomic<int>                 estimates{0};
    std::set<std::string>            failing;
    // While set, load() blocks until it is released.
    std::shared_future<void>         gate;

    std::atomic<int> resolves{0};
    Result<ModelSpec> resolve(const std::string & typed) override {
        resolves++;
        // "short:x" is a short form the resolver knows for x (as the catalog's "org/repo" for "org/repo:Q4_K_M").
        const std::string name = typed.rfind("short:", 0) == 0 ? typed.substr(6) : typed;
        if (!models.count(name)) return make_error(ErrorCode::model_not_found, "model '" + name + "' not found", "model");
        ModelSpec s;
        s.id          = name;
        s.aliases     = {name + "-alias"};
        s.n_ctx_train = models[name].n_ctx_train;
        return s;
    }
    Result<Footprint> estimate(const ModelSpec & spec, int32_t n_ctx) override {
        estimates++;
        const FakeModel & m = models.at(spec.id);
        Footprint         f;
        f.n_ctx   = n_ctx > 0 ? n_ctx : 512;
        f.weights = m.weights_mib * MiB;
        f.kv      = m.kv_per_token * static_cast<uint64_t>(f.n_ctx);
        return f;
    }
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t) override {
        loads++;
        if (gate.valid()) gate.wait();
        if (failing.count(spec.id)) return make_error(ErrorCode::internal, "cannot load " + spec.id);
        return std::unique_ptr<backend::Backend>(new FakeBackend(spec.id, alive));
    }
};

Ask keep(KeepAlive k) {
    Ask a;
    a.keep_alive = k;
    return a;
}

Ask context(int32_t n) {
    Ask a;
    a.n_ctx = n;
    return a;
}

RouterOptions budget_mib(uint64_t mib) {
    RouterOptions o;
    o.memory_budget = mib * MiB;
    o.max_models    = 8;
    o.keep_alive    = KeepAlive::forever();
    o.room_wait     = 10s;
    return o;
}

std::set<std::string> loaded_ids(const Router & r) {
    std::set<std::string> ids;
    for (const auto & m : r.loaded()) ids.insert(m.id);
    return ids;
}

// Waits (bounded) until the router reports `ids` loaded.
bool await_loaded(const Router & r, const std::set<std::string> & ids) {
    for (int i = 0; i < 500; ++i) {
        if (loaded_ids(r) == ids) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace

TEST(Router, ConcurrentRequestsForAModelShareOneLoad) {
    FakeWorld w;
    w.models["a"] = {};
    std::promise<void> open;
    w.gate        = open.get_future().share();
    Router r(w, w, budget_mib(1000));

    std::vector<std::future<Result<std::shared_ptr<Lease>>>> waiting;
    for (int i = 0; i < 8; ++i) waiting.push_back(std::async(std::launch::async, [&] { return r.acquire("a"); }));
    while (w.loads.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // let the others queue up behind the one load
    open.set_value();
    std::set<const backend::Backend *> backends;
    for (auto & f : waiting) {
        auto lease = f.get();
        ASSERT_TRUE(lease) << lease.error().message;
        backends.insert(&(*lease)->backend());
    }
    EXPECT_EQ(w.loads.load(), 1);
    EXPECT_EQ(backends.size(), 1u);
}

TEST(Router, LoadedNamesAndAliasesSkipTheResolver) {
    FakeWorld w;
    w.models["a"] = {};
    Router r(w, w, budget_mib(1000));
    ASSERT_TRUE(r.acquire("a"));
    const int before = w.estimates.load();
    auto      lease  = r.acquire("a-alias");
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease.value()->info().id, "a");
    EXPECT_EQ(w.estimates.load(), before);
    EXPECT_EQ(w.loads.load(), 1);
    // A short form goes through the resolver once, then answers directly too.
    ASSERT_TRUE(r.acquire("short:a"));
    const int resolved = w.resolves.load();
    for (int i = 0; i < 3; ++i) {
        auto again = r.acquire("short:a");
        ASSERT_TRUE(again);
        EXPECT_EQ(again.value()->info().id, "a");
    }
    EXPECT_EQ(w.resolves.load(), resolved);
    EXPECT_EQ(w.loads.load(), 1);
}

TEST(Router, LeastRecentlyUsedIdleModelMakesRoom) {
    FakeWorld w;
    w.models = {{"a", {100}}, {"b", {100}}, {"c", {100}}};
    Router r(w, w, budget_mib(250));  // two fit
    { auto l = r.acquire("a"); ASSERT_TRUE(l); }
    { auto l = r.acquire("b"); ASSERT_TRUE(l); }
    { auto l = r.acquire("a"); ASSERT_TRUE(l); }  // a is now the most recent
    { auto l = r.acquire("c"); ASSERT_TRUE(l); }
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"a", "c"}));
    EXPECT_LE(r.memory_reserved(), r.memory_budget());
    EXPECT_EQ(w.alive.load(), 2);  // b's backend is gone, not just forgotten
    for (int round = 0; round < 3; ++round) {
        for (const char * id : {"a", "b", "c"}) {
            auto l = r.acquire(id);
            ASSERT_TRUE(l) << l.error().message;
            EXPECT_LE(r.memory_reserved(), r.memory_budget());
            EXPECT_LE(w.alive.load(), 2);
        }
    }
}

TEST(Router, ModelCountLimitEvictsToo) {
    FakeWorld w;
    w.models = {{"a", {1}}, {"b", {1}}, {"c", {1}}};
    auto opts       = budget_mib(1000);
    opts.max_models = 2;
    Router r(w, w, opts);
    for (const char * id : {"a", "b", "c"}) ASSERT_TRUE(r.acquire(id));
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"b", "c"}));
}

TEST(Router, BusyModelsAreNeverUnloadedAndALoadWaitsForThem) {
    FakeWorld w;
    w.models = {{"a", {100}}, {"b", {100}}, {"c", {100}}};
    Router r(w, w, budget_mib(250));
    auto   a = r.acquire("a");
    auto   b = r.acquire("b");
    ASSERT_TRUE(a && b);
    auto c = std::async(std::launch::async, [&] { return r.acquire("c"); });
    EXPECT_EQ(c.wait_for(100ms), std::future_status::timeout);  // both busy: c waits
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"a", "b"}));
    EXPECT_FALSE(static_cast<FakeBackend &>((*a)->backend()).stopped);
    b = make_error(ErrorCode::cancelled, "released");  // b's request ends
    auto lease = c.get();
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"a", "c"}));
}

TEST(Router, NoRoomInTimeIsUnavailable) {
    FakeWorld w;
    w.models = {{"a", {100}}, {"b", {100}}};
    auto opts      = budget_mib(150);
    opts.room_wait = 50ms;
    Router r(w, w, opts);
    auto   a = r.acquire("a");
    ASSERT_TRUE(a);
    auto b = r.acquire("b");
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code, ErrorCode::unavailable);
    EXPECT_NE(b.error().message.find("a"), std::string::npos);
}

TEST(Router, AModelThatCannotFitAloneIsRefusedBeforeLoading) {
    FakeWorld w;
    w.models["big"] = {300};
    Router r(w, w, budget_mib(200));
    auto   l = r.acquire("big");
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, ErrorCode::invalid_request);
    EXPECT_NE(l.error().message.find("needs"), std::string::npos);
    EXPECT_NE(l.error().message.find("budget"), std::string::npos);
    EXPECT_EQ(w.loads.load(), 0);
}

TEST(Router, AutomaticContextIsTheTrainedOneWhenItFitsElseTheLargestThatDoes) {
    FakeWorld w;
    w.models["small"] = {100, 1024, 8192};    // 8 MiB of KV at full context
    w.models["long"]  = {100, 16384, 131072};  // 2 GiB at full context
    Router r(w, w, budget_mib(600));
    std::map<std::string, LoadedModel> by_id;
    for (const char * id : {"small", "long"}) {
        auto m = r.load(id);
        ASSERT_TRUE(m) << m.error().message;
        by_id[id] = *m;
    }
    EXPECT_EQ(by_id["small"].footprint.n_ctx, 8192);
    EXPECT_EQ(by_id["small"].context_note, "the model's trained context");
    const int32_t n = by_id["long"].footprint.n_ctx;
    EXPECT_LT(n, 131072);
    EXPECT_GE(n, 2048);
    EXPECT_EQ(n % 256, 0);
    EXPECT_LE(by_id["long"].footprint.total(), r.memory_budget());
    // No more than 256 tokens short of what fits.
    EXPECT_GT(by_id["long"].footprint.total() + 256 * 16384, r.memory_budget());
    EXPECT_NE(by_id["long"].context_note.find("budget"), std::string::npos);
}

TEST(Router, ARequestForAnotherContextReloadsTheModelWithinItsTrainedOne) {
    FakeWorld w;
    w.models["a"] = {100, 1024, 8192};
    Router r(w, w, budget_mib(1000));
    ASSERT_TRUE(r.acquire("a"));
    EXPECT_EQ(r.loaded()[0].footprint.n_ctx, 8192);
    ASSERT_TRUE(r.acquire("a", context(1024)));
    EXPECT_EQ(w.loads.load(), 2);
    EXPECT_EQ(r.loaded()[0].footprint.n_ctx, 1024);
    ASSERT_TRUE(r.acquire("a", context(1024)));  // the same: no reload
    ASSERT_TRUE(r.acquire("a"));                 // no wish: whatever it has
    EXPECT_EQ(w.loads.load(), 2);
    ASSERT_TRUE(r.acquire("a", context(1 << 20)));  // more than trained: the trained one
    EXPECT_EQ(r.loaded()[0].footprint.n_ctx, 8192);
    EXPECT_EQ(w.loads.load(), 3);
    EXPECT_EQ(w.alive.load(), 1);
}

TEST(Router, KeepAliveUnloadsIdleModelsAndForeverKeepsThem) {
    FakeWorld w;
    w.models = {{"a", {1}}, {"b", {1}}, {"c", {1}}};
    Router r(w, w, budget_mib(1000));
    { auto l = r.acquire("a", keep(KeepAlive{50ms})); ASSERT_TRUE(l); }
    { auto l = r.acquire("b", keep(KeepAlive::forever())); ASSERT_TRUE(l); }
    { auto l = r.acquire("c", keep(KeepAlive{0ms})); ASSERT_TRUE(l); }
    EXPECT_TRUE(await_loaded(r, {"b"}));
    for (int i = 0; i < 500 && w.alive.load() > 1; ++i) std::this_thread::sleep_for(10ms);  // unloads finishing
    EXPECT_EQ(w.alive.load(), 1);
}

TEST(Router, KeepAliveWaitsForTheLastRequest) {
    FakeWorld w;
    w.models["a"] = {1};
    Router r(w, w, budget_mib(1000));
    auto   one = r.acquire("a", keep(KeepAlive{0ms}));
    auto   two = r.acquire("a", keep(KeepAlive{0ms}));
    ASSERT_TRUE(one && two);
    one = make_error(ErrorCode::cancelled, "done");
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"a"}));  // two still runs
    two = make_error(ErrorCode::cancelled, "done");
    EXPECT_TRUE(await_loaded(r, {}));
}

TEST(Router, UnloadOfABusyModelHappensWhenItsRequestEnds) {
    FakeWorld w;
    w.models = {{"a", {1}}, {"b", {1}}};
    Router r(w, w, budget_mib(1000));
    { auto l = r.acquire("b"); ASSERT_TRUE(l); }
    auto gone = r.unload("b");
    ASSERT_TRUE(gone);
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{}));
    auto a = r.acquire("a");
    ASSERT_TRUE(a);
    ASSERT_TRUE(r.unload("a-alias"));
    EXPECT_EQ(loaded_ids(r), (std::set<std::string>{"a"}));  // still serving
    a = make_error(ErrorCode::cancelled, "done");
    EXPECT_TRUE(await_loaded(r, {}));
    (void) r.unload("a");  // returns once an unload on its way has ended (or not_found)
    EXPECT_EQ(w.alive.load(), 0);
    auto missing = r.unload("a");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::not_found);
}

TEST(Router, AFailedLoadFailsItsWaitersAndTheNextRequestTriesAgain) {
    FakeWorld w;
    w.models["a"] = {1};
    w.failing.insert("a");
    std::promise<void> open;
    w.gate = open.get_future().share();
    Router r(w, w, budget_mib(1000));
    auto   first  = std::async(std::launch::async, [&] { return r.acquire("a"); });
    while (w.loads.load() == 0) std::this_thread::yield();
    auto second = std::async(std::launch::async, [&] { return r.acquire("a"); });
    std::this_thread::sleep_for(20ms);
    open.set_value();
    EXPECT_FALSE(first.get());
    auto s = second.get();
    EXPECT_FALSE(s);
    w.failing.clear();
    EXPECT_TRUE(r.acquire("a"));
    EXPECT_TRUE(r.loaded().size() == 1);
}

TEST(Router, EmptyNameMeansTheDefaultOrTheOnlyLoadedModel) {
    FakeWorld w;
    w.models = {{"a", {1}}, {"b", {1}}};
    Router r(w, w, budget_mib(1000));
    auto   none = r.acquire("");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().param, "model");
    ASSERT_TRUE(r.load("b"));
    auto only = r.acquire("");
    ASSERT_TRUE(only);
    EXPECT_EQ(only.value()->info().id, "b");

    auto opts          = budget_mib(1000);
    opts.default_model = "a";
    Router with_default(w, w, opts);
    auto   d = with_default.acquire("");
    ASSERT_TRUE(d);
    EXPECT_EQ(d.value()->info().id, "a");
}

TEST(Router, UnknownNamesAreTheResolversError) {
    FakeWorld w;
    Router    r(w, w, budget_mib(1000));
    auto      l = r.acquire("nope");
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, ErrorCode::model_not_found);
}

TEST(Router, ShutdownCancelsBackendsAndRefusesNewRequests) {
    FakeWorld w;
    w.models["a"] = {1};
    Router r(w, w, budget_mib(1000));
    auto   a = r.acquire("a");
    ASSERT_TRUE(a);
    r.shutdown();
    EXPECT_TRUE(static_cast<FakeBackend &>((*a)->backend()).stopped);
    auto again = r.acquire("a");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::unavailable);
}

TEST(KeepAlive, OllamaForms) {
    auto ms = [](const std::string & s) { return parse_keep_alive(s)->duration.count(); };
    EXPECT_EQ(ms("5m"), 300000);
    EXPECT_EQ(ms("1h30m"), 5400000);
    EXPECT_EQ(ms("90s"), 90000);
    EXPECT_EQ(ms("500ms"), 500);
    EXPECT_EQ(ms("300"), 300000);
    EXPECT_EQ(ms("2.5"), 2500);
    EXPECT_EQ(ms("0"), 0);
    EXPECT_TRUE(parse_keep_alive("-1")->is_forever());
    EXPECT_TRUE(parse_keep_alive("-1m")->is_forever());
    for (const char * bad : {"", "5x", "m", "five", "1h-", "nan"}) {
        auto r = parse_keep_alive(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().param, "keep_alive");
        }
    }
    EXPECT_EQ(format_keep_alive(*parse_keep_alive("1h30m")), "1h30m0s");
    EXPECT_EQ(format_keep_alive(KeepAlive::forever()), "forever");
    EXPECT_TRUE(keep_alive_seconds(-5).is_forever());
}
