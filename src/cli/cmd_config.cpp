// kiln config: every setting's value and where it came from (the config
// file, a KILN_* variable, or the default); --path prints the file's place.
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config.h"
#include "core/paths.h"
#include "store/modelfile.h"

namespace kiln::cli {
namespace {

struct ConfigOptions {
    std::string file;
    bool        json = false;
    bool        path = false;
    bool        markdown = false;
};

// API keys are secrets: shown as how many there are.
std::string shown(const std::string & key, const std::string & value) {
    if (key != "server.api_key" || value.empty()) return value;
    size_t n = 1;
    for (char c : value) n += c == ',';
    return "(" + std::to_string(n) + " key" + (n == 1 ? "" : "s") + ", hidden)";
}

int config(const ConfigOptions & o) {
    const std::string file = o.file.empty() ? paths::config_file().string() : o.file;
    std::error_code   ec;
    const bool        exists = std::filesystem::exists(file, ec);
    if (o.path) {
        std::printf("%s\n", file.c_str());
        return ok;
    }
    if (o.markdown) {
        std::printf("%s\n%s", settings_markdown(scope_server).c_str(), settings_markdown(scope_preset).c_str());
        return ok;
    }
    auto s = Settings::load(file);
    if (!s) {
        std::fprintf(stderr, "kiln config: %s\n", s.error().message.c_str());
        return usage;
    }
    const auto presets = store::created_presets(paths::home());
    if (o.json) {
        nlohmann::json out = {{"file", file}, {"file_exists", exists}, {"home", paths::home().string()}, {"settings", nlohmann::json::object()}};
        for (const auto & d : setting_defs()) {
            if (!d.in(scope_server)) continue;
            const std::string key = d.key();
            out["settings"][key] = {{"value", shown(key, s->get(key))},
                                    {"source", setting_source_name(s->source(key))},
                                    {"origin", s->origin(key)},
                                    {"env", d.env}};
        }
        out["presets"] = nlohmann::json::array();
        for (const auto & p : s->presets()) out["presets"].push_back({{"name", p.name}, {"from", "config file"}});
        if (presets) {
            for (const auto & p : *presets) out["presets"].push_back({{"name", p.name}, {"from", "kiln create"}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return ok;
    }
    std::printf("config file: %s%s\nhome: %s\n\n", file.c_str(), exists ? "" : " (not there: defaults and environment only)",
                paths::home().c_str());
    size_t w = 0;
    for (const auto & d : setting_defs()) w = std::max(w, d.in(scope_server) ? d.key().size() : 0);
    std::printf("%-*s  %-8s  %s\n", static_cast<int>(w), "SETTING", "FROM", "VALUE");
    for (const auto & d : setting_defs()) {
        if (!d.in(scope_server)) continue;
        const std::string key = d.key();
        const std::string v   = shown(key, s->get(key));
        std::printf("%-*s  %-8s  %s\n", static_cast<int>(w), key.c_str(), setting_source_name(s->source(key)),
                    v.empty() ? "(empty)" : v.c_str());
    }
    if (!s->presets().empty() || (presets && !presets->empty())) {
        std::printf("\npresets:");
        for (const auto & p : s->presets()) std::printf(" %s", p.name.c_str());
        if (presets) {
            for (const auto & p : *presets) std::printf(" %s (created)", p.name.c_str());
        }
        std::printf("\n");
    }
    std::printf("\nEach setting is, first found: a flag of the command, its KILN_* variable, the file, the default.\n");
    return ok;
}

}  // namespace

void add_config(CLI::App & app, int & exit_code) {
    auto   opts = std::make_shared<ConfigOptions>();
    auto * cmd  = app.add_subcommand("config", "Show the settings in effect and where each came from");
    cmd->add_option("--config", opts->file, "config file (default: $KILN_CONFIG or ~/.config/kiln/config.toml)");
    cmd->add_flag("--json", opts->json, "JSON instead of a table");
    cmd->add_flag("--path", opts->path, "print the config file's path and nothing else");
    cmd->add_flag("--markdown", opts->markdown, "every setting and preset key as Markdown tables (the README's)");
    cmd->footer("Examples:\n"
                "  kiln config\n"
                "  KILN_PORT=8080 kiln config --json\n"
                "  $EDITOR \"$(kiln config --path)\"");
    cmd->callback([opts, &exit_code] { exit_code = config(*opts); });
}

}  // namespace kiln::cli
