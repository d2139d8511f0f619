// ProxyBackend without a child: a remote upstream (a local HTTP server in the
// test) checked for health, its concurrency limit, and command splitting.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include <cpp-httplib/httplib.h>

#include "backend/proxy_backend.h"

using namespace kiln::backend;
using namespace std::chrono_literals;

namespace {

// An upstream that answers GET /v1/models, on a free loopback port.
struct FakeUpstream {
    httplib::Server http;
    int             port = 0;
    std::thread     thread;
    FakeUpstream() {
        http.Get("/v1/models", [](const httplib::Request &, httplib::Response & res) { res.set_content("{}", "application/json"); });
        port   = http.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { http.listen_after_bind(); });
        http.wait_until_ready();
    }
    ~FakeUpstream() {
        http.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

ProxyOptions remote(const std::string & url, int32_t concurrency) {
    ProxyOptions o;
    o.id             = "up";
    o.url            = url;
    o.health_path    = "/v1/models";
    o.max_concurrent = concurrency;
    return o;
}

}  // namespace

TEST(ProxyBackend, ARemoteIsHealthCheckedAndGivesItsUrl) {
    FakeUpstream up;
    auto     b = ProxyBackend::create(remote(up.url(), 0));
    ASSERT_TRUE(b) << b.error().message;
    auto url = (*b)->ready();
    ASSERT_TRUE(url);
    EXPECT_EQ(*url, up.url());
    EXPECT_NE((*b)->upstream(), nullptr);
    auto typed = (*b)->submit(ChatRequest{});
    ASSERT_FALSE(typed);
    EXPECT_NE(typed.error().message.find("OpenAI routes"), std::string::npos);

    auto down = ProxyBackend::create(remote("http://127.0.0.1:1", 0));
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, kiln::ErrorCode::unavailable);
}

TEST(ProxyBackend, TheConcurrencyLimitHoldsTheThirdRequestUntilOneEnds) {
    FakeUpstream up;
    auto     b = ProxyBackend::create(remote(up.url(), 2));
    ASSERT_TRUE(b) << b.error().message;
    auto one   = (*b)->admit();
    auto two   = (*b)->admit();
    auto three = std::async(std::launch::async, [&] { return (*b)->admit(); });
    EXPECT_EQ(three.wait_for(100ms), std::future_status::timeout);
    one.reset();
    EXPECT_EQ(three.wait_for(5s), std::future_status::ready);
    auto held = three.get();
    EXPECT_TRUE(held);
}

TEST(ProxyBackend, CommandLinesSplitOnSpacesKeepingQuotes) {
    EXPECT_EQ(split_command("llama-server  --port ${PORT} -m '${MODEL_PATH}' --alias \"a b\""),
              (std::vector<std::string>{"llama-server", "--port", "${PORT}", "-m", "${MODEL_PATH}", "--alias", "a b"}));
    EXPECT_EQ(split_command(""), std::vector<std::string>{});
    EXPECT_EQ(split_command("x ''"), (std::vector<std::string>{"x", ""}));
}
