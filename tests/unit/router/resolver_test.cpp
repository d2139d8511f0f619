// Presets from config tables, and names to specs: command line, presets, catalog.
#include <gtest/gtest.h>

#include "router/resolver.h"
#include "store/catalog.h"
#include "test_models.h"

using namespace kiln;
using namespace kiln::router;
namespace fs = std::filesystem;

namespace {

PresetTable table(const std::string & name, std::map<std::string, std::string> values,
                  std::map<std::string, std::vector<std::string>> lists = {}) {
    return PresetTable{name, std::move(values), std::move(lists)};
}

// A home whose catalog holds the tiny model as test/tiny:F16.
fs::path home_with_tiny() {
    const fs::path home = test::temp_dir();
    fs::create_directories(home / "models" / "test" / "tiny");
    fs::copy_file(test::tiny_model(), home / "models" / "test" / "tiny" / "tiny-F16.gguf");
    return home;
}

}  // namespace

TEST(Presets, SettingsSamplingAndBackendsAreRead) {
    backend::LlamaOptions defaults;
    defaults.slots = 4;
    auto presets   = parse_presets(
        {table("fast", {{"model", "test/tiny"}, {"ctx_size", "512"}, {"slots", "2"}, {"kv_type", "q8_0"},
                        {"flash_attn", "on"}, {"keep_alive", "1h"}, {"temperature", "0"}, {"top_k", "5"}, {"seed", "7"}},
               {{"aliases", {"quick", "f"}}}),
         table("ls", {{"backend", "process"}, {"command", "llama-server --port ${PORT} -m '${MODEL_PATH}'"},
                      {"concurrency", "2"}, {"memory", "512"}, {"ready_timeout", "30"}}),
         table("up", {{"backend", "remote"}, {"url", "http://127.0.0.1:8000/"}, {"api_key", "k"}})},
        defaults, "config.toml");
    ASSERT_TRUE(presets) << presets.error().message;
    ASSERT_EQ(presets->size(), 3u);
    const ModelSpec & fast = (*presets)[0].spec;
    EXPECT_EQ(fast.id, "fast");
    EXPECT_EQ(fast.aliases, (std::vector<std::string>{"quick", "f"}));
    EXPECT_EQ(fast.llama.n_ctx, 512);
    EXPECT_EQ(fast.llama.slots, 2);
    EXPECT_EQ(fast.llama.kv_type, GGML_TYPE_Q8_0);
    EXPECT_EQ(fast.keep_alive->duration, std::chrono::hours(1));
    EXPECT_EQ(fast.llama.sampling.temperature, 0.0f);
    EXPECT_EQ(fast.llama.sampling.top_k, 5);
    EXPECT_EQ(fast.llama.sampling.seed, 7u);
    using F = engine::SamplingParams;
    EXPECT_EQ(fast.llama.sampling.set, F::temperature_set | F::top_k_set | F::seed_set);

    const ModelSpec & ls = (*presets)[1].spec;
    EXPECT_EQ(ls.backend, "process");
    EXPECT_EQ(ls.proxy.command, (std::vector<std::string>{"llama-server", "--port", "${PORT}", "-m", "${MODEL_PATH}"}));
    EXPECT_EQ(ls.proxy.max_concurrent, 2);
    EXPECT_EQ(ls.memory_mib, 512);
    EXPECT_EQ(ls.proxy.ready_timeout, std::chrono::seconds(30));
    const ModelSpec & up = (*presets)[2].spec;
    EXPECT_EQ(up.proxy.url, "http://127.0.0.1:8000");
    EXPECT_EQ(up.proxy.health_path, "/v1/models");
}

TEST(Presets, MistakesNameTheTableAndKey) {
    auto check = [](PresetTable t, const std::string & expected) {
        auto r = parse_presets({std::move(t)}, {}, "config.toml");
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().message.find("[models.m]"), std::string::npos) << r.error().message;
        EXPECT_NE(r.error().message.find(expected), std::string::npos) << r.error().message;
    };
    check(table("m", {{"model", "x"}, {"ctx_sise", "5"}}), "unknown setting 'ctx_sise'");
    check(table("m", {{"ctx_size", "5"}}), "'model'");
    check(table("m", {{"model", "x"}, {"slots", "0"}}), "'slots'");
    check(table("m", {{"model", "x"}, {"temperature", "hot"}}), "'temperature'");
    check(table("m", {{"model", "x"}, {"keep_alive", "soon"}}), "keep_alive");
    check(table("m", {{"model", "x"}, {"kv_type", "q9"}}), "KV cache type");
    check(table("m", {{"backend", "process"}}), "'command' is required");
    check(table("m", {{"backend", "remote"}, {"url", "ftp://x"}}), "'url'");
    check(table("m", {{"backend", "docker"}}), "'backend'");
}

TEST(CatalogResolver, CommandLineThenPresetsThenTheCatalog) {
    const fs::path home = home_with_tiny();
    auto presets = parse_presets({table("fast", {{"model", "test/tiny"}, {"ctx_size", "256"}}, {{"aliases", {"quick"}}}),
                                  table("mine", {{"model", "test/tiny"}})},
                                 {}, "config.toml");
    ASSERT_TRUE(presets);
    auto fixed = spec_for_path(test::tiny_model(), "mine", {});  // the command line's model, named like a preset
    ASSERT_TRUE(fixed);
    CatalogResolver r(home, {}, std::move(*presets), {*fixed});

    auto mine = r.resolve("mine");
    ASSERT_TRUE(mine);
    EXPECT_EQ(mine->backend, "llama");
    EXPECT_EQ(mine->llama.model_path, test::tiny_model());  // not the preset's catalog path

    auto quick = r.resolve("QUICK");
    ASSERT_TRUE(quick) << quick.error().message;
    EXPECT_EQ(quick->id, "fast");
    EXPECT_EQ(quick->llama.n_ctx, 256);
    EXPECT_EQ(quick->llama.model_path, home / "models" / "test" / "tiny" / "tiny-F16.gguf");
    EXPECT_EQ(quick->n_ctx_train, 512);

    auto catalog = r.resolve("test/tiny");
    ASSERT_TRUE(catalog) << catalog.error().message;
    EXPECT_EQ(catalog->id, "test/tiny:F16");

    auto missing = r.resolve("test/tinny:F16");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::model_not_found);

    auto listed = r.list();
    ASSERT_TRUE(listed);
    std::vector<std::string> ids;
    for (const auto & l : *listed) ids.push_back(l.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"mine", "fast", "test/tiny:F16"}));
}

TEST(Sampling, DefaultsFillOnlyWhatTheRequestLeftOut) {
    using F = engine::SamplingParams;
    engine::SamplingParams defaults;
    defaults.temperature = 0.1f;
    defaults.top_k       = 3;
    defaults.set         = F::temperature_set | F::top_k_set;
    engine::SamplingParams request;
    request.top_k = 50;
    request.set   = F::top_k_set;
    engine::apply_defaults(request, defaults);
    EXPECT_EQ(request.temperature, 0.1f);
    EXPECT_EQ(request.top_k, 50);
    EXPECT_EQ(request.top_p, engine::SamplingParams{}.top_p);
}
