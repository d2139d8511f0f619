// The settings table: every entry is well formed, values keep their TOML
// types, and one check of type and range serves the server's settings,
// presets and requests alike, naming where a bad value came from.
#include <cmath>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/settings.h"
#include "engine/sampling_params.h"
#include "router/resolver.h"
#include "test_models.h"

using namespace kiln;

namespace {

std::string write_file(const std::string & text) {
    auto path = test::temp_dir() / "config.toml";
    std::ofstream(path) << text;
    return path.string();
}

SettingValue from_file(decltype(SettingValue::value) v) {
    SettingValue out;
    out.value  = std::move(v);
    out.source = SettingSource::file;
    return out;
}

}  // namespace

TEST(SettingsTable, EveryEntryIsWellFormed) {
    std::set<std::string> keys, envs, flags, preset_names;
    for (const auto & d : setting_defs()) {
        SCOPED_TRACE(d.key());
        EXPECT_TRUE(keys.insert(d.key()).second) << "a key is declared twice";
        EXPECT_FALSE(std::string(d.help).empty());
        EXPECT_NE(d.scope, 0u);
        if (d.section) {
            EXPECT_TRUE(d.in(scope_server)) << "a [section] setting is a server setting";
            ASSERT_NE(d.env, nullptr);
            EXPECT_EQ(std::string(d.env).rfind("KILN_", 0), 0u);
            EXPECT_TRUE(envs.insert(d.env).second);
        } else {
            EXPECT_FALSE(d.in(scope_server));
            EXPECT_EQ(d.env, nullptr);
            EXPECT_EQ(d.flag, nullptr);
        }
        if (d.flag) {
            std::string names = d.flag;
            for (size_t at = 0; at < names.size();) {
                const size_t comma = names.find(',', at);
                EXPECT_TRUE(flags.insert(names.substr(at, comma - at)).second) << names;
                at = comma == std::string::npos ? names.size() : comma + 1;
            }
            EXPECT_TRUE(d.type == SettingType::boolean || d.value_name) << "--help shows what the value is";
        }
        if (d.in(scope_preset)) {
            EXPECT_TRUE(preset_names.insert(d.name).second) << "two preset keys of one name";
        }
        if (d.type == SettingType::integer || d.type == SettingType::number) {
            EXPECT_LE(d.lo, d.hi);
        }
        // The default passes its own check.
        if (*d.default_value) {
            SettingValue v(d.default_value);
            if (d.type == SettingType::integer) {
                EXPECT_TRUE(setting_integer(d, v)) << d.default_value;
            }
            if (d.type == SettingType::number) {
                EXPECT_TRUE(setting_number(d, v)) << d.default_value;
            }
            if (d.type == SettingType::boolean) {
                EXPECT_TRUE(setting_boolean(d, v)) << d.default_value;
            }
        }
    }
    EXPECT_EQ(find_setting("model.ctx_size"), find_preset_setting("ctx_size")) << "one entry, two places";
    EXPECT_EQ(find_setting("server.nope"), nullptr);
    EXPECT_EQ(find_preset_setting("port"), nullptr) << "a server-only setting is no preset key";
}

TEST(SettingsTable, SamplingRangesComeFromTheTable) {
    for (const auto & f : engine::sampling_fields()) {
        const SettingDef * d = find_preset_setting(f.name);
        ASSERT_NE(d, nullptr) << f.name;
        EXPECT_TRUE(d->in(scope_request));
        EXPECT_EQ(f.lo, d->lo);
        EXPECT_EQ(f.hi, d->hi);
        EXPECT_EQ(f.integer, d->type == SettingType::integer);
    }
}

TEST(SettingsTable, ChecksTypeAndRangeOnce) {
    const SettingDef & slots = *find_setting("model.slots");
    EXPECT_EQ(*setting_integer(slots, SettingValue("8")), 8);
    EXPECT_EQ(*setting_integer(slots, from_file(int64_t{128})), 128);
    for (const auto & bad : {from_file(int64_t{0}), from_file(int64_t{129}), SettingValue("8x"), SettingValue(""),
                             from_file(2.0), from_file(true)}) {
        auto r = setting_integer(slots, bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message.find("must be an integer from 1 to 128"), std::string::npos) << r.error().message;
    }
    const SettingDef & temperature = *find_preset_setting("temperature");
    EXPECT_DOUBLE_EQ(*setting_number(temperature, from_file(0.7)), 0.7);
    EXPECT_DOUBLE_EQ(*setting_number(temperature, from_file(int64_t{1})), 1.0);
    EXPECT_FALSE(setting_number(temperature, SettingValue("nan")));
    EXPECT_FALSE(setting_number(temperature, from_file(2.5)));
    const SettingDef & insecure = *find_setting("server.insecure");
    EXPECT_TRUE(*setting_boolean(insecure, from_file(true)));
    EXPECT_FALSE(*setting_boolean(insecure, SettingValue("0")));
    EXPECT_FALSE(setting_boolean(insecure, SettingValue("yes")));
    const SettingDef & keep_alive = *find_setting("router.keep_alive");
    EXPECT_EQ(*setting_text(keep_alive, from_file(int64_t{-1})), "-1") << "a duration may be seconds";
    EXPECT_FALSE(setting_text(*find_setting("server.host"), from_file(int64_t{1})));
}

