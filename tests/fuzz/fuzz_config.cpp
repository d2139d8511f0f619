// The config file (TOML: settings and [models.NAME] presets), the presets
// file kiln create writes, and the presets' validation.
#include "backend/llama_backend.h"
#include "core/config.h"
#include "fuzz_input.h"
#include "router/resolver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto          in = kiln::fuzz::pick(data, size);
    kiln::fuzz::MemFile file(in.rest);
    if (in.which & 1) {
        auto tables = kiln::read_preset_file(file.path());
        if (tables) (void)kiln::router::parse_presets(*tables, kiln::backend::LlamaOptions{}, "presets.toml");
        return 0;
    }
    auto settings = kiln::Settings::load(file.path());
    if (!settings) return 0;
    // Every setting read as its type says (its range checked).
    for (const auto & d : kiln::setting_defs()) {
        if (!d.section) continue;
        const std::string key = d.key();
        if (d.type == kiln::SettingType::integer) (void)settings->get_int(key);
        if (d.type == kiln::SettingType::boolean) (void)settings->get_bool(key);
        if (d.type == kiln::SettingType::text || d.type == kiln::SettingType::duration) (void)settings->get_text(key);
        if (d.type == kiln::SettingType::list) (void)settings->get_list(key);
    }
    (void)kiln::router::parse_presets(settings->presets(), kiln::backend::LlamaOptions{}, "config.toml");
    return 0;
}
