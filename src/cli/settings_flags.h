// Binds command-line flags to Settings keys, so a flag is one more layer of
// the same settings (flag > env > file > default) rather than a parallel path.
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

    // type: what the help shows as the value ("INT", "PATH", ...).
    void add(CLI::App & cmd, const std::string & key, const std::string & names, const std::string & help,
             const std::string & type = "TEXT") {
        cmd.add_option(names, values[key], help)->type_name(type);
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
