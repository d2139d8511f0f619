// The scheduler's logic against a fake engine: admission, batch planning,
// prefix reuse, eviction, pausing, cancellation. Deterministic, no model.
#include <gtest/gtest.h>

#include "fake_engine.h"
#include "scheduler/scheduler.h"

using namespace kiln::scheduler;
using kiln::test::FakeEngine;
using kiln::test::FakeSampling;

namespace {

struct Outcome {
    std::vector<Token> tokens;
    Finish             finish = Finish::error;
    JobStats           stats;
    bool               done = false;
    std::shared_ptr<std::atomic<bool>> cancel;
};

std::vector<Token> prompt(int seed, int n) {
    std::vector<Token> p;
    for (int i = 0; i < n; ++i) p.push_back(static_cast<Token>((seed * 7919 + i * 104729) % 1000));
    return p;
}

std::vector<Token> concat(std::vector<Token> a, const std::vector<Token> & b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::shared_ptr<Outcome> submit(Scheduler & s, std::vector<Token> p, int max_tokens, Token stop_at = -1,
                                bool reproducible = false) {
    auto out  = std::make_shared<Outcome>();
    auto job  = std::make_unique<Job>();
    job->prompt       = std::move(p);
    job->max_tokens   = max_tokens;
    job->reproducible = reproducible;
    job->sampling   = std::make_unique<FakeSampling>();
    job->on_token   = [out, stop_at](Token t) {
        out->tokens.push_back(t);
        return t == stop_at ? Verdict::stop : Verdict::more;
    };
    job->on_done = [out](Finish f, const JobStats & st, const kiln::Error *) {
        EXPECT_FALSE(out->done) << "on_done called twice";
        out->finish = f;
        out->stats  = st;
        out->done   = true;
    };
    out->cancel = job->cancelled;
    kiln::Status st = s.submit(std::move(job));
    EXPECT_TRUE(st.ok()) << st.error().message;
    return out;
}

void run_all(Scheduler & s, const std::vector<std::shared_ptr<Outcome>> & outs, int max_steps = 100000) {
    for (int i = 0; i < max_steps; ++i) {
        bool all = true;
        for (const auto & o : outs) all = all && o->done;
        if (all) return;
        s.step();
    }
    FAIL() << "jobs did not finish";
}

// What a job produces alone on a fresh scheduler.
std::vector<Token> alone(std::vector<Token> p, int max_tokens) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, {});
    auto o = submit(s, std::move(p), max_tokens);
    run_all(s, {o});
    return o->tokens;
}

SchedulerOptions opts(int slots, int batch = 512, int cache = 4) {
    SchedulerOptions o;
    o.slots            = slots;
    o.cache_seqs       = cache;
    o.max_batch_tokens = batch;
    return o;
}

}  // namespace

TEST(Scheduler, OneJobGeneratesMaxTokens) {
    FakeEngine engine(1024, 8);
    Scheduler  s(engine, opts(4));
    auto o = submit(s, prompt(1, 20), 10);
    run_all(s, {o});
    EXPECT_EQ(o->finish, Finish::length);
    EXPECT_EQ(o->tokens.size(), 10u);
    EXPECT_EQ(o->stats.n_prompt, 20);
    EXPECT_EQ(o->stats.n_generated, 10);
    EXPECT_EQ(o->stats.n_cached, 0);
}

TEST(Scheduler, OwnerStopEndsTheJob) {
    auto expected = alone(prompt(2, 10), 20);
    FakeEngine engine(1024, 8);
    Scheduler  s(engine, opts(4));
    auto o = submit(s, prompt(2, 10), 20, expected[4]);
    run_all(s, {o});
    EXPECT_EQ(o->finish, Finish::stop);
    EXPECT_EQ(o->tokens, std::vector<Token>(expected.begin(), expected.begin() + 5));
}

