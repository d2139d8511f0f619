// The request pipeline against a fake backend behind the real router: a Job
// answered whole or streamed through its Render, the request kind reaching
// the right submit, errors in the family's envelope (an unknown model, a
// refused submit, an error event), nothing run when nothing is to be run,
// and a client that leaves cancelling its request.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include <cpp-httplib/httplib.h>

#include "server/pipeline.h"
#include "router/model_spec.h"

using namespace kiln;
using namespace kiln::router;
using namespace std::chrono_literals;

namespace {

// Answers every request with "Hel", "lo" and a done event (or what `script`
// says), and remembers what it was asked.
class FakeBackend final : public backend::Backend {
  public:
    explicit FakeBackend(std::string id) { info_.id = std::move(id); }
    const backend::ModelInfo & info() const override { return info_; }
    Result<std::shared_ptr<backend::Channel>> submit(backend::ChatRequest) override { return answer("chat"); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::CompletionRequest) override { return answer("completion"); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::EmbedRequest) override { return answer("embed"); }
    Result<std::shared_ptr<backend::Channel>> submit(backend::RerankRequest) override { return answer("rerank"); }
    void shutdown() override {}

    enum class Script { answer, refuse, fail_midway, never_end } script = Script::answer;
    std::function<void()>             on_submit;
    std::vector<std::string>          asked;
    std::shared_ptr<backend::Channel> last;

  private:
    Result<std::shared_ptr<backend::Channel>> answer(const char * kind) {
        asked.push_back(kind);
        if (on_submit) on_submit();
        if (script == Script::refuse) return make_error(ErrorCode::unavailable, "the queue is full");
        auto ch = std::make_shared<backend::Channel>();
        last    = ch;
        if (script == Script::never_end) return ch;
        ch->push(backend::Event::delta("Hel"));
        if (script == Script::fail_midway) {
            ch->push(backend::Event::fail(make_error(ErrorCode::internal, "the run loop stopped")));
            return ch;
        }
        ch->push(backend::Event::delta("lo"));
        backend::Done done;
        done.usage.completion_tokens = 2;
        ch->push(std::move(done));
        return ch;
    }
    backend::ModelInfo info_;
};

class OneModel final : public Loader, public Resolver {
  public:
    FakeBackend * backend = nullptr;
    FakeBackend::Script script = FakeBackend::Script::answer;
    std::function<void()> on_submit;

    Result<ModelSpec> resolve(const std::string & name) override {
        if (name != "m") return make_error(ErrorCode::model_not_found, "model '" + name + "' not found", "model");
        ModelSpec s;
        s.id = name;
        return s;
    }
    Result<Footprint> estimate(const ModelSpec &, int32_t) override {
        Footprint f;
        f.n_ctx   = 512;
        f.weights = 1 << 20;
        return f;
    }
    Result<std::unique_ptr<backend::Backend>> load(const ModelSpec & spec, int32_t) override {
        auto b       = std::make_unique<FakeBackend>(spec.id);
        b->script    = script;
        b->on_submit = on_submit;
        backend      = b.get();
        return std::unique_ptr<backend::Backend>(std::move(b));
    }
};

RouterOptions options() {
    RouterOptions o;
    o.memory_budget = 1ull << 30;
    o.max_models    = 1;
    o.keep_alive    = KeepAlive::forever();
    return o;
}

// Writes each call it gets, so a test reads what the pipeline asked of it.
class TraceRender : public server::Render {
  public:
    explicit TraceRender(const server::Answering & a) : model_(a.model.id) {}
    std::string start() override { return "start(" + model_ + ")|"; }
    std::string event(const backend::Event & ev) override {
        if (const auto * d = ev.as_delta()) return "d:" + d->text + "|";
        if (const auto * f = ev.as_failure()) return "error:" + f->error.message;
        return "done";
    }
    std::string whole(const std::string & text, const backend::Done & done) override {
        return "whole(" + model_ + "):" + text + ":" + std::to_string(done.usage.completion_tokens);
    }

