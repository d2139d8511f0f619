// kiln list | show | rm | cp | import | create: the local model catalog and
// the presets made from Modelfiles.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/paths.h"
#include "core/units.h"
#include "core/utf8.h"
#include "core/config.h"
#include "router/create_preset.h"
#include "store/catalog.h"
#include "store/modelfile.h"
#include "store/model_ref.h"
#include "store/sha256.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;
using store::Catalog;
using store::ModelEntry;

std::unique_ptr<Catalog> open_catalog() {
    auto c = Catalog::open(paths::home());
    if (!c) {
        std::fprintf(stderr, "kiln: %s\n", c.error().message.c_str());
        return nullptr;
    }
    return std::move(*c);
}

int fail(const Error & e) {
    std::fprintf(stderr, "kiln: %s\n", e.message.c_str());
    return e.code == ErrorCode::invalid_request ? usage : failure;
}

std::string ago(int64_t unix_seconds) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const int64_t d = std::max<int64_t>(0, now - unix_seconds);
    auto plural = [](int64_t n, const char * unit) {
        return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
    };
    if (d < 60) return "just now";
    if (d < 3600) return plural(d / 60, "minute");
    if (d < 86400) return plural(d / 3600, "hour");
    if (d < 86400 * 30) return plural(d / 86400, "day");
    if (d < 86400 * 365) return plural(d / (86400 * 30), "month");
    return plural(d / (86400 * 365), "year");
}

nlohmann::json to_json(const Catalog & c, const ModelEntry & e) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto & f : e.files) {
        files.push_back({{"path", c.absolute(f).string()}, {"kind", f.kind}, {"size", f.size}, {"sha256", f.sha256}});
    }
    return {
        {"name", e.name},
        {"source", e.source},
        {"aliases", e.aliases},
        {"size", e.size},
        {"modified_at", e.modified},
        {"added_at", e.added_at},
        {"files", files},
        {"architecture", e.info.architecture},
        {"parameters", e.info.n_params},
        {"parameter_size", store::format_params(e.info.n_params)},
        {"quantization", e.info.quant},
        {"context_length", e.info.context_length},
        {"embedding_length", e.info.embedding_length},
        {"block_count", e.info.block_count},
        {"capabilities", e.info.capabilities},
        {"license", e.info.license},
        {"general_name", e.info.name},
        {"chat_template", e.info.chat_template},
    };
}

int list(bool json) {
    auto c = open_catalog();
    if (!c) return failure;
    std::vector<std::string> skipped;
    auto entries = c->list(&skipped);
    if (!entries) return fail(entries.error());
    for (const auto & why : skipped) std::fprintf(stderr, "kiln: not listed: %s\n", why.c_str());
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto & e : *entries) out.push_back(to_json(*c, e));
        std::printf("%s\n", out.dump(2).c_str());
        return ok;
    }
    if (entries->empty()) {
        std::printf("no models yet; get one with: kiln pull ORG/REPO[:QUANT]\n");
        return ok;
    }
    size_t w = 4;
    for (const auto & e : *entries) w = std::max(w, e.name.size());
    std::printf("%-*s  %9s  %-9s  %-10s  %6s  %s\n", static_cast<int>(w), "NAME", "SIZE", "QUANT", "ARCH", "PARAMS",
                "MODIFIED");
    for (const auto & e : *entries) {
        std::printf("%-*s  %9s  %-9s  %-10s  %6s  %s\n", static_cast<int>(w), e.name.c_str(), format_bytes(static_cast<double>(e.size)).c_str(),
                    e.info.quant.c_str(), e.info.architecture.c_str(), store::format_params(e.info.n_params).c_str(),
                    ago(e.modified).c_str());
    }
    if (auto made = store::created_presets(paths::home()); made && !made->empty()) {
        std::printf("\ncreated (kiln create):\n");
        for (const auto & t : *made) {
            const auto from = t.values.count("model") ? t.values.at("model").text() : std::string("?");
            std::printf("  %s  (from %s)\n", t.name.c_str(), from.c_str());
        }
    }
    return ok;
}