TEST(Scheduler, BatchedOutputEqualsAloneOutput) {
    FakeEngine engine(8192, 16);
    Scheduler  s(engine, opts(4, 64));
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 8; ++i) outs.push_back(submit(s, prompt(10 + i, 30 + 17 * i), 25));
    run_all(s, outs);
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(outs[i]->tokens, alone(prompt(10 + i, 30 + 17 * i), 25)) << "job " << i;
    }
    // Never more than 4 sequences and 64 tokens in one step.
    for (const auto & b : engine.batches()) {
        int32_t n = 0;
        for (const auto & c : b) n += static_cast<int32_t>(c.tokens.size());
        EXPECT_LE(n, 64);
        EXPECT_LE(b.size(), 4u);
    }
}

TEST(Scheduler, ReusesAFinishedRequestsPrefix) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(4));
    const auto system = prompt(3, 100);
    auto a = submit(s, concat(system, prompt(4, 10)), 5);
    run_all(s, {a});
    auto b = submit(s, concat(system, prompt(5, 10)), 5);
    run_all(s, {b});
    EXPECT_EQ(b->stats.n_cached, 100);
    EXPECT_EQ(b->tokens, alone(concat(system, prompt(5, 10)), 5));
}

TEST(Scheduler, ReusesARunningRequestsPrefixInAnotherSlot) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(4, 512));
    const auto system = prompt(6, 200);
    auto a = submit(s, concat(system, prompt(7, 5)), 50);
    s.step();  // a is prefilled and decoding
    auto b = submit(s, concat(system, prompt(8, 5)), 5);
    run_all(s, {a, b});
    EXPECT_EQ(b->stats.n_cached, 200);
    EXPECT_EQ(a->tokens, alone(concat(system, prompt(7, 5)), 50));
    EXPECT_EQ(b->tokens, alone(concat(system, prompt(8, 5)), 5));
    // Shared cells: the system prompt is held once.
    EXPECT_LT(engine.used(), 2 * 200);
}

TEST(Scheduler, MultiTurnReusesTheWholeConversation) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(2));
    std::vector<Token> convo = prompt(9, 50);
    for (int turn = 0; turn < 4; ++turn) {
        auto o = submit(s, convo, 8);
        run_all(s, {o});
        if (turn > 0) {
            EXPECT_GE(o->stats.n_cached, static_cast<int32_t>(convo.size()) - 20) << "turn " << turn;
        }
        EXPECT_EQ(o->tokens, alone(convo, 8));
        convo = concat(concat(convo, o->tokens), prompt(20 + turn, 12));
    }
}

TEST(Scheduler, RequestsArrivingTogetherPrefillTheirSharedPrefixOnce) {
    FakeEngine engine(8192, 12);
    Scheduler  s(engine, opts(4, 128, 8));
    const auto system = prompt(110, 300);
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 4; ++i) outs.push_back(submit(s, concat(system, prompt(120 + i, 20)), 5));
    run_all(s, outs);
    int32_t prefilled = 0;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(outs[i]->tokens, alone(concat(system, prompt(120 + i, 20)), 5)) << "job " << i;
        if (i > 0) {
            EXPECT_GE(outs[i]->stats.n_cached, 300 - 64) << "job " << i;
        }
        prefilled += outs[i]->stats.n_prompt - outs[i]->stats.n_cached;
    }
    EXPECT_LE(prefilled, 300 + 3 * 64 + 4 * 20);
}