TEST(SettingsTable, FileValuesKeepTheirTypeAndLine) {
    unsetenv("KILN_SLOTS");
    unsetenv("KILN_API_KEY");
    auto s = Settings::load(write_file("[model]\nslots = 8\n\n[server]\napi_key = [\"a\", \"b\"]\ninsecure = true\n"));
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(std::holds_alternative<int64_t>(s->value("model.slots").value));
    EXPECT_EQ(s->origin("model.slots"), "config.toml line 2");
    EXPECT_EQ(*s->get_int("model.slots"), 8);
    EXPECT_EQ(s->get_list("server.api_key"), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(*s->get_bool("server.insecure"));

    s = Settings::load(write_file("[model]\nthreads = 2\nslots = 200\n"));
    ASSERT_TRUE(s);
    auto slots = s->get_int("model.slots");
    ASSERT_FALSE(slots);
    EXPECT_EQ(slots.error().message, "setting model.slots (from config.toml line 3) must be an integer from 1 to 128, got 200");

    s = Settings::load(write_file("[model]\nslots = [1]\n"));
    ASSERT_FALSE(s) << "an array for a setting that is not a list";
    EXPECT_NE(s.error().message.find("line 2"), std::string::npos) << s.error().message;
}

TEST(SettingsTable, FlagsAndEnvironmentNameThemselves) {
    setenv("KILN_MAX_MODELS", "99", 1);
    auto s = Settings::load("");
    ASSERT_TRUE(s);
    auto m = s->get_int("router.max_models");
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("(from KILN_MAX_MODELS)"), std::string::npos) << m.error().message;
    s->set_flag("model.slots", "0");  // given as --parallel, an alias: named by the first long name
    EXPECT_EQ(s->origin("model.slots"), "--slots");
    EXPECT_EQ(s->source("model.slots"), SettingSource::flag);
    s->set_flag("router.max_models", "2");
    EXPECT_EQ(*s->get_int("router.max_models"), 2) << "a flag wins over the environment";
    unsetenv("KILN_MAX_MODELS");
}

TEST(SettingsTable, ServerAndPresetModelSettingsAreReadAlike) {
    // The server's [model] settings and a preset's keys go through one reader.
    auto tables = read_preset_file(write_file("[models.m]\nmodel = \"x\"\nslots = 129\n"));
    ASSERT_TRUE(tables) << tables.error().message;
    auto presets = router::parse_presets(*tables, {}, "config.toml");
    ASSERT_FALSE(presets);
    EXPECT_NE(presets.error().message.find("[models.m]: 'slots' (line 3) must be an integer from 1 to 128, got 129"),
              std::string::npos)
        << presets.error().message;

    unsetenv("KILN_SLOTS");
    auto s = Settings::load(write_file("[model]\nslots = 129\n"));
    ASSERT_TRUE(s);
    backend::LlamaOptions o;
    auto r = router::read_model_settings([&](const SettingDef & d) { return &s->value(d.key()); },
                                         [&](const SettingDef & d, const SettingValue &, const std::string & what) {
                                             return s->bad(d.key(), what);
                                         },
                                         o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("model.slots (from config.toml line 2) must be an integer from 1 to 128"),
              std::string::npos)
        << r.error().message;

    tables = read_preset_file(write_file("[models.m]\nmodel = \"x\"\nslots = 2\ntemperature = 0.25\nkeep_alive = -1\n"));
    ASSERT_TRUE(tables);
    presets = router::parse_presets(*tables, {}, "config.toml");
    ASSERT_TRUE(presets) << presets.error().message;
    EXPECT_EQ((*presets)[0].spec.llama.slots, 2);
    EXPECT_FLOAT_EQ((*presets)[0].spec.llama.sampling.temperature, 0.25f);
    ASSERT_TRUE((*presets)[0].spec.keep_alive);
    EXPECT_TRUE((*presets)[0].spec.keep_alive->is_forever());
}

TEST(SettingsTable, MarkdownHasARowPerSetting) {
    const std::string server = settings_markdown(scope_server);
    const std::string preset = settings_markdown(scope_preset);
    for (const auto & d : setting_defs()) {
        if (d.in(scope_server)) {
            EXPECT_NE(server.find("`" + d.key() + "`"), std::string::npos) << d.key();
        }
        if (d.in(scope_preset)) {
            EXPECT_NE(preset.find("| `" + std::string(d.name) + "` |"), std::string::npos) << d.name;
        }
    }
    EXPECT_EQ(server.find("`temperature`"), std::string::npos) << "a preset's own key is no server setting";
}