int show(const std::string & name, bool json, bool template_only) {
    auto c = open_catalog();
    if (!c) return failure;
    auto e = c->find(name);
    if (!e) return fail(e.error());
    if (template_only) {
        std::printf("%s\n", e->info.chat_template.c_str());
        return ok;
    }
    if (json) {
        std::printf("%s\n", to_json(*c, *e).dump(2).c_str());
        return ok;
    }
    auto row = [](const char * k, const std::string & v) {
        if (!v.empty()) std::printf("  %-16s %s\n", k, v.c_str());
    };
    std::printf("%s\n", e->name.c_str());
    row("source", e->source);
    if (!e->aliases.empty()) {
        std::string a;
        for (const auto & s : e->aliases) a += (a.empty() ? "" : ", ") + s;
        row("aliases", a);
    }
    row("architecture", e->info.architecture);
    row("parameters", store::format_params(e->info.n_params));
    row("quantization", e->info.quant);
    row("context length", e->info.context_length ? std::to_string(e->info.context_length) : "");
    row("embedding length", e->info.embedding_length ? std::to_string(e->info.embedding_length) : "");
    std::string caps;
    for (const auto & s : e->info.capabilities) caps += (caps.empty() ? "" : ", ") + s;
    row("capabilities", caps);
    row("license", e->info.license);
    row("size", format_bytes(static_cast<double>(e->size)));
    row("modified", ago(e->modified));
    std::printf("  files\n");
    for (const auto & f : e->files) {
        std::printf("    %s%s  %s%s\n", c->absolute(f).string().c_str(), f.kind == "model" ? "" : " (projector)",
                    format_bytes(static_cast<double>(f.size)).c_str(), f.sha256.empty() ? "" : ("  sha256 " + f.sha256).c_str());
    }
    if (!e->info.chat_template.empty()) {
        const auto & t    = e->info.chat_template;
        const auto   cut  = t.size() > 300 ? t.substr(0, 300) + "\n    ... (kiln show " + e->name + " --template)" : t;
        std::printf("  template\n    ");
        for (char ch : cut) {
            std::fputc(ch, stdout);
            if (ch == '\n') std::fputs("    ", stdout);
        }
        std::printf("\n");
    }
    return ok;
}

// kiln create NAME -f Modelfile: a preset in $KILN_HOME/presets.toml, which a
// running server picks up at its next request for it.
int create(const std::string & name, const std::string & file) {
    std::FILE * f = std::fopen(file.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "kiln: cannot read %s (give the Modelfile with -f)\n", file.c_str());
        return usage;
    }
    std::string text;
    char        buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    auto mf = store::parse_modelfile(text);
    if (!mf) return fail(mf.error());
    // FROM ./model.gguf is relative to the Modelfile.
    std::error_code ec;
    const fs::path  relative = fs::absolute(file, ec).parent_path() / mf->from;
    if (!fs::path(mf->from).is_absolute() && fs::is_regular_file(relative, ec)) mf->from = fs::weakly_canonical(relative, ec).string();

    auto settings = Settings::load(paths::config_file().string());
    if (!settings) return fail(settings.error());
    auto presets = router::parse_presets(settings->presets(), {}, settings->file_name());
    if (!presets) return fail(presets.error());
    router::CatalogResolver resolver(paths::home(), {}, std::move(*presets), {});
    auto made = router::create_preset(paths::home(), resolver, name, *mf, {});
    if (!made) return fail(made.error());
    std::printf("created %s from %s (%s); run it with: kiln run %s\n", name.c_str(), mf->from.c_str(),
                store::presets_path(paths::home()).c_str(), name.c_str());
    return ok;
}

int remove(const std::string & name) {
    // A created preset goes alone; its model stays.
    if (auto gone = store::remove_preset(paths::home(), name); !gone) {
        return fail(gone.error());
    } else if (*gone) {
        std::printf("deleted the preset %s (its model stays)\n", name.c_str());
        return ok;
    }
    auto c = open_catalog();
    if (!c) return failure;
    auto e = c->find(name);
    if (!e) return fail(e.error());
    if (store::named_by_alias(*e, name)) {
        if (auto st = c->remove(name, true); !st) return fail(st.error());
        std::printf("removed the name %s; the model stays as %s\n", name.c_str(), e->name.c_str());
        return ok;
    }
    if (auto st = c->remove(e->name, true); !st) return fail(st.error());
    std::printf("deleted %s\n", e->name.c_str());
    return ok;
}