TEST(Scheduler, EightUsersOverFourSlotsKeepEveryConversationCached) {
    // 4 slots, 8 cache ids: each user's next turn continues its own
    // conversation in place, the shared system prompt is held once, and no
    // cached conversation is dropped while KV memory lasts.
    FakeEngine engine(8192, 12);
    Scheduler  s(engine, opts(4, 512, 8));
    const auto system = prompt(100, 300);
    std::vector<std::vector<Token>> convo(8);
    for (int u = 0; u < 8; ++u) convo[u] = concat(system, prompt(200 + u, 20));
    for (int turn = 0; turn < 4; ++turn) {
        std::vector<std::shared_ptr<Outcome>> outs;
        for (int u = 0; u < 8; ++u) outs.push_back(submit(s, convo[u], 10));
        run_all(s, outs);
        for (int u = 0; u < 8; ++u) {
            const auto n = static_cast<int32_t>(convo[u].size());
            if (turn > 0) {
                // All but the 12 new tokens and the last answer token (sampled, never decoded).
                EXPECT_EQ(outs[u]->stats.n_cached, n - 12 - 1) << "turn " << turn << " user " << u;
            } else if (u >= 4) {
                EXPECT_EQ(outs[u]->stats.n_cached, 300) << "user " << u;
            }
            convo[u] = concat(concat(convo[u], outs[u]->tokens), prompt(300 + 10 * turn + u, 12));
        }
    }
    EXPECT_EQ(s.metrics().evicted_prefixes.load(), 0u);
    // The system prompt once (less than 64 tokens of it computed again by
    // each of the first four users, who arrived together), then each
    // conversation's own tokens.
    int32_t own = 0;
    for (const auto & c : convo) own += static_cast<int32_t>(c.size()) - 12 - 300;
    EXPECT_LE(engine.used(), 300 + 3 * 64 + own);
}

TEST(Scheduler, LongPromptIsChunkedAndDoesNotStallRunningStreams) {
    FakeEngine engine(8192, 8);
    Scheduler  s(engine, opts(4, 32));
    auto a = submit(s, prompt(11, 10), 40);
    s.step();  // a's prompt; a decodes from now on (slot 0)
    auto b = submit(s, prompt(12, 500), 3);
    int  steps = 0;
    while (!a->done) {
        const size_t before = engine.batches().size();
        s.step();
        ASSERT_EQ(engine.batches().size(), before + 1);
        const auto & batch = engine.batches().back();
        int32_t n = 0;
        for (const auto & c : batch) n += static_cast<int32_t>(c.tokens.size());
        EXPECT_LE(n, 32);
        // a's next token is in every step, next to a chunk of b's prompt.
        ASSERT_FALSE(batch.empty());
        EXPECT_EQ(batch.front().seq, 0);
        EXPECT_EQ(batch.front().tokens.size(), 1u);
        ++steps;
    }
    EXPECT_EQ(steps, 39);
    run_all(s, {b});
    EXPECT_EQ(b->tokens, alone(prompt(12, 500), 3));
}

TEST(Scheduler, WhileAnswersStreamAStepHoldsAtMostPrefillStepTokensOfPrompt) {
    FakeEngine engine(8192, 8);
    Scheduler  s(engine, opts(4, 512));  // prefill_step_tokens: 128
    auto a = submit(s, prompt(13, 300), 40);
    s.step();  // nothing streams yet: a's whole prompt in one step
    ASSERT_EQ(engine.batches().size(), 1u);
    EXPECT_EQ(engine.batches().back().front().tokens.size(), 300u);
    auto b = submit(s, prompt(14, 300), 3);
    std::vector<size_t> chunks;
    while (b->tokens.empty()) {
        s.step();
        const auto & batch = engine.batches().back();
        EXPECT_EQ(batch.front().seq, 0);  // a's next token, every step
        for (size_t i = 1; i < batch.size(); ++i) chunks.push_back(batch[i].tokens.size());
    }
    EXPECT_EQ(chunks, (std::vector<size_t>{128, 128, 44}));
    run_all(s, {a, b});
    EXPECT_EQ(b->tokens, alone(prompt(14, 300), 3));
}

TEST(Scheduler, ShortKvEvictsCachedPrefixesThenPausesButNeverFails) {
    FakeEngine engine(300, 16);
    Scheduler  s(engine, opts(4, 64));
    // Fill the cache with finished prefixes.
    for (int i = 0; i < 3; ++i) {
        auto o = submit(s, prompt(30 + i, 60), 2);
        run_all(s, {o});
    }
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 6; ++i) outs.push_back(submit(s, prompt(40 + i, 80), 30));
    run_all(s, outs);
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(outs[i]->finish, Finish::length);
        EXPECT_EQ(outs[i]->tokens, alone(prompt(40 + i, 80), 30)) << "job " << i;
    }
    EXPECT_GT(s.metrics().evicted_prefixes.load(), 0u);
    EXPECT_GT(s.metrics().preemptions.load(), 0u);
    EXPECT_LE(engine.used(), 300);
}

