#include "router/resolver.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/utf8.h"
#include "router/backend_kinds.h"
#include "store/catalog.h"
#include "store/gguf_info.h"
#include "store/url.h"

namespace kiln::router {
namespace fs = std::filesystem;

namespace {

std::string_view without_latest(std::string_view name) {
    constexpr std::string_view kLatest = ":latest";
    if (name.size() > kLatest.size() && utf8::ascii_lower(name.substr(name.size() - kLatest.size())) == kLatest) {
        name.remove_suffix(kLatest.size());
    }
    return name;
}

}  // namespace

bool same_model_name(std::string_view a, std::string_view b) {
    return utf8::ascii_lower(without_latest(a)) == utf8::ascii_lower(without_latest(b));
}

namespace {

bool same_name(const std::string & a, const std::string & b) { return same_model_name(a, b); }

// Reads a preset's keys through the settings table; an error names the
// file, the table, the key and its line.
class PresetReader {
  public:
    PresetReader(const PresetTable & t, std::string where) : t_(t), where_(std::move(where)) {}

    // The value of a key of the table, or nullptr when the preset leaves it out.
    const SettingValue * value(const SettingDef & d) {
        auto it = t_.values.find(d.name);
        if (it == t_.values.end()) return nullptr;
        seen_.push_back(d.name);
        return &it->second;
    }
    Status integer(const char * key, int32_t & out) {
        int64_t v = out;
        KILN_CHECK(read(key, v, setting_integer));
        out = static_cast<int32_t>(v);  // the table's range fits
        return {};
    }
    Status number(const char * key, float & out) {
        double v = out;
        KILN_CHECK(read(key, v, setting_number));
        out = static_cast<float>(v);
        return {};
    }
    Result<std::optional<std::string>> text(const char * key) {
        std::string v;
        auto        given = read(key, v, setting_text);
        if (!given) return given.error();
        return *given ? std::optional<std::string>(std::move(v)) : std::nullopt;
    }
    const std::vector<std::string> * list(const char * key) {
        auto it = t_.lists.find(key);
        if (it == t_.lists.end()) return nullptr;
        seen_.push_back(key);
        return &it->second;
    }
    bool  has(const char * key) const { return t_.values.count(key) > 0; }
    Error fail(const std::string & what) const { return make_error(ErrorCode::invalid_request, where_ + ": " + what); }
    Error fail(const SettingDef & d, const SettingValue & v, const std::string & what) const {
        const std::string line = v.line > 0 ? " (line " + std::to_string(v.line) + ")" : "";
        return fail("'" + std::string(d.name) + "'" + line + " " + what);
    }
    // Any key nobody read is unknown.
    Status finish() const {
        auto check = [&](const std::string & key) -> Status {
            if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) return fail("unknown setting '" + key + "'");
            return {};
        };
        for (const auto & [k, v] : t_.values) KILN_CHECK(check(k));
        for (const auto & [k, v] : t_.lists) KILN_CHECK(check(k));
        return {};
    }

  private:
    // Reads `key` with `convert`; whether it was given.
    template <class T>
    Result<bool> read(const char * key, T & out, Result<T> (*convert)(const SettingDef &, const SettingValue &)) {
        const SettingDef * d = find_preset_setting(key);
        if (!d) throw std::logic_error(std::string("not a preset setting: ") + key);
        const SettingValue * v = value(*d);
        if (!v) return false;
        auto r = convert(*d, *v);
        if (!r) return fail(*d, *v, r.error().message);
        out = std::move(*r);
        return true;
    }

