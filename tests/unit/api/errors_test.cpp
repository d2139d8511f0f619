#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/errors.h"

using namespace kiln;
using namespace kiln::api;
using json = nlohmann::json;

namespace {
const ErrorCode kCodes[] = {ErrorCode::invalid_request, ErrorCode::context_exceeded, ErrorCode::model_not_found,
                            ErrorCode::not_found,       ErrorCode::unavailable,      ErrorCode::cancelled,
                            ErrorCode::unauthorized,    ErrorCode::forbidden,        ErrorCode::rate_limited,
                            ErrorCode::io,              ErrorCode::internal};
}

TEST(Errors, EveryFamilyGivesEveryCodeTheSameStatus) {
    for (const auto code : kCodes) {
        const int status = http_status(code);
        EXPECT_GE(status, 400);
        for (const auto family : {Family::openai, Family::ollama, Family::anthropic}) {
            const auto r = error_reply(family, make_error(code, "why"));
            EXPECT_EQ(r.status, status) << static_cast<int>(code);
            const auto body = json::parse(r.body);
            // Each envelope carries the message where its clients look for it.
            const json & message = family == Family::ollama ? body["error"] : body["error"]["message"];
            EXPECT_EQ(message, "why");
        }
    }
    EXPECT_EQ(http_status(ErrorCode::unavailable), 503);
    EXPECT_EQ(http_status(ErrorCode::model_not_found), 404);
    EXPECT_EQ(http_status(ErrorCode::cancelled), 499);
}

TEST(Errors, TheFamilyComesFromThePath) {
    EXPECT_EQ(family_of("/api/chat"), Family::ollama);
    EXPECT_EQ(family_of("/api/v0/models"), Family::openai);  // LM Studio
    EXPECT_EQ(family_of("/api/v1/chat"), Family::openai);
    EXPECT_EQ(family_of("/v1/messages"), Family::anthropic);
    EXPECT_EQ(family_of("/v1/messages/count_tokens"), Family::anthropic);
    EXPECT_EQ(family_of("/v1/chat/completions"), Family::openai);
    const auto a = json::parse(family_error("/v1/messages", make_error(ErrorCode::rate_limited, "slow down")).body);
    EXPECT_EQ(a["type"], "error");
    EXPECT_EQ(a["error"]["type"], "rate_limit_error");
    const auto o = json::parse(family_error("/v1/models", make_error(ErrorCode::model_not_found, "x", "model")).body);
    EXPECT_EQ(o["error"]["code"], "model_not_found");
    EXPECT_EQ(o["error"]["param"], "model");
}
