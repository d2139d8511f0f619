// Chat templates are code from untrusted places: a model file downloaded from
// the internet, Ollama's per-request `template`, a Modelfile's TEMPLATE. Any
// bytes must either render or fail with an error, within bounds of time and
// memory: never crash, hang or balloon. The bounds here are tighter than the
// defaults (llama.cpp's jinja::exec_limits) so that one input stays well
// inside libFuzzer's timeout under ASan; the mechanism is the same.
//
// The first byte picks what the template sees: a conversation, tools, or
// nothing at all.
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "jinja/lexer.h"
#include "json.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"

namespace {

nlohmann::ordered_json made_variables(uint8_t which) {
    using json = nlohmann::ordered_json;
    json vars  = json::object();
    if (which % 3 == 0) return vars;
    vars["messages"] = json::array({
        {{"role", "system"}, {"content", "You are terse."}},
        {{"role", "user"}, {"content", "Hello {{ x }} {% raw %}"}},
        {{"role", "assistant"},
         {"content", ""},
         {"tool_calls", json::array({{{"type", "function"},
                                      {"function", {{"name", "get"}, {"arguments", {{"city", "Paris"}}}}}}})}},
        {{"role", "tool"}, {"content", "{\"temp\": 21}"}},
    });
    vars["add_generation_prompt"] = true;
    vars["bos_token"]             = "<s>";
    vars["eos_token"]             = "</s>";
    if (which % 3 == 2) {
        vars["tools"] = json::array({{{"type", "function"},
                                      {"function",
                                       {{"name", "get"},
                                        {"description", "weather"},
                                        {"parameters",
                                         {{"type", "object"},
                                          {"properties", {{"city", {{"type", "string"}}}}},
                                          {"required", json::array({"city"})}}}}}}});
    }
    return vars;
}

// llama.cpp's own JSON type, which the engine takes its variables in, made
// once per kind from nlohmann's.
const common_json & variables(uint8_t which) {
    static const common_json kinds[3] = {common_json::parse(made_variables(0).dump()),
                                         common_json::parse(made_variables(1).dump()),
                                         common_json::parse(made_variables(2).dump())};
    return kinds[which % 3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto   in = kiln::fuzz::pick(data, size);
    const std::string source(in.rest);
    try {
        jinja::lexer   lexer;
        auto           tokens = lexer.tokenize(source);
        jinja::program ast    = jinja::parse_from_tokens(tokens);
        jinja::context ctx(source);
        ctx.state->limits.max_steps  = 100000;
        ctx.state->limits.max_length = 1 << 20;
        jinja::global_from_json(ctx, variables(in.which), true);
        jinja::runtime runtime(ctx);
        const jinja::value out = runtime.execute(ast);
        (void)jinja::runtime::gather_string_parts(out);
    } catch (const std::exception &) {
        // refused: what a bad template must get
    }
    return 0;
}