    const PresetTable &      t_;
    std::string              where_;
    std::vector<std::string> seen_;
};

// Default sampling for requests that leave a field out.
Status parse_sampling(PresetReader & r, engine::SamplingParams & s) {
    for (const auto & f : engine::sampling_fields()) {
        if (!r.has(f.name)) continue;
        if (f.integer) {
            int32_t v = 0;
            KILN_CHECK(r.integer(f.name, v));
            engine::set_sampling(s, f, v);
        } else {
            float v = 0;
            KILN_CHECK(r.number(f.name, v));
            engine::set_sampling(s, f, v);
        }
    }
    int32_t seed = 0;
    KILN_CHECK(r.integer("seed", seed));
    if (r.has("seed")) {
        s.seed = static_cast<uint32_t>(seed);
        s.set |= engine::SamplingParams::seed_set;
    }
    return {};
}

// The keys of a process or a remote backend.
Status parse_proxy(PresetReader & r, ModelSpec & spec) {
    backend::ProxyOptions & o = spec.proxy;
    const bool process = kind_of(spec).runs_command;
    if (process) {
        KILN_TRY(auto command, r.text("command"));
        if (command) o.command = backend::split_command(*command);
        if (const auto * c = r.list("command")) o.command = *c;
        if (o.command.empty()) {
            return r.fail("'command' is required for a process backend, e.g. \"llama-server --port ${PORT} -m ${MODEL_PATH}\"");
        }
    } else {
        KILN_TRY(auto url, r.text("url"));
        const auto web = [](const std::string & u) {
            const auto p = store::parse_url(u);
            return p && (p->scheme == "http" || p->scheme == "https");
        };
        if (!url || !web(*url)) {
            return r.fail("'url' (http://host:port of an OpenAI-compatible server) is required for a remote backend");
        }
        o.url = *url;
        while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
        KILN_TRY(auto key, r.text("api_key"));
        if (key) o.api_key = *key;
        o.health_path = "/v1/models";
    }
    KILN_TRY(auto health, r.text("health"));
    if (health) {
        if (health->empty() || health->front() != '/') return r.fail("'health' must be a path such as /health");
        o.health_path = *health;
    }
    int32_t ready = static_cast<int32_t>(o.ready_timeout.count() / 1000);
    int32_t grace = static_cast<int32_t>(o.stop_grace.count() / 1000);
    int32_t memory = 0;
    KILN_CHECK(r.integer("ready_timeout", ready));
    KILN_CHECK(r.integer("stop_timeout", grace));
    KILN_CHECK(r.integer("concurrency", o.max_concurrent));
    KILN_CHECK(r.integer("memory", memory));
    o.ready_timeout = std::chrono::seconds(ready);
    o.stop_grace    = std::chrono::seconds(grace);
    spec.memory_mib = memory;
    return {};
}

Result<Preset> parse_preset(const PresetTable & t, const backend::LlamaOptions & defaults, const std::string & file) {
    PresetReader r(t, "config file " + file + ": [models." + t.name + "]");
    Preset       p;
    p.name            = t.name;
    p.spec.id         = t.name;
    p.spec.llama      = defaults;
    backend::LlamaOptions & o = p.spec.llama;
    o.alias           = t.name;
    KILN_TRY(auto model, r.text("model"));
    if (model) p.model = *model;
    if (const auto * a = r.list("aliases")) p.spec.aliases = *a;
    KILN_TRY(auto backend, r.text("backend"));
    if (backend) {
        if (!find_backend_kind(*backend)) return r.fail("'backend' must be " + backend_kind_names() + ", got '" + *backend + "'");
        p.spec.backend = *backend;
    }
    const bool in_process = kind_of(p.spec).in_process;
    if (in_process && p.model.empty()) {
        return r.fail("'model' (a catalog name or a GGUF path) is required");
    }
    if (!in_process) KILN_CHECK(parse_proxy(r, p.spec));
    KILN_CHECK(read_model_settings(
        [&](const SettingDef & d) { return r.value(d); },
        [&](const SettingDef & d, const SettingValue & v, const std::string & what) { return r.fail(d, v, what); }, o));
    KILN_TRY(auto tmpl, r.text("chat_template"));
    if (tmpl) o.chat_template = *tmpl;
    KILN_TRY(auto sys, r.text("system"));
    if (sys) o.system = *sys;
    if (const auto * msgs = r.list("messages")) {
        for (const auto & m : *msgs) {
            const size_t colon = m.find(": ");
            const std::string role = colon == std::string::npos ? "" : m.substr(0, colon);
            if (role != "system" && role != "user" && role != "assistant") {
                return r.fail("'messages' entries are \"role: content\" (system, user or assistant), got '" + m.substr(0, 40) + "'");
            }
            o.messages.emplace_back(role, m.substr(colon + 2));
        }
    }
    if (const auto * stops = r.list("stop")) o.stop = *stops;
    KILN_CHECK(r.integer("max_tokens", o.max_tokens));
    KILN_CHECK(r.text("license"));  // shown by /api/show, nothing to run
    KILN_CHECK(parse_sampling(r, o.sampling));
    KILN_TRY(auto ka, r.text("keep_alive"));
    if (ka) {
        auto k = parse_keep_alive(*ka, "keep_alive");
        if (!k) return r.fail(k.error().message);
        p.spec.keep_alive = *k;
    }
    KILN_CHECK(r.finish());
    return p;
}

int32_t trained_context(const fs::path & path) {
    auto info = store::read_gguf_info(path);
    return info ? static_cast<int32_t>(info->context_length) : 0;
}

}  // namespace

