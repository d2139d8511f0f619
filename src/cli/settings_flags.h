// Binds command-line flags to Settings keys, so a flag is one more layer of
// the same settings (flag > env > file > default) rather than a parallel path.
// The flags, their help and value names come from the settings table.
#pragma once

#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "core/config.h"
#include "core/paths.h"

namespace kiln::cli {

struct SettingsFlags {
    std::map<std::string, std::string> values;  // key -> flag text, if given
    std::string                        config_path;

    // A flag for every setting of the table that has one, and --config.
    void add_all(CLI::App & cmd) {
        for (const auto & d : setting_defs()) {
            if (!d.flag || !d.in(scope_server)) continue;
            const std::string key = d.key();
            if (d.type == SettingType::boolean) {
                cmd.add_flag_callback(d.flag, [this, key] { values[key] = "true"; }, d.help);
            } else {
                cmd.add_option(d.flag, values[key], d.help)->type_name(d.value_name ? d.value_name : "TEXT");
            }
        }
        cmd.add_option("--config", config_path, "config file (default: $KILN_CONFIG or ~/.config/kiln/config.toml)")
            ->type_name("PATH");
    }

    // Loads file and env, then applies the flags that were given.
    Result<Settings> resolve() const {
        auto s = Settings::load(config_path.empty() ? paths::config_file().string() : config_path);
        if (!s) return s;
        for (const auto & [key, value] : values) {
            if (!value.empty()) s->set_flag(key, value);
        }
        return s;
    }
};

}  // namespace kiln::cli
