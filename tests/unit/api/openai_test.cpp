#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/anthropic.h"
#include "api/lmstudio.h"
#include "api/ollama_models.h"
#include "api/openai.h"
#include "api/openai_upstream.h"
#include "api/responses.h"

using namespace kiln::api::openai;
using json = nlohmann::json;

TEST(OpenAIParse, ChatWithAllCommonFields) {
    auto call = parse_chat(R"({
        "model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "developer", "content": "sys"},
                     {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                     {"role": "assistant", "content": null}],
        "temperature": 0.5, "top_p": 0.9, "top_k": 20, "min_p": 0.1, "seed": 123,
        "max_completion_tokens": 7, "stop": "X", "presence_penalty": 0.5, "frequency_penalty": -0.5})");
    ASSERT_TRUE(call) << call.error().message;
    const auto & r = call->request;
    EXPECT_EQ(r.model, "m");
    EXPECT_TRUE(call->stream);
    EXPECT_TRUE(call->include_usage);
    ASSERT_EQ(r.messages.size(), 3u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_EQ(r.messages[1].content, "a\nb");
    EXPECT_EQ(r.messages[2].content, "");
    EXPECT_FLOAT_EQ(r.params.sampling.temperature, 0.5f);
    EXPECT_EQ(r.params.sampling.top_k, 20);
    EXPECT_EQ(*r.params.sampling.seed, 123u);
    EXPECT_EQ(r.params.max_tokens, 7);
    EXPECT_EQ(r.params.stop, std::vector<std::string>{"X"});
}