Status read_model_settings(const std::function<const SettingValue *(const SettingDef &)> & value,
                           const std::function<Error(const SettingDef &, const SettingValue &, const std::string &)> & fail,
                           backend::LlamaOptions & o) {
    struct Field {
        const char * name;
        int32_t backend::LlamaOptions::*field;
    };
    static constexpr Field kCounts[] = {
        {"ctx_size", &backend::LlamaOptions::n_ctx},       {"slot_ctx", &backend::LlamaOptions::n_ctx_seq},
        {"slots", &backend::LlamaOptions::slots},          {"max_queue", &backend::LlamaOptions::max_queue},
        {"threads", &backend::LlamaOptions::n_threads},    {"batch_size", &backend::LlamaOptions::n_batch},
        {"template_timeout", &backend::LlamaOptions::template_timeout},
    };
    auto given = [&](const char * name) -> std::pair<const SettingDef *, const SettingValue *> {
        const SettingDef * d = find_preset_setting(name);
        return {d, d ? value(*d) : nullptr};
    };
    for (const auto & f : kCounts) {
        auto [d, v] = given(f.name);
        if (!v) continue;
        auto n = setting_integer(*d, *v);
        if (!n) return fail(*d, *v, n.error().message);
        o.*f.field = static_cast<int32_t>(*n);  // the table's range fits
    }
    if (auto [d, v] = given("cache_ram"); v) {
        auto n = setting_integer(*d, *v);
        if (!n) return fail(*d, *v, n.error().message);
        o.cache_ram_mib = *n;
    }
    if (auto [d, v] = given("kv_type"); v) {
        auto t = setting_text(*d, *v);
        auto k = t ? engine::parse_kv_type(*t) : Result<ggml_type>(t.error());
        if (!k) return fail(*d, *v, k.error().message);
        o.kv_type = *k;
    }
    if (auto [d, v] = given("flash_attn"); v) {
        auto t = setting_text(*d, *v);
        auto f = t ? engine::parse_flash_attn(*t) : Result<engine::ContextParams::FlashAttn>(t.error());
        if (!f) return fail(*d, *v, f.error().message);
        o.flash_attn = *f;
    }
    return {};
}

Result<std::vector<Preset>> parse_presets(const std::vector<PresetTable> & tables, const backend::LlamaOptions & defaults,
                                          const std::string & file_name) {
    std::vector<Preset> out;
    for (const auto & t : tables) {
        KILN_TRY(Preset p, parse_preset(t, defaults, file_name));
        out.push_back(std::move(p));
    }
    return out;
}

Result<ModelSpec> spec_for_path(const fs::path & path, const std::string & alias, const backend::LlamaOptions & defaults) {
    ModelSpec s;
    s.id               = !alias.empty() ? alias : path.stem().string();
    s.llama            = defaults;
    s.llama.model_path = path;
    s.llama.alias      = s.id;
    auto info          = store::read_gguf_info(path);
    if (!info) return info.error();
    s.n_ctx_train = static_cast<int32_t>(info->context_length);
    return s;
}

CatalogResolver::CatalogResolver(fs::path home, backend::LlamaOptions defaults, std::vector<Preset> presets,
                                 std::vector<ModelSpec> fixed)
    : home_(std::move(home)), defaults_(std::move(defaults)), presets_(std::move(presets)), fixed_(std::move(fixed)) {}

Result<ModelSpec> CatalogResolver::from_preset(const Preset & p) {
    ModelSpec       spec       = p.spec;
    const bool      in_process = kind_of(spec).in_process;
    std::error_code ec;
    if (!in_process) {
        std::string file;
        for (char c : p.name) file += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
        spec.proxy.log_path = home_ / "logs" / (file + ".log");
        spec.n_ctx_train    = 0;  // its context is the runner's business
        if (p.model.empty()) return spec;
    }
    if (fs::is_regular_file(p.model, ec)) {
        spec.llama.model_path = p.model;
        if (in_process) spec.n_ctx_train = trained_context(p.model);
        return spec;
    }
    // A path is named by its file name only: errors reach HTTP clients.
    if (fs::path(p.model).is_absolute()) {
        return make_error(ErrorCode::model_not_found,
                          "model '" + p.name + "' (a preset) names the file " + fs::path(p.model).filename().string() +
                              ", which is not there",
                          "model");
    }
    auto catalog = store::Catalog::open(home_);
    if (!catalog) return catalog.error();
    auto entry = (*catalog)->find(p.model);
    if (!entry) {
        return make_error(ErrorCode::model_not_found,
                          "model '" + p.name + "' (a preset) names '" + p.model + "', which is not here: " +
                              entry.error().message,
                          "model");
    }
    spec.llama.model_path = (*catalog)->absolute(entry->files.front());
    if (in_process) spec.n_ctx_train = static_cast<int32_t>(entry->info.context_length);
    return spec;
}

