// A proxy backend's two paths to its runner (a local HTTP server here): an
// OpenAI request verbatim, its status and bytes back as they come; and a
// typed chat put through a ChatCodec, its answer back as events.
#include <gtest/gtest.h>

#include <thread>

#include <cpp-httplib/httplib.h>

#include "backend/proxy_backend.h"

using namespace kiln;
using namespace kiln::backend;
using namespace std::chrono_literals;

namespace {

// Answers health checks, and POST /v1/chat/completions with two SSE lines
// (or 400 with an error body when the request's body says "refuse").
struct Runner {
    httplib::Server http;
    int             port = 0;
    std::thread     thread;
    std::string     last_body;
    Runner() {
        http.Get("/v1/models", [](const httplib::Request &, httplib::Response & res) { res.set_content("{}", "application/json"); });
        http.Post("/v1/chat/completions", [this](const httplib::Request & req, httplib::Response & res) {
            last_body = req.body;
            if (req.body == "refuse") {
                res.status = 400;
                return res.set_content(R"({"error":{"message":"no"}})", "application/json");
            }
            res.set_content("data: one\n\ndata: two\n\n", "text/event-stream");
        });
        port   = http.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { http.listen_after_bind(); });
        http.wait_until_ready();
    }
    ~Runner() {
        http.stop();
        thread.join();
    }
};

// A codec that sends the chat's first message as the body and makes each
// "data: X" line a delta of X.
class LineCodec final : public ChatCodec {
  public:
    std::string body(const ChatRequest & r, const std::string &) const override {
        return r.messages.empty() ? "" : r.messages.front().content;
    }
    class Lines final : public Reader {
      public:
        std::vector<Event> feed(std::string_view bytes) override {
            buffer_.append(bytes);
            std::vector<Event> out;
            for (size_t nl; (nl = buffer_.find("\n\n")) != std::string::npos; buffer_.erase(0, nl + 2)) {
                out.push_back(Event::delta(buffer_.substr(6, nl - 6)));
            }
            return out;
        }
        Event end() override { return Done{}; }

      private:
        std::string buffer_;
    };
    std::unique_ptr<Reader> reader() const override { return std::make_unique<Lines>(); }
    std::string error_message(std::string_view body) const override { return std::string(body); }
};

std::unique_ptr<ProxyBackend> remote(const Runner & runner) {
    ProxyOptions o;
    o.id          = "up";
    o.url         = "http://127.0.0.1:" + std::to_string(runner.port);
    o.health_path = "/v1/models";
    o.chat_codec  = std::make_shared<LineCodec>();
    auto b        = ProxyBackend::create(std::move(o));
    EXPECT_TRUE(b) << b.error().message;
    return b ? std::move(*b) : nullptr;
}

ChatRequest chat(std::string text) {
    ChatRequest r;
    r.messages.push_back({"user", std::move(text)});
    return r;
}

std::vector<Event> drain(Channel & channel) {
    std::vector<Event> out;
    for (;;) {
        auto ev = channel.pop(5s);
        if (!ev) ADD_FAILURE() << "no event within 5 s";
        if (!ev) return out;
        out.push_back(std::move(*ev));
        if (out.back().last()) return out;
    }
}

}  // namespace

TEST(ProxyExchange, AnOpenAIRequestGoesVerbatimAndComesBackAsItArrives) {
    Runner runner;
    auto   b = remote(runner);
    ASSERT_TRUE(b);
    VerbatimRequest v;
    v.path = "/v1/chat/completions";
    v.body = R"({"model":"x","stream":true})";
    auto answer = b->submit_verbatim(v);
    ASSERT_TRUE(answer) << answer.error().message;
    ASSERT_NE(*answer, nullptr);
    EXPECT_EQ((*answer)->status(), 200);
    EXPECT_EQ((*answer)->content_type(), "text/event-stream");
    std::string body;
    for (;;) {
        auto chunk = (*answer)->next(5s);
        ASSERT_TRUE(chunk);
        if (chunk->ended) {
            EXPECT_FALSE(chunk->failure);
            break;
        }
        body += chunk->bytes;
    }
    EXPECT_EQ(body, "data: one\n\ndata: two\n\n");
    EXPECT_EQ(runner.last_body, v.body) << "the body goes unchanged";
}

TEST(ProxyExchange, ATypedChatGoesThroughTheCodecAndComesBackAsEvents) {
    Runner runner;
    auto   b = remote(runner);
    ASSERT_TRUE(b);
    auto channel = b->submit(chat("hello"));
    ASSERT_TRUE(channel) << channel.error().message;
    auto events = drain(**channel);
    ASSERT_EQ(events.size(), 3u);
    ASSERT_TRUE(events[0].as_delta() && events[1].as_delta());
    EXPECT_EQ(events[0].as_delta()->text, "one");
    EXPECT_EQ(events[1].as_delta()->text, "two");
    EXPECT_TRUE(events[2].as_done());
    EXPECT_EQ(runner.last_body, "hello");

    auto refused = b->submit(chat("refuse"));
    ASSERT_TRUE(refused);
    events = drain(**refused);
    ASSERT_EQ(events.size(), 1u);
    ASSERT_TRUE(events[0].as_failure());
    EXPECT_NE(events[0].as_failure()->error.message.find("answered 400"), std::string::npos)
        << events[0].as_failure()->error.message;
}

TEST(ProxyExchange, ARunnerThatIsGoneIsAnErrorNamingTheModel) {
    auto runner = std::make_unique<Runner>();
    auto b      = remote(*runner);
    ASSERT_TRUE(b);
    runner.reset();  // the remote goes away after its health check
    auto answer = b->submit_verbatim(VerbatimRequest{"POST", "/v1/chat/completions", "{}", "application/json", ""});
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().code, ErrorCode::unavailable);
    EXPECT_NE(answer.error().message.find("model 'up'"), std::string::npos) << answer.error().message;
    EXPECT_FALSE(b->submit(chat("hello"))) << "a typed chat too";
}