TEST(OpenAIParse, ErrorsNameTheField) {
    struct Case {
        const char * body;
        const char * param;
    };
    const Case cases[] = {
        {R"({"messages": "hi"})", "messages"},
        {R"({"messages": []})", "messages"},
        {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
        {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
        {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
        {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"})", "max_tokens"},
        {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature"},
        {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", "temperature"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop"},
        {R"({"messages": [{"role": "user", "content": "x"}], "n": 17})", "n"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
    };
    for (const auto & c : cases) {
        auto call = parse_chat(c.body);
        ASSERT_FALSE(call) << c.body;
        EXPECT_EQ(call.error().code, kiln::ErrorCode::invalid_request) << c.body;
        EXPECT_EQ(call.error().param, c.param) << c.body;
    }
    EXPECT_FALSE(parse_chat("{nope"));
    EXPECT_FALSE(parse_chat("[]"));
    EXPECT_FALSE(parse_chat(""));
}

TEST(OpenAIParse, CompletionPrompt) {
    auto call = parse_completion(R"({"prompt": ["one"], "max_tokens": 3})");
    ASSERT_TRUE(call);
    EXPECT_EQ(call->request.prompt, "one");
    EXPECT_FALSE(parse_completion(R"({"prompt": 5})"));
    EXPECT_FALSE(parse_completion(R"({})"));
    auto two = parse_completion(R"({"prompt": ["a", [1, 2]], "n": 2})");
    ASSERT_TRUE(two) << two.error().message;
    EXPECT_EQ(two->request.prompt, "a");
    ASSERT_EQ(two->more_prompts.size(), 1u);
    EXPECT_EQ(two->more_prompts[0].tokens, (std::vector<int32_t>{1, 2}));
    EXPECT_FALSE(parse_completion(R"({"prompt": [[]]})"));
    EXPECT_FALSE(parse_completion(R"({"prompt": [1, "a"]})"));
}

TEST(OpenAIFormat, StreamChunksHaveTheWireShape) {
    ResponseMeta m{"chatcmpl-1", "tiny", 1700000000};
    EXPECT_EQ(sse_chat_role(m),
              "data: {\"choices\":[{\"delta\":{\"content\":\"\",\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0,"
              "\"logprobs\":null}],\"created\":1700000000,\"id\":\"chatcmpl-1\",\"model\":\"tiny\",\"object\":"
              "\"chat.completion.chunk\",\"system_fingerprint\":\"kiln\"}\n\n");
    auto finish = json::parse(sse_chat_finish(m, kiln::backend::FinishReason::length).substr(6));
    EXPECT_EQ(finish["choices"][0]["finish_reason"], "length");
    EXPECT_TRUE(finish["choices"][0]["delta"].empty());

    kiln::backend::Usage u{5, 3, 2};
    auto usage = json::parse(sse_usage(m, "chat.completion.chunk", u).substr(6));
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["total_tokens"], 8);
    EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(OpenAIFormat, InvalidUtf8FromTheModelIsReplacedNotThrown) {
    ResponseMeta m{"chatcmpl-1", "tiny", 1};
    auto j = json::parse(chat_response(m, "ok\xFF", kiln::backend::FinishReason::stop, {}));
    EXPECT_EQ(j["choices"][0]["message"]["content"], "ok\xEF\xBF\xBD");
}

TEST(OpenAIFormat, Base64EmbeddingsAreLittleEndianFloat32) {
    // Expected strings from Python: base64.b64encode(struct.pack('<2f', 1.0, -2.0)) etc.
    const auto data = [](const std::vector<std::vector<float>> & e) {
        return json::parse(embeddings_response("m", e, true, 1))["data"];
    };
    EXPECT_EQ(data({{1.0f, -2.0f}})[0]["embedding"], "AACAPwAAAMA=");
    EXPECT_EQ(data({{3.25f}, {0.5f, 0.0f, 1e-3f}})[1]["embedding"], "AAAAPwAAAABvEoM6");
    EXPECT_EQ(data({{3.25f}})[0]["embedding"], "AABQQA==");
    EXPECT_EQ(data({{}})[0]["embedding"], "");
}

TEST(OpenAIFormat, ErrorsMapToStatusAndEnvelope) {
    auto r = error_response(kiln::make_error(kiln::ErrorCode::model_not_found, "nope", "model"));
    EXPECT_EQ(r.status, 404);
    auto j = json::parse(r.body);
    EXPECT_EQ(j["error"]["code"], "model_not_found");
    EXPECT_EQ(j["error"]["param"], "model");
    EXPECT_EQ(error_response(kiln::make_error(kiln::ErrorCode::context_exceeded, "x")).status, 400);
    EXPECT_EQ(error_response(kiln::make_error(kiln::ErrorCode::unavailable, "x")).status, 503);
    EXPECT_EQ(error_response(kiln::make_error(kiln::ErrorCode::internal, "x")).status, 500);
}

TEST(OpenAIUpstream, CountsThatDoNotFitAreNotCastBlindly) {
    // An upstream's numbers are read as counts: a float past int32_t, a
    // negative one or a float tool index is no undefined cast (UBSan).
    UpstreamReader r;
    auto events = r.feed(
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1e30,\"function\":{\"name\":\"skipped\"}},"
        "{\"index\":-1,\"function\":{\"name\":\"also skipped\"}},{\"index\":1.0,\"id\":\"c1\",\"function\":{\"name\":\"f\"}}]}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1e30,\"completion_tokens\":-4,"
        "\"prompt_tokens_details\":{\"cached_tokens\":7.0}}}\n\n"
        "data: [DONE]\n\n");
    ASSERT_EQ(events.size(), 1u);
    ASSERT_TRUE(events[0].as_delta());
    EXPECT_EQ(events[0].as_delta()->tool_index, 1);
    EXPECT_EQ(events[0].as_delta()->tool.name, "f");
    const auto end = r.end();
    ASSERT_TRUE(end.as_done());
    const auto & done = *end.as_done();
    EXPECT_EQ(done.usage.prompt_tokens, 0);
    EXPECT_EQ(done.usage.completion_tokens, 0);
    EXPECT_EQ(done.usage.cached_tokens, 7);
}

TEST(ApiParse, TagsOfTheWrongTypeAreA400NotAThrow) {
    // nlohmann's value("type", "") throws on a non-string: each of these
    // escaped the parsers as an exception (a 500, or std::terminate in a
    // fuzzer) until text_field(). Found by fuzz_openai in CI.
    namespace api = kiln::api;
    const auto refused = [](const auto & r, const char * body) {
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().code, kiln::ErrorCode::invalid_request) << body;
    };
    const char * completions[] = {
        R"({"model":"m","prompt":"x","response_format":{"type":5}})",
    };
    for (const char * b : completions) refused(parse_completion(b), b);
    const char * chats[] = {
        R"({"model":"m","messages":[{"role":"user","content":[{"type":[],"text":"x"}]}]})",
        R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":7,"function":{"name":"f"}}]})",
    };
    for (const char * b : chats) refused(parse_chat(b), b);
    const char * responses[] = {
        R"({"model":"m","input":[{"role":"user","type":5,"content":"x"}]})",
        R"({"model":"m","input":[{"role":"user","content":[{"type":{},"text":"x"}]}]})",
        R"({"model":"m","input":"x","tools":[{"type":1}]})",
        R"({"model":"m","input":"x","text":{"format":{"type":false}}})",
    };
    for (const char * b : responses) refused(api::responses::parse(b), b);
    const char * messages[] = {
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":1,"text":"x"}]}]})",
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]})",
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":3}})",
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"thinking":{"type":3}})",
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"type":3,"name":"f"}]})",
    };
    for (const char * b : messages) refused(api::anthropic::parse_messages(b), b);
    const char * creates[] = {R"({"model":"m","from":"x","messages":[{"role":1,"content":"x"}]})"};
    for (const char * b : creates) refused(api::ollama::parse_create(b), b);
    const char * v1[] = {R"({"model":"m","input":[{"type":2,"content":"x"}]})"};
    for (const char * b : v1) refused(api::lmstudio::parse_v1_chat(b), b);
}

TEST(OpenAIUpstream, AnErrorWhoseMessageIsNotTextStillEndsTheStream) {
    UpstreamReader r;
    EXPECT_NO_THROW(r.feed("data: {\"error\":{\"message\":42}}\n\n"));
    const auto end = r.end();
    ASSERT_TRUE(end.as_failure());
    EXPECT_NE(end.as_failure()->error.message.find("42"), std::string::npos) << end.as_failure()->error.message;
}

TEST(OpenAIUpstream, ErrorMessageOfJsonOrText) {
    EXPECT_EQ(upstream_error_message(R"({"error":{"message":"model not loaded"}})"), "model not loaded");
    EXPECT_EQ(upstream_error_message(R"({"error":"busy"})"), "busy");
    EXPECT_EQ(upstream_error_message(R"({"error":{"message":7}})"), "7");
    EXPECT_EQ(upstream_error_message(R"({"error":{}})"), R"({"error":{}})");
    EXPECT_EQ(upstream_error_message("Bad Gateway"), "Bad Gateway");
    EXPECT_EQ(upstream_error_message(std::string(500, 'x')), std::string(200, 'x'));
}