int copy(const std::string & src, const std::string & alias) {
    auto c = open_catalog();
    if (!c) return failure;
    auto e = c->find(src);
    if (!e) return fail(e.error());
    if (auto st = c->add_alias(alias, e->name); !st) return fail(st.error());
    std::printf("%s is now also %s\n", e->name.c_str(), alias.c_str());
    return ok;
}

int import(const std::string & path_text, std::string name) {
    auto c = open_catalog();
    if (!c) return failure;
    std::error_code ec;
    const fs::path path = fs::weakly_canonical(fs::absolute(path_text, ec), ec);
    auto info = store::read_gguf_info(path);
    if (!info) return fail(info.error());
    if (info->projector) return fail(make_error(ErrorCode::invalid_request, "that is a projector (mmproj), not a model"));
    ModelEntry e;
    e.source = "import";
    std::vector<fs::path> parts{path};
    if (const auto part = store::split_part_of(path.filename().string())) {
        if (part->index != 1) {
            return fail(make_error(ErrorCode::invalid_request, "import the first part of a split model (-00001-of-...)"));
        }
        parts.clear();
        for (int i = 1; i <= part->count; ++i) {
            char suffix[32];
            std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", i, part->count);
            parts.push_back(path.parent_path() / (part->prefix + suffix));
        }
    }
    // Inside models/ a file is recorded relative to it, like a pull.
    const auto models = fs::weakly_canonical(c->models_dir(), ec);
    for (const auto & p : parts) {
        const auto size = fs::file_size(p, ec);
        if (ec) return fail(make_error(ErrorCode::not_found, "missing part " + p.filename().string()));
        const auto rel = p.lexically_relative(models);
        const bool inside = !rel.empty() && *rel.begin() != "..";
        e.files.push_back({inside ? rel.string() : p.string(), "model", size, ""});
    }
    if (name.empty()) {
        name = path.stem().string();
        if (const auto part = store::split_part_of(path.filename().string())) name = part->prefix;
    }
    e.name = name;
    auto all = c->list();
    if (!all) return fail(all.error());
    for (const auto & other : *all) {
        if (c->absolute(other.files.front()) == c->absolute(e.files.front())) {
            return fail(make_error(ErrorCode::invalid_request, "that file is already in the catalog as " + other.name +
                                                                   "; 'kiln cp " + other.name + " NAME' names it too"));
        }
    }
    if (auto existing = c->find(name); existing && existing->name == name) {
        return fail(make_error(ErrorCode::invalid_request, "a model named " + name + " exists; pick another with --name"));
    }
    if (auto st = c->add(e); !st) return fail(st.error());
    std::printf("imported %s (%s, %s, %s)\n", e.name.c_str(), info->architecture.c_str(),
                store::format_params(info->n_params).c_str(), info->quant.c_str());
    return ok;
}

// Re-hashes every file that has a recorded sha256. Exit 1 on any mismatch.
int verify(const std::string & name) {
    auto c = open_catalog();
    if (!c) return failure;
    std::vector<ModelEntry> entries;
    if (name.empty()) {
        auto all = c->list();
        if (!all) return fail(all.error());
        entries = std::move(*all);
    } else {
        auto e = c->find(name);
        if (!e) return fail(e.error());
        entries.push_back(std::move(*e));
    }
    const bool tty = isatty(STDOUT_FILENO);
    int bad = 0, checked = 0;
    for (const auto & e : entries) {
        for (const auto & f : e.files) {
            const auto path  = c->absolute(f);
            const auto label = e.name + "  " + path.filename().string();
            if (f.sha256.empty()) {
                std::printf("%s: no recorded sha256 (not pulled by kiln), skipped\n", label.c_str());
                continue;
            }
            auto h = store::sha256_file(path, [&](uint64_t done) {
                if (tty && f.size > 0) {
                    std::printf("\r%s: %3d%%", label.c_str(), static_cast<int>(100 * done / f.size));
                    std::fflush(stdout);
                }
                return true;
            });
            if (tty) std::printf("\r\033[K");
            ++checked;
            if (!h) {
                ++bad;
                std::printf("%s: FAILED (%s)\n", label.c_str(), h.error().message.c_str());
            } else if (*h != f.sha256) {
                ++bad;
                std::printf("%s: FAILED (sha256 %s, expected %s); 'kiln rm %s' then pull it again\n", label.c_str(),
                            h->c_str(), f.sha256.c_str(), e.name.c_str());
            } else {
                std::printf("%s: OK\n", label.c_str());
            }
        }
    }
    if (checked == 0 && bad == 0) std::printf("nothing to verify\n");
    return bad == 0 ? ok : failure;
}

}  // namespace