  private:
    std::string model_;
};

server::Job job_for(std::string model, server::BackendRequest request, bool stream = false) {
    server::Job job;
    job.family  = api::Family::ollama;
    job.model   = std::move(model);
    job.request = std::move(request);
    job.stream  = stream;
    job.render  = [](const server::Answering & a) { return std::make_unique<TraceRender>(a); };
    return job;
}

httplib::Request open_request() {
    httplib::Request req;
    req.is_connection_closed = [] { return false; };
    return req;
}

// What a streamed response writes, read to its end as the server would.
std::string read_stream(httplib::Response & res) {
    std::string     out;
    bool            done = false;
    httplib::DataSink sink;
    sink.write = [&](const char * d, size_t n) {
        out.append(d, n);
        return true;
    };
    sink.done = [&] { done = true; };
    EXPECT_TRUE(res.content_provider_);
    while (!done && res.content_provider_(out.size(), 0, sink)) {
    }
    if (res.content_provider_resource_releaser_) res.content_provider_resource_releaser_(true);
    return out;
}

}  // namespace

TEST(Pipeline, AWholeAnswerIsTheRenderOfTheCollectedText) {
    OneModel w;
    Router   router(w, w, options());
    auto     req = open_request();
    httplib::Response res;
    server::run(req, res, router, job_for("m", backend::ChatRequest{}));
    EXPECT_EQ(res.body, "whole(m):Hello:2");
    EXPECT_EQ(res.get_header_value("Content-Type"), "application/json");
    ASSERT_NE(w.backend, nullptr);
    EXPECT_EQ(w.backend->asked, std::vector<std::string>{"chat"});
}

TEST(Pipeline, AStreamIsTheStartThenEachEventInTheJobsContentType) {
    OneModel w;
    Router   router(w, w, options());
    auto     req = open_request();
    httplib::Response res;
    auto job        = job_for("m", backend::CompletionRequest{}, true);
    job.stream_type = "application/x-ndjson";
    server::run(req, res, router, std::move(job));
    EXPECT_EQ(res.get_header_value("Content-Type"), "application/x-ndjson");
    EXPECT_EQ(read_stream(res), "start(m)|d:Hel|d:lo|done");
    EXPECT_EQ(w.backend->asked, std::vector<std::string>{"completion"});
}

TEST(Pipeline, EachKindOfRequestReachesItsOwnSubmit) {
    OneModel w;
    Router   router(w, w, options());
    for (server::BackendRequest r : {server::BackendRequest{backend::EmbedRequest{}}, server::BackendRequest{backend::RerankRequest{}}}) {
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, job_for("m", std::move(r)));
    }
    EXPECT_EQ(w.backend->asked, (std::vector<std::string>{"embed", "rerank"}));
}

TEST(Pipeline, ErrorsAreWrittenInTheJobsFamilysEnvelope) {
    OneModel w;
    Router   router(w, w, options());
    {  // no such model: Ollama's {"error": ...}, 404
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, job_for("nope", backend::ChatRequest{}));
        EXPECT_EQ(res.status, 404);
        EXPECT_EQ(res.body, R"({"error":"model 'nope' not found"})");
    }
    {  // the same in Anthropic's envelope
        auto req = open_request();
        httplib::Response res;
        auto job   = job_for("nope", backend::ChatRequest{});
        job.family = api::Family::anthropic;
        server::run(req, res, router, std::move(job));
        EXPECT_EQ(res.status, 404);
        EXPECT_NE(res.body.find(R"("type":"error")"), std::string::npos) << res.body;
    }
}

TEST(Pipeline, ARefusedSubmitIsA503ThatSaysWhenToTryAgain) {
    OneModel w;
    w.script = FakeBackend::Script::refuse;
    Router router(w, w, options());
    auto   req = open_request();
    httplib::Response res;
    server::run(req, res, router, job_for("m", backend::ChatRequest{}));
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(res.get_header_value("Retry-After"), "1");
    EXPECT_EQ(res.body, R"({"error":"the queue is full"})");
}

TEST(Pipeline, AnErrorEventIsTheFamilysErrorWholeAndTheRendersStreamed) {
    OneModel w;
    w.script = FakeBackend::Script::fail_midway;
    Router router(w, w, options());
    {
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, job_for("m", backend::ChatRequest{}));
        EXPECT_EQ(res.status, 500);
        EXPECT_EQ(res.body, R"({"error":"the run loop stopped"})");
    }
    {
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, job_for("m", backend::ChatRequest{}, true));
        EXPECT_EQ(read_stream(res), "start(m)|d:Hel|error:the run loop stopped");
    }
}