TEST(Scheduler, BigRequestSucceedsWhileThreeOthersRun) {
    // Context 1024: one request needs 3/4 of it while three others run.
    FakeEngine engine(1024, 8);
    Scheduler  s(engine, opts(4, 128));
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 3; ++i) outs.push_back(submit(s, prompt(50 + i, 40), 60));
    s.step();
    outs.push_back(submit(s, prompt(60, 700), 68));
    run_all(s, outs);
    EXPECT_EQ(outs[3]->finish, Finish::length);
    EXPECT_EQ(outs[3]->tokens, alone(prompt(60, 700), 68));
}

TEST(Scheduler, ContextEndFinishesWithLength) {
    FakeEngine engine(256, 8);
    Scheduler  s(engine, opts(1));
    auto o = submit(s, prompt(13, 100), -1);
    run_all(s, {o});
    EXPECT_EQ(o->finish, Finish::length);
    EXPECT_EQ(o->stats.n_prompt + o->stats.n_generated, 256);
}

TEST(Scheduler, RefusesTooLongPromptsAndAFullQueue) {
    FakeEngine engine(256, 8);
    SchedulerOptions o = opts(1);
    o.max_queue = 2;
    Scheduler s(engine, o);
    auto job      = std::make_unique<Job>();
    job->prompt   = prompt(1, 256);
    auto st       = s.submit(std::move(job));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, kiln::ErrorCode::context_exceeded);
    EXPECT_NE(st.error().message.find("256"), std::string::npos);

    auto a = submit(s, prompt(1, 10), 5);
    auto b = submit(s, prompt(2, 10), 5);
    auto c = std::make_unique<Job>();
    c->prompt = prompt(3, 10);
    st = s.submit(std::move(c));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, kiln::ErrorCode::unavailable);
    run_all(s, {a, b});
}

TEST(Scheduler, CancelledJobsLeaveWithinOneStep) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(1));
    auto running = submit(s, prompt(14, 10), 1000);
    auto queued  = submit(s, prompt(15, 10), 1000);
    s.step();
    s.step();
    EXPECT_EQ(s.snapshot().slots[0].state, "decode");
    EXPECT_EQ(s.snapshot().queued, 1);
    queued->cancel->store(true);
    running->cancel->store(true);
    s.step();
    EXPECT_TRUE(running->done);
    EXPECT_TRUE(queued->done);
    EXPECT_EQ(running->finish, Finish::cancelled);
    EXPECT_EQ(queued->finish, Finish::cancelled);
    EXPECT_EQ(s.snapshot().slots[0].state, "cached");
    EXPECT_EQ(s.snapshot().queued, 0);
}

TEST(Scheduler, FairOrderFirstComeFirstServed) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(1));
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 4; ++i) outs.push_back(submit(s, prompt(70 + i, 10), 3));
    std::vector<int> order;
    for (int step = 0; step < 1000 && order.size() < 4; ++step) {
        s.step();
        for (int i = 0; i < 4; ++i) {
            if (outs[i]->done && std::find(order.begin(), order.end(), i) == order.end()) order.push_back(i);
        }
    }
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Scheduler, EngineWithLessRoomThanReportedEndsTheJobInsteadOfLooping) {
    FakeEngine engine(256, 8);
    engine.hidden_cells = 200;
    Scheduler s(engine, opts(2));
    auto o = submit(s, prompt(80, 100), 10);
    run_all(s, {o}, 100);
    EXPECT_EQ(o->finish, Finish::error);
}