std::vector<Preset> CatalogResolver::presets() {
    const fs::path file = home_ / "presets.toml";
    struct stat    st{};
    const int64_t  stamp = ::stat(file.c_str(), &st) == 0
                               ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec + st.st_size
                               : 0;
    std::lock_guard lock(created_mutex_);
    if (stamp != created_stamp_) {
        created_stamp_ = stamp;
        created_.clear();
        auto tables = read_preset_file(file.string());
        auto parsed = tables ? parse_presets(*tables, defaults_, "presets.toml") : Result<std::vector<Preset>>(tables.error());
        if (parsed) {
            created_ = std::move(*parsed);
        } else {
            log::warn("{} (its presets are left out)", parsed.error().message);
        }
    }
    std::vector<Preset> all = presets_;
    for (const auto & c : created_) {
        const bool shadowed = std::any_of(presets_.begin(), presets_.end(), [&](const Preset & p) { return same_name(p.name, c.name); });
        if (!shadowed) all.push_back(c);
    }
    return all;
}

Result<ModelSpec> CatalogResolver::resolve(const std::string & name) {
    // The command line's model wins over a preset of the same name.
    for (const auto & f : fixed_) {
        if (same_name(f.id, name)) return f;
        for (const auto & a : f.aliases) {
            if (same_name(a, name)) return f;
        }
    }
    for (const auto & p : presets()) {
        const bool alias = std::any_of(p.spec.aliases.begin(), p.spec.aliases.end(),
                                       [&](const std::string & a) { return same_name(a, name); });
        if (same_name(p.name, name) || alias) return from_preset(p);
    }
    auto catalog = store::Catalog::open(home_);
    if (!catalog) return catalog.error();
    KILN_TRY(store::ModelEntry entry, (*catalog)->find(name));
    const fs::path path = (*catalog)->absolute(entry.files.front());
    for (const auto & f : fixed_) {  // the command line's model, by its catalog name
        std::error_code ec;
        if (fs::equivalent(f.llama.model_path, path, ec)) return f;
    }
    ModelSpec spec;
    spec.id               = entry.name;
    spec.aliases          = entry.aliases;
    spec.llama            = defaults_;
    spec.llama.model_path = path;
    spec.llama.alias      = entry.name;
    spec.n_ctx_train      = static_cast<int32_t>(entry.info.context_length);
    return spec;
}

Result<std::vector<CatalogResolver::Listing>> CatalogResolver::list() {
    std::vector<Listing> out;
    auto add_file = [&](const std::string & id, const fs::path & path) {
        Listing l;
        l.id = id;
        struct stat st{};
        if (::stat(path.c_str(), &st) == 0) {
            l.created = st.st_mtime;
            l.size    = static_cast<uint64_t>(st.st_size);
        }
        return l;
    };
    for (const auto & f : fixed_) {
        Listing l     = add_file(f.id, f.llama.model_path);
        l.n_ctx_train = f.n_ctx_train;
        out.push_back(l);
    }
    auto catalog = store::Catalog::open(home_);
    if (!catalog) return catalog.error();
    KILN_TRY(auto entries, (*catalog)->list());
    for (const auto & p : presets()) {
        const bool shadowed = std::any_of(fixed_.begin(), fixed_.end(), [&](const ModelSpec & f) { return same_name(f.id, p.name); });
        if (shadowed) continue;  // the command line's model of that name wins
        Listing l;
        l.id = p.name;
        for (const auto & e : entries) {
            if (same_name(e.name, p.model)) l = add_file(p.name, (*catalog)->absolute(e.files.front()));
        }
        out.push_back(l);
    }
    for (const auto & e : entries) {
        const fs::path path  = (*catalog)->absolute(e.files.front());
        const bool     fixed = std::any_of(fixed_.begin(), fixed_.end(), [&](const ModelSpec & f) {
            std::error_code ec;
            return fs::equivalent(f.llama.model_path, path, ec);
        });
        if (fixed) continue;
        Listing l;
        l.id          = e.name;
        l.created     = e.modified;
        l.size        = e.size;
        l.n_ctx_train = static_cast<int32_t>(e.info.context_length);
        l.arch        = e.info.architecture;
        l.quant       = e.info.quant;
        l.n_params    = e.info.n_params;
        l.embedding   = std::find(e.info.capabilities.begin(), e.info.capabilities.end(), "embedding") != e.info.capabilities.end();
        out.push_back(l);
    }
    return out;
}

}  // namespace kiln::router
