#include "cli/serve_options.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/model_arg.h"
#include "core/paths.h"
#include "server/access.h"

namespace kiln::cli {
namespace {

// 80% of the memory available now (MemAvailable), leaving the rest to the
// system and to kiln itself.
uint64_t default_memory_budget() {
    std::ifstream in("/proc/meminfo");
    std::string   key;
    uint64_t      kib = 0;
    std::string   unit;
    while (in >> key >> kib >> unit) {
        if (key == "MemAvailable:") return kib * 1024 / 5 * 4;
    }
    return uint64_t{4} << 30;
}

// An integer setting that the table's range keeps within int32_t.
Status read_int32(const Settings & s, const char * key, int32_t & out) {
    KILN_TRY(int64_t v, s.get_int(key));
    out = static_cast<int32_t>(v);
    return {};
}

Status read_seconds(const Settings & s, const char * key, std::chrono::milliseconds & out) {
    KILN_TRY(int64_t v, s.get_int(key));
    out = std::chrono::seconds(v);
    return {};
}

Result<backend::LlamaOptions> model_defaults(const Settings & s) {
    backend::LlamaOptions o;
    KILN_CHECK(router::read_model_settings(
        [&](const SettingDef & d) { return &s.value(d.key()); },
        [&](const SettingDef & d, const SettingValue &, const std::string & what) { return s.bad(d.key(), what); }, o));
    return o;
}

// The HTTP side: addresses, keys, Host/Origin rules, rate and connection limits.
Result<server::ServerOptions> http_options(const Settings & s) {
    server::ServerOptions o;
    KILN_TRY(o.host, s.get_text("server.host"));
    KILN_CHECK(read_int32(s, "server.port", o.port));
    server::AccessOptions & access = o.access;
    KILN_TRY(access.api_keys, server::load_api_keys(s.get("server.api_key"), s.get("server.api_keys_file")));
    access.allowed_hosts = s.get_list("server.allowed_hosts");
    access.cors_origins  = s.get_list("server.cors_origins");
    access.loopback_bind = server::loopback_host(o.host);
    KILN_CHECK(read_int32(s, "server.rate_limit", access.rate_limit));
    KILN_CHECK(read_int32(s, "server.token_limit", access.token_limit));
    server::ConnectionLimits & l = o.limits;
    KILN_CHECK(read_int32(s, "server.max_connections", l.max_total));
    KILN_CHECK(read_int32(s, "server.max_client_connections", l.max_per_client));
    KILN_CHECK(read_seconds(s, "server.header_timeout", l.header_timeout));
    KILN_CHECK(read_seconds(s, "server.body_timeout", l.body_timeout));
    KILN_CHECK(read_seconds(s, "server.idle_timeout", l.idle_timeout));
    KILN_CHECK(read_seconds(s, "server.send_timeout", l.send_timeout));
    for (const auto & item : s.get_list("server.listen")) {
        const size_t colon = item.rfind(':');
        std::string  host  = colon == std::string::npos ? o.host : item.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        const std::string port_text = colon == std::string::npos ? item : item.substr(colon + 1);
        auto              port      = setting_integer(*find_setting("server.port"), SettingValue(port_text));  // its range
        if (!port || host.empty()) return s.bad("server.listen", "takes host:port or port entries, got '" + item + "'");
        const int p = static_cast<int>(*port);
        o.also.emplace_back(host, p);
        if (!server::loopback_host(host)) access.loopback_bind = false;  // for the key check below
    }
    KILN_TRY(bool insecure, s.get_bool("server.insecure"));
    if (!access.loopback_bind && access.api_keys.empty() && !insecure) {
        std::string where = o.host;
        for (const auto & [host, p] : o.also) {
            if (!server::loopback_host(host)) where = host;
        }
        return make_error(ErrorCode::invalid_request,
                          "refusing to listen on " + where + " without an API key: anyone who can reach this machine could "
                          "use its models and pull files onto it. Set --api-key (or KILN_API_KEY, or --api-keys-file), or "
                          "pass --insecure if that is what you want");
    }
    return o;
}

// The default model: --model (a preset, a GGUF path or a catalog name), else the demo model.
Status default_model(const Settings & s, ServeOptions & o) {
    const std::string model_arg = s.get("server.model");
    const std::string alias     = s.get("server.alias");
    const bool is_preset = std::any_of(o.presets.begin(), o.presets.end(), [&](const router::Preset & p) { return p.name == model_arg; });
    if (is_preset) {
        o.router.default_model = model_arg;
    } else if (!model_arg.empty()) {
        KILN_TRY(ModelArg model, resolve_model(model_arg));
        if (model.name.empty() || !alias.empty()) {
            KILN_TRY(router::ModelSpec spec, router::spec_for_path(model.path, !alias.empty() ? alias : model.name, o.llama));
            o.fixed.push_back(std::move(spec));
            o.router.default_model = o.fixed.back().id;
        } else {
            o.router.default_model = model.name;
        }
    } else if (std::error_code ec; std::filesystem::exists(paths::demo_model(), ec)) {
        auto spec = router::spec_for_path(paths::demo_model(), alias, o.llama);
        if (spec) {
            o.fixed.push_back(std::move(*spec));
            o.router.default_model = o.fixed.back().id;
        }
    }
    return {};
}

}  // namespace

Result<ServeOptions> serve_options(const Settings & s) {
    ServeOptions o;
    if (!log::parse_level(s.get("log.level"), o.log_level)) return s.bad("log.level", "must be debug, info, warn or error, got '" + s.get("log.level") + "'");
    KILN_TRY(o.llama, model_defaults(s));
    KILN_TRY(o.server, http_options(s));
    KILN_TRY(int64_t budget, s.get_int("router.memory_budget"));
    o.router.memory_budget = budget > 0 ? static_cast<uint64_t>(budget) << 20 : default_memory_budget();
    KILN_CHECK(read_int32(s, "router.max_models", o.router.max_models));
    KILN_TRY(std::string keep_alive, s.get_text("router.keep_alive"));
    auto ka = router::parse_keep_alive(keep_alive, "");
    if (!ka) return s.bad("router.keep_alive", ka.error().message);
    o.router.keep_alive = *ka;
    // The prompt caches of all loaded models together: at most a quarter of the budget.
    if (o.llama.cache_ram_mib < 0) {
        const uint64_t share = o.router.memory_budget / 4 / static_cast<uint64_t>(o.router.max_models);
        o.llama.cache_ram_mib = static_cast<int64_t>(std::min(share, backend::default_host_cache_bytes()) >> 20);
    }
    KILN_TRY(o.presets, router::parse_presets(s.presets(), o.llama, s.file_name()));
    KILN_CHECK(default_model(s, o));
    return o;
}

}  // namespace kiln::cli