TEST(Scheduler, EngineWithLessRoomThanReportedPausesOthersFirst) {
    FakeEngine engine(512, 8);
    engine.hidden_cells = 100;
    Scheduler s(engine, opts(2, 64));
    auto a = submit(s, prompt(81, 150), 60);
    auto b = submit(s, prompt(82, 150), 60);
    run_all(s, {a, b});
    EXPECT_EQ(a->tokens, alone(prompt(81, 150), 60));
    EXPECT_EQ(b->tokens, alone(prompt(82, 150), 60));
    EXPECT_GT(s.metrics().preemptions.load(), 0u);
}

TEST(Scheduler, ReproducibleJobsReuseOnlyWholeBatches) {
    FakeEngine engine(4096, 8);
    Scheduler  s(engine, opts(2, 64));
    auto a = submit(s, prompt(90, 150), 4);
    run_all(s, {a});
    auto b = submit(s, prompt(90, 150), 4, -1, /*reproducible=*/true);
    run_all(s, {b});
    EXPECT_EQ(b->stats.n_cached, 128);
    EXPECT_EQ(b->tokens, a->tokens);
}

namespace {

SchedulerOptions host_cache(int slots, int64_t bytes, int cache = 8) {
    auto o             = opts(slots, 512, cache);
    o.host_cache_bytes = bytes;
    return o;
}

// Steps until all are done; returns the most KV cells in use at once.
int32_t run_all_peak(Scheduler & s, FakeEngine & engine, const std::vector<std::shared_ptr<Outcome>> & outs) {
    int32_t peak = 0;
    for (int i = 0; i < 100000; ++i) {
        bool all = true;
        for (const auto & o : outs) all = all && o->done;
        if (all) return peak;
        s.step();
        peak = std::max(peak, engine.used());
    }
    ADD_FAILURE() << "jobs did not finish";
    return peak;
}

}  // namespace

TEST(Scheduler, HostCacheKeepsOnlyRunningConversationsInThePoolAndBringsThemBack) {
    // The multi-turn shape again, with a host cache: while four users run,
    // the other four conversations wait in host memory, not in the pool, and
    // come back whole (same tokens as computed alone) for their next turn.
    FakeEngine engine(8192, 12);
    Scheduler  s(engine, host_cache(4, int64_t{1} << 30));
    const auto system = prompt(100, 300);
    std::vector<std::vector<Token>> convo(8);
    for (int u = 0; u < 8; ++u) convo[u] = concat(system, prompt(200 + u, 20));
    int32_t peak_last = 0, all_own = 0;
    for (int turn = 0; turn < 4; ++turn) {
        std::vector<std::shared_ptr<Outcome>> outs;
        for (int u = 0; u < 8; ++u) outs.push_back(submit(s, convo[u], 10));
        peak_last = run_all_peak(s, engine, outs);
        all_own   = 0;
        for (int u = 0; u < 8; ++u) {
            const auto n = static_cast<int32_t>(convo[u].size());
            EXPECT_EQ(outs[u]->tokens, alone(convo[u], 10)) << "turn " << turn << " user " << u;
            if (turn > 0) {
                EXPECT_EQ(outs[u]->stats.n_cached, n - 12 - 1) << "turn " << turn << " user " << u;
            }
            convo[u] = concat(concat(convo[u], outs[u]->tokens), prompt(300 + 10 * turn + u, 12));
            all_own += static_cast<int32_t>(convo[u].size()) - 300;
        }
    }
    EXPECT_EQ(s.metrics().evicted_prefixes.load(), 0u);
    EXPECT_GT(s.metrics().spilled_prefixes.load(), 0u);
    EXPECT_GT(s.metrics().restored_prefixes.load(), 0u);
    // The last turn: the system prompt plus at most the four running
    // conversations (and one waiting to be moved out), not all eight.
    const int32_t longest_own = all_own / 8 + 8;
    EXPECT_LE(peak_last, 300 + 5 * longest_own);
    EXPECT_LT(peak_last, 300 + all_own - 2 * longest_own);
}

