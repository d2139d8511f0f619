#include <gtest/gtest.h>

#include "server/reply.h"

using namespace kiln;

TEST(Reply, A503SaysWhenToTryAgainAndKeepsAWaitAlreadySet) {
    httplib::Response busy;
    server::send_error(busy, api::Family::ollama, make_error(ErrorCode::unavailable, "loading"));
    EXPECT_EQ(busy.status, 503);
    EXPECT_EQ(busy.get_header_value("Retry-After"), "1");
    EXPECT_EQ(busy.get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(busy.body, R"({"error":"loading"})");

    httplib::Response waited;
    waited.set_header("Retry-After", "7");
    server::send_error(waited, api::Family::openai, make_error(ErrorCode::unavailable, "full"));
    EXPECT_EQ(waited.get_header_value("Retry-After"), "7");

    httplib::Response bad;
    server::send_error(bad, api::Family::anthropic, make_error(ErrorCode::invalid_request, "no"));
    EXPECT_EQ(bad.status, 400);
    EXPECT_FALSE(bad.has_header("Retry-After"));
}