TEST(Pipeline, NothingToRunLeasesTheModelAndAnswersWithoutSubmitting) {
    OneModel w;
    Router   router(w, w, options());
    auto     req = open_request();
    httplib::Response res;
    auto job           = job_for("m", backend::EmbedRequest{});
    job.nothing_to_run = true;
    server::run(req, res, router, std::move(job));
    EXPECT_EQ(res.body, "whole(m)::0");
    ASSERT_NE(w.backend, nullptr);  // loaded: an unknown model would still be a 404
    EXPECT_TRUE(w.backend->asked.empty());
}

TEST(Pipeline, AClientThatLeavesWhileWaitingCancelsItsRequest) {
    OneModel w;
    w.script = FakeBackend::Script::never_end;
    std::atomic<bool> gone{false};
    w.on_submit = [&] { gone = true; };  // the client leaves once its request runs
    Router router(w, w, options());
    httplib::Request req;
    req.is_connection_closed = [&] { return gone.load(); };
    httplib::Response res;
    server::run(req, res, router, job_for("m", backend::ChatRequest{}));
    EXPECT_TRUE(res.body.empty());
    ASSERT_NE(w.backend->last, nullptr);
    EXPECT_TRUE(w.backend->last->cancelled());
}

// Several generations (n > 1): each submitted, each with the Render its
// choice index names, joined whole or streamed with one trailer at the end.
TEST(Pipeline, SeveralGenerationsAreSubmittedEachAndJoined) {
    OneModel w;
    Router   router(w, w, options());
    auto several = [](bool stream) {
        auto job = job_for("m", backend::ChatRequest{}, stream);
        job.more = {backend::ChatRequest{}, backend::ChatRequest{}};
        job.render = [](const server::Answering & a) {
            EXPECT_EQ(a.choices, 3u);
            auto r = std::make_unique<TraceRender>(a);
            return std::unique_ptr<server::Render>(std::move(r));
        };
        job.joined.whole = [](const std::vector<std::string> & answers, const std::vector<backend::Done> & dones) {
            std::string out = std::to_string(dones.size()) + " joined:";
            for (const auto & a : answers) out += " " + a;
            return out;
        };
        job.joined.stream_end = [](const std::vector<backend::Done> & dones) { return "|end of " + std::to_string(dones.size()); };
        return job;
    };
    {
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, several(false));
        EXPECT_EQ(res.body, "3 joined: whole(m):Hello:2 whole(m):Hello:2 whole(m):Hello:2");
        EXPECT_EQ(w.backend->asked, (std::vector<std::string>{"chat", "chat", "chat"}));
    }
    {
        auto req = open_request();
        httplib::Response res;
        server::run(req, res, router, several(true));
        const std::string out = read_stream(res);
        EXPECT_EQ(out.rfind("start(m)|start(m)|start(m)|", 0), 0u) << out;
        // Each choice's events, in its own order, interleaved with the others'.
        size_t deltas = 0, dones = 0;
        for (size_t at = 0; (at = out.find("d:", at)) != std::string::npos; ++at) ++deltas;
        for (size_t at = 0; (at = out.find("done", at)) != std::string::npos; ++at) ++dones;
        EXPECT_EQ(deltas, 6u);
        EXPECT_EQ(dones, 3u);
        EXPECT_NE(out.find("|end of 3"), std::string::npos) << out;
        EXPECT_EQ(out.substr(out.size() - 9), "|end of 3");
    }
}

TEST(Pipeline, ARefusedGenerationOfSeveralCancelsTheOthers) {
    OneModel w;
    Router   router(w, w, options());
    int      submits = 0;
    w.on_submit = [&] {
        if (++submits == 2) w.backend->script = FakeBackend::Script::refuse;
        else w.backend->script = FakeBackend::Script::never_end;
    };
    auto req = open_request();
    httplib::Response res;
    auto job = job_for("m", backend::ChatRequest{});
    job.more = {backend::ChatRequest{}};
    server::run(req, res, router, std::move(job));
    EXPECT_EQ(res.status, 503);
    ASSERT_NE(w.backend->last, nullptr);
    EXPECT_TRUE(w.backend->last->cancelled()) << "the first, already running, is cancelled";
}