TEST(Scheduler, HostCacheCapDropsTheLeastRecentlyUsedCopies) {
    FakeEngine engine(8192, 12);
    // Room for about two 100-token copies (the fake stores 4 bytes a token).
    Scheduler s(engine, host_cache(1, 900));
    std::vector<std::vector<Token>> p;
    for (int u = 0; u < 4; ++u) p.push_back(prompt(400 + u, 100));
    std::vector<std::shared_ptr<Outcome>> outs;
    for (int u = 0; u < 4; ++u) outs.push_back(submit(s, p[u], 4));
    run_all(s, outs);
    EXPECT_LE(s.metrics().host_cache_bytes.load(), 900u);
    EXPECT_GT(s.metrics().evicted_prefixes.load(), 0u);
    // The newest copies survive: user 3 (still in the pool) and user 2 reuse;
    // user 0 went first and computes again.
    auto again0 = submit(s, concat(p[0], prompt(500, 5)), 3);
    run_all(s, {again0});
    EXPECT_EQ(again0->stats.n_cached, 0);
    EXPECT_EQ(again0->tokens, alone(concat(p[0], prompt(500, 5)), 3));
    auto again2 = submit(s, concat(p[2], prompt(501, 5)), 3);
    run_all(s, {again2});
    EXPECT_EQ(again2->stats.n_cached, 100);
    EXPECT_EQ(again2->tokens, alone(concat(p[2], prompt(501, 5)), 3));
}

TEST(Scheduler, ASharedPrefixThatLeftTooIsBroughtBackFirst) {
    FakeEngine engine(8192, 12);
    Scheduler  s(engine, host_cache(2, int64_t{1} << 30));
    const auto system = prompt(600, 200);
    const auto a      = concat(system, prompt(601, 30));
    const auto b      = concat(system, prompt(602, 30));
    auto oa = submit(s, a, 5);
    auto ob = submit(s, b, 5);
    run_all(s, {oa, ob});
    // Something else runs: both conversations leave the pool; one copy holds
    // the system prompt, the other only its own part.
    auto other = submit(s, prompt(603, 50), 20);
    run_all(s, {other});
    EXPECT_EQ(s.metrics().spilled_prefixes.load(), 2u);
    EXPECT_LE(engine.used(), 50 + 20);
    const auto a2 = concat(concat(a, oa->tokens), prompt(604, 7));
    const auto b2 = concat(concat(b, ob->tokens), prompt(605, 7));
    auto oa2 = submit(s, a2, 5);
    auto ob2 = submit(s, b2, 5);
    run_all(s, {oa2, ob2});
    EXPECT_EQ(oa2->stats.n_cached, static_cast<int32_t>(a.size()) + 4);
    EXPECT_EQ(ob2->stats.n_cached, static_cast<int32_t>(b.size()) + 4);
    EXPECT_EQ(oa2->tokens, alone(a2, 5));
    EXPECT_EQ(ob2->tokens, alone(b2, 5));
    EXPECT_EQ(s.metrics().evicted_prefixes.load(), 0u);
}

TEST(Scheduler, ACopyThatCannotBeMadeIsDroppedAndTheNextTurnRecomputes) {
    FakeEngine engine(8192, 12);
    engine.fail_spills = true;
    Scheduler s(engine, host_cache(1, int64_t{1} << 30));
    const auto p  = prompt(700, 60);
    auto       o1 = submit(s, p, 4);
    run_all(s, {o1});
    auto o2 = submit(s, prompt(701, 40), 4);
    run_all(s, {o2});
    EXPECT_GT(engine.spills, 0);
    EXPECT_GT(s.metrics().evicted_prefixes.load(), 0u);
    const auto p2 = concat(concat(p, o1->tokens), prompt(702, 5));
    auto       o3 = submit(s, p2, 4);
    run_all(s, {o3});
    EXPECT_EQ(o3->stats.n_cached, 0);
    EXPECT_EQ(o3->tokens, alone(p2, 4));
}