void add_models(CLI::App & app, int & exit_code) {
    {
        auto * cmd  = app.add_subcommand("list", "List local models")->alias("ls");
        cmd->footer("Examples:\n  kiln list\n  kiln list --json | jq -r '.[].name'");
        auto   json = std::make_shared<bool>(false);
        cmd->add_flag("--json", *json, "JSON instead of a table");
        cmd->callback([&exit_code, json] { exit_code = list(*json); });
    }
    {
        auto * cmd  = app.add_subcommand("show", "Show a model's metadata, template and files");
        cmd->footer("Examples:\n  kiln show org/repo:Q4_K_M\n  kiln show repo --template\n  kiln show repo --json");
        auto   name = std::make_shared<std::string>();
        auto   json = std::make_shared<bool>(false);
        auto   tmpl = std::make_shared<bool>(false);
        cmd->add_option("NAME", *name, "model name, alias, repo:quant or a unique part of a name")->required();
        cmd->add_flag("--json", *json, "JSON");
        cmd->add_flag("--template", *tmpl, "only the chat template");
        cmd->callback([&exit_code, name, json, tmpl] { exit_code = show(*name, *json, *tmpl); });
    }
    {
        auto * cmd  = app.add_subcommand("create", "Make a model from a Modelfile: a preset over a pulled model or GGUF");
        cmd->footer("Examples:\n  kiln create reviewer -f ./Modelfile\n  kiln run reviewer \"Review this diff\"");
        auto   name = std::make_shared<std::string>();
        auto   file = std::make_shared<std::string>("Modelfile");
        cmd->add_option("NAME", *name, "the new model's name")->required();
        cmd->add_option("-f,--file", *file, "the Modelfile (FROM, PARAMETER, SYSTEM, TEMPLATE, MESSAGE, LICENSE)")
            ->capture_default_str();
        cmd->callback([&exit_code, name, file] { exit_code = create(*name, *file); });
    }
    {
        auto * cmd  = app.add_subcommand("rm", "Delete a model and its files (a created model: just its preset)");
        cmd->footer("Examples:\n  kiln rm org/repo:Q4_K_M\n  kiln rm qwen            # an alias or a created model: just that name");
        auto   name = std::make_shared<std::string>();
        cmd->add_option("NAME", *name, "model to delete")->required();
        cmd->callback([&exit_code, name] { exit_code = remove(*name); });
    }
    {
        auto * cmd   = app.add_subcommand("cp", "Give a model another name (no files are copied)");
        cmd->footer("Examples:\n  kiln cp org/repo:Q4_K_M qwen");
        auto   src   = std::make_shared<std::string>();
        auto   alias = std::make_shared<std::string>();
        cmd->add_option("SRC", *src, "model")->required();
        cmd->add_option("ALIAS", *alias, "the new name")->required();
        cmd->callback([&exit_code, src, alias] { exit_code = copy(*src, *alias); });
    }
    {
        auto * cmd  = app.add_subcommand("verify", "Re-hash model files against the sha256 recorded when pulled");
        cmd->footer("Examples:\n  kiln verify\n  kiln verify org/repo:Q4_K_M");
        auto   name = std::make_shared<std::string>();
        cmd->add_option("NAME", *name, "one model (default: all)");
        cmd->callback([&exit_code, name] { exit_code = verify(*name); });
    }
    {
        auto * cmd  = app.add_subcommand("import", "Register a GGUF file where it is, without copying it");
        cmd->footer("Examples:\n  kiln import ~/Downloads/model.gguf --name mine");
        auto   path = std::make_shared<std::string>();
        auto   name = std::make_shared<std::string>();
        cmd->add_option("PATH", *path, "a .gguf file (the first part of a split model)")->required();
        cmd->add_option("--name", *name, "its name in kiln (default: the file name)");
        cmd->callback([&exit_code, path, name] { exit_code = import(*path, *name); });
    }
}

}  // namespace kiln::cli
