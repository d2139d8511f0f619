// Golden tests for the adapters: fixed requests and events in, the exact
// bytes out, compared with tests/unit/api/golden/<name>.txt after ids and
// timestamps are normalized. KILN_UPDATE_GOLDEN=1 rewrites the files (read
// the diff before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "api/anthropic.h"
#include "api/lmstudio.h"
#include "api/models_api.h"
#include "api/ollama_chat.h"
#include "api/openai.h"
#include "api/responses.h"

using namespace kiln;
namespace fs = std::filesystem;

namespace {

const fs::path kGolden = fs::path(KILN_SOURCE_DIR) / "tests" / "unit" / "api" / "golden";

std::string normalize(std::string s) {
    s = std::regex_replace(s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)"), "<time>");
    s = std::regex_replace(s, std::regex(R"(\b(msg|fc|rs)_[A-Za-z0-9]{24}\b)"), "$1_<id>");
    return s;
}

void expect_golden(const std::string & name, const std::string & actual) {
    const fs::path path = kGolden / (name + ".txt");
    const std::string got = normalize(actual);
    if (std::getenv("KILN_UPDATE_GOLDEN")) {
        fs::create_directories(kGolden);
        std::ofstream(path, std::ios::binary) << got;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "no golden file " << path << " (run with KILN_UPDATE_GOLDEN=1)";
    std::stringstream want;
    want << in.rdbuf();
    EXPECT_EQ(got, want.str()) << "golden " << name;
}

backend::Done done_event(backend::FinishReason finish, std::string stop = {}) {
    backend::Done e;
    e.finish                  = finish;
    e.stop_sequence           = std::move(stop);
    e.usage                   = {29, 6, 16};
    e.timings                 = {12.5, 250.0};
    return e;
}

// An answer that thought, said a little and called two tools, as the
// backend streams it, and its done event.
std::vector<backend::Delta> tool_answer() {
    std::vector<backend::Delta> evs;
    backend::Delta              e;
    e.reasoning = "The user wants weather.";
    evs.push_back(e);
    evs.push_back(backend::Delta::of_text("Checking."));
    auto piece = [&](int index, std::string id, std::string name, std::string args) {
        backend::Delta p;
        p.tool_index = index;
        p.tool       = {std::move(id), std::move(name), std::move(args)};
        evs.push_back(std::move(p));
    };
    piece(0, "call_a", "get_weather", "");
    piece(0, "", "", R"({"city": )");
    piece(0, "", "", R"("Paris"})");
    piece(1, "call_b", "get_time", R"({"tz": "cet"})");
    return evs;
}

backend::Done tool_done() {
    backend::Done d = done_event(backend::FinishReason::tool_calls);
    d.reasoning      = "The user wants weather.";
    d.tool_calls     = {{"call_a", "get_weather", R"({"city": "Paris"})"}, {"call_b", "get_time", R"({"tz": "cet"})"}};
    return d;
}

backend::ModelInfo model_info() {
    backend::ModelInfo m;
    m.id          = "org/tiny:Q8_0";
    m.arch        = "llama";
    m.quant       = "Q8_0";
    m.created     = 1796000000;
    m.n_ctx       = 4096;
    m.n_ctx_seq   = 4096;
    m.n_ctx_train = 8192;
    m.slots       = 4;
    m.flash_attn  = "off";
    m.n_params    = 245900000;
    m.size_bytes  = 261000000;
    return m;
}

}  // namespace

TEST(Golden, OpenAIChatWholeAndStreamed) {
    const api::openai::ResponseMeta m{"chatcmpl-test", "org/tiny:Q8_0", 1796000000, 0};
    std::string out = api::openai::chat_response(m, "Hello there", backend::FinishReason::stop, {29, 6, 16}) + "\n";
    out += api::openai::sse_chat_role(m) + api::openai::sse_chat_delta(m, "Hel") + api::openai::sse_chat_delta(m, "lo") +
           api::openai::sse_chat_finish(m, backend::FinishReason::length) +
           api::openai::sse_usage(m, "chat.completion.chunk", {29, 6, 16}) + api::openai::sse_done();
    expect_golden("openai_chat", out);
}

TEST(Golden, OllamaChatAndGenerate) {
    auto chat = api::ollama::parse_chat(R"({"model":"org/tiny","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":6}})");
    ASSERT_TRUE(chat);
    auto gen = api::ollama::parse_generate(R"({"model":"org/tiny","prompt":"hi","stream":false})");
    ASSERT_TRUE(gen);
    api::ollama::Durations d;
    d.total = std::chrono::milliseconds(300);
    d.load  = std::chrono::milliseconds(40);
    std::string out = api::ollama::delta_line(*chat, "org/tiny:Q8_0", "Hel") +
                      api::ollama::final_object(*chat, "org/tiny:Q8_0", "", done_event(backend::FinishReason::length), d);
    out += api::ollama::final_object(*gen, "org/tiny:Q8_0", "Hello", done_event(backend::FinishReason::stop), d) + "\n";
    out += api::ollama::load_object(*gen, "org/tiny:Q8_0", false) + "\n" + api::ollama::load_object(*chat, "org/tiny:Q8_0", true);
    expect_golden("ollama_chat", out);
}

TEST(Golden, AnthropicMessages) {
    const api::anthropic::Meta m{"msg_test", "org/tiny:Q8_0"};
    std::string out = api::anthropic::message_response(m, "Hello", done_event(backend::FinishReason::stop, "END")) + "\n";
    api::anthropic::Stream blocks;
    out += api::anthropic::stream_start(m, 29);
    out += blocks.delta(backend::Delta::of_text("Hel"));  // one call after the other: a Stream has state
    out += blocks.end(done_event(backend::FinishReason::length));
    out += api::anthropic::stream_error(make_error(ErrorCode::unavailable, "the server is shutting down"));
    expect_golden("anthropic_messages", out);
}

TEST(Golden, LmStudioModelsAndStats) {
    auto        loaded = model_info();
    auto        idle   = model_info();
    idle.id            = "org/other:Q4_K_M";
    idle.n_ctx         = 0;
    std::string out    = api::lmstudio::models_v0({loaded, idle}) + "\n" + api::lmstudio::models_v1({loaded, idle}) + "\n";
    const api::openai::ResponseMeta m{"chatcmpl-test", "org/tiny:Q8_0", 1796000000, 0};
    out += api::lmstudio::add_v0_stats(api::openai::chat_response(m, "Hi", backend::FinishReason::stop, {29, 6, 16}),
                                       done_event(backend::FinishReason::stop, "END"), loaded);
    expect_golden("lmstudio", out);
}

TEST(Golden, OllamaPsAndTags) {
    router::LoadedModel m;
    m.id                   = "org/tiny:Q8_0";
    m.info                 = model_info();
    m.footprint            = {261000000, 134217728, 70000000, 0, 4096};
    m.context_note         = "the model's trained context";
    m.active               = 1;
    m.keep_alive           = router::KeepAlive::forever();
    m.load_ms              = 90;
    std::string out        = api::ps_response({m}, {{"org/tiny:Q8_0", 1}}) + "\n" + api::tags_response({model_info()});
    expect_golden("ollama_ps_tags", out);
}

TEST(Golden, OpenAIToolCallsAndReasoning) {
    const api::openai::ResponseMeta m{"chatcmpl-test", "org/tiny:Q8_0", 1796000000, 0};
    std::string out = api::openai::chat_response(m, "Checking.", tool_done()) + "\n";
    out += api::openai::sse_chat_role(m);
    for (const auto & e : tool_answer()) out += api::openai::sse_chat_event(m, e);
    out += api::openai::sse_chat_finish(m, backend::FinishReason::tool_calls) + api::openai::sse_done();
    expect_golden("openai_tools", out);
}

TEST(Golden, OllamaToolCallsAndThinking) {
    auto chat = api::ollama::parse_chat(
        R"({"model":"org/tiny","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]})");
    ASSERT_TRUE(chat) << chat.error().message;
    auto whole = api::ollama::parse_chat(R"({"model":"org/tiny","stream":false,"messages":[{"role":"user","content":"hi"}]})");
    ASSERT_TRUE(whole);
    api::ollama::Durations d;
    d.total         = std::chrono::milliseconds(300);
    std::string out;
    for (const auto & e : tool_answer()) out += api::ollama::event_line(*chat, "org/tiny:Q8_0", e);
    out += api::ollama::final_object(*chat, "org/tiny:Q8_0", "", tool_done(), d);
    out += api::ollama::final_object(*whole, "org/tiny:Q8_0", "Checking.", tool_done(), d) + "\n";
    expect_golden("ollama_tools", out);
}

TEST(Golden, AnthropicToolUseAndThinking) {
    const api::anthropic::Meta m{"msg_test", "org/tiny:Q8_0"};
    std::string out = api::anthropic::message_response(m, "Checking.", tool_done()) + "\n";
    api::anthropic::Stream blocks;
    out += api::anthropic::stream_start(m, 29);
    for (const auto & e : tool_answer()) out += blocks.delta(e);
    out += blocks.end(tool_done());
    expect_golden("anthropic_tools", out);
}

TEST(Golden, ResponsesWholeAndStreamed) {
    auto call = api::responses::parse(R"({"model":"org/tiny","input":"hi","instructions":"Be brief.","max_output_tokens":6})");
    ASSERT_TRUE(call) << call.error().message;
    const api::responses::Meta m{"resp_test", "org/tiny:Q8_0", 1796000000, ""};
    std::string out = api::responses::response_object(*call, m, "Checking.", tool_done()) + "\n";
    api::responses::Stream stream(*call, m);
    out += stream.start();
    for (const auto & e : tool_answer()) out += stream.delta(e);
    out += stream.end(tool_done());
    expect_golden("responses", out);
}
