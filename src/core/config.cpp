#include "core/config.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <toml++/toml.h>

namespace kiln {

const char * setting_source_name(SettingSource source) {
    switch (source) {
        case SettingSource::default_value: return "default";
        case SettingSource::file:          return "file";
        case SettingSource::env:           return "env";
        case SettingSource::flag:          return "flag";
    }
    return "default";
}

const std::vector<SettingSpec> & Settings::specs() {
    static const std::vector<SettingSpec> s = {
        {"server.host", "KILN_HOST", "127.0.0.1", "address to listen on"},
        {"server.port", "KILN_PORT", "11434", "port to listen on (0 picks a free one)"},
        {"server.model", "KILN_MODEL", "", "GGUF file to serve (default: the demo model)"},
        {"server.alias", "KILN_ALIAS", "", "model id clients use (default: file name without .gguf)"},
        {"server.listen", "KILN_LISTEN", "",
         "more addresses to serve on, comma-separated host:port or port (e.g. 1234 for LM Studio clients)"},
        {"server.api_key", "KILN_API_KEY", "", "API keys clients must send (comma-separated; empty: none)"},
        {"server.api_keys_file", "KILN_API_KEYS_FILE", "", "a file of API keys, one a line ('#' comments)"},
        {"server.allowed_hosts", "KILN_ALLOWED_HOSTS", "", "Host names answered besides loopback ones (comma-separated)"},
        {"server.cors_origins", "KILN_CORS_ORIGINS", "",
         "browser origins allowed besides loopback ones (comma-separated; * for any)"},
        {"server.insecure", "KILN_INSECURE", "false", "listen on a non-loopback address without an API key"},
        {"server.rate_limit", "KILN_RATE_LIMIT", "0", "requests per minute per API key (or client address); 0: no limit"},
        {"server.token_limit", "KILN_TOKEN_LIMIT", "0", "tokens (prompt and generated) per minute per API key (or client address); 0: no limit"},
        {"server.max_connections", "KILN_MAX_CONNECTIONS", "1024", "open HTTP connections per listening address; more are answered 503"},
        {"server.max_client_connections", "KILN_MAX_CLIENT_CONNECTIONS", "256",
         "open HTTP connections of one client address; more are answered 503"},
        {"server.header_timeout", "KILN_HEADER_TIMEOUT", "10", "seconds a client has to send a request's headers"},
        {"server.body_timeout", "KILN_BODY_TIMEOUT", "60", "seconds a client has to send a request's body"},
        {"server.idle_timeout", "KILN_IDLE_TIMEOUT", "5", "seconds a connection may wait for its next request"},
        {"server.send_timeout", "KILN_SEND_TIMEOUT", "10",
         "seconds a client may read nothing of its answer before it is dropped (and its generation cancelled)"},
        {"model.ctx_size", "KILN_CTX_SIZE", "0", "KV pool in tokens per model, shared by its requests (0: the trained context if the memory budget allows, else the most that fits)"},
        {"model.slot_ctx", "KILN_SLOT_CTX", "0", "context of one request (0: the whole pool)"},
        {"model.slots", "KILN_SLOTS", "4", "requests decoded together"},
        {"model.max_queue", "KILN_MAX_QUEUE", "64", "requests that may wait; more get 503"},
        {"model.threads", "KILN_THREADS", "0", "CPU threads for inference (0: one per core)"},
        {"model.batch_size", "KILN_BATCH_SIZE", "512", "prompt tokens per decode step"},
        {"model.cache_ram", "KILN_CACHE_RAM", "-1",
         "MiB of host memory for cached prompts moved out of the KV pool (-1: a quarter of the memory budget over max_models, at most 8192; 0: off)"},
        {"model.flash_attn", "KILN_FLASH_ATTN", "auto", "flash attention: auto, on or off (auto: off on a CPU for contexts up to a 1 GiB score buffer, where it decodes faster; else on)"},
        {"model.kv_type", "KILN_KV_TYPE", "f16", "KV cache type: f16, q8_0, q4_0, ... (quantized needs flash attention)"},
        {"router.memory_budget", "KILN_MEMORY_BUDGET", "0",
         "MiB all loaded models may take together (0: 80% of the memory available at start)"},
        {"router.max_models", "KILN_MAX_MODELS", "3", "models loaded at once"},
        {"router.keep_alive", "KILN_KEEP_ALIVE", "5m",
         "how long an idle model stays loaded (\"5m\", \"1h\", seconds; 0: unload when idle; -1: forever)"},
        {"log.level", "KILN_LOG_LEVEL", "info", "debug, info, warn or error"},
    };
    return s;
}

namespace {

const SettingSpec * find_spec(const std::string & key) {
    for (const auto & s : Settings::specs()) {
        if (key == s.key) return &s;
    }
    return nullptr;
}

std::string toml_scalar(const toml::node & node) {
    if (auto s = node.value<std::string>()) return *s;
    if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
    if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
    if (auto d = node.value_exact<double>()) return std::to_string(*d);
    throw std::invalid_argument("not a scalar");
}

Status read_presets(const toml::table & models, const std::string & shown, std::vector<PresetTable> & out) {
    for (const auto & [name, node] : models) {
        const std::string where = "config file " + shown + ": [models." + std::string(name.str()) + "]";
        const auto *      t     = node.as_table();
        if (!t) return make_error(ErrorCode::invalid_request, where + " must be a table of settings");
        PresetTable p;
        p.name = std::string(name.str());
        for (const auto & [key, value] : *t) {
            const std::string k(key.str());
            if (const auto * arr = value.as_array()) {
                auto & list = p.lists[k];
                for (const auto & item : *arr) {
                    auto s = item.value<std::string>();
                    if (!s) return make_error(ErrorCode::invalid_request, where + ": '" + k + "' must list strings");
                    list.push_back(*s);
                }
                continue;
            }
            try {
                p.values[k] = toml_scalar(value);
            } catch (const std::invalid_argument &) {
                return make_error(ErrorCode::invalid_request,
                                  where + ": '" + k + "' must be a string, number, boolean or a list of strings");
            }
        }
        out.push_back(std::move(p));
    }
    return {};
}

}  // namespace

Result<std::vector<PresetTable>> read_preset_file(const std::string & path) {
    std::vector<PresetTable> out;
    std::error_code          ec;
    if (!std::filesystem::exists(path, ec)) return out;
    const std::string shown = std::filesystem::path(path).filename().string();
    toml::table       table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error & e) {
        return make_error(ErrorCode::invalid_request, "presets file " + shown + ": " + std::string(e.description()) +
                                                          " at line " + std::to_string(e.source().begin.line));
    }
    for (const auto & [section, node] : table) {
        if (section.str() != "models" || !node.is_table()) {
            return make_error(ErrorCode::invalid_request, "presets file " + shown + " holds only [models.NAME] tables");
        }
        KILN_CHECK(read_presets(*node.as_table(), shown, out));
    }
    return out;
}

Status write_preset_file(const std::string & path, const std::vector<PresetTable> & tables) {
    toml::table models;
    for (const auto & t : tables) {
        toml::table one;
        for (const auto & [k, v] : t.values) one.insert_or_assign(k, v);
        for (const auto & [k, list] : t.lists) {
            toml::array arr;
            for (const auto & item : list) arr.push_back(item);
            one.insert_or_assign(k, std::move(arr));
        }
        models.insert_or_assign(t.name, std::move(one));
    }
    toml::table root;
    root.insert_or_assign("models", std::move(models));
    std::ostringstream text;
    text << "# Presets made by `kiln create` and Ollama's /api/create; kiln rewrites this file.\n" << root << "\n";

    const std::string tmp = path + ".tmp";
    std::error_code   ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    // Errors name the file, never the machine's path to it (they reach HTTP clients).
    const std::string shown = std::filesystem::path(path).filename().string();
    if (fd < 0) return make_error(ErrorCode::internal, "cannot write " + shown + ": " + std::strerror(errno));
    const std::string data = text.str();
    bool              ok   = true;
    for (size_t done = 0; ok && done < data.size();) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int why = ok ? errno : err;
        ::unlink(tmp.c_str());
        return make_error(ErrorCode::internal, "cannot write " + shown + ": " + std::strerror(why));
    }
    return {};
}

std::string Settings::file_name() const { return std::filesystem::path(path_).filename().string(); }

Result<Settings> Settings::load(const std::string & config_path) {
    Settings out;
    out.path_ = config_path;
    for (const auto & s : specs()) out.values_[s.key] = {s.default_value, SettingSource::default_value};

    const std::string shown = std::filesystem::path(config_path).filename().string();
    std::error_code   ec;
    if (!config_path.empty() && std::filesystem::exists(config_path, ec)) {
        toml::table table;
        try {
            table = toml::parse_file(config_path);
        } catch (const toml::parse_error & e) {
            return make_error(ErrorCode::invalid_request,
                              "config file " + shown + ": " + std::string(e.description()) + " at line " +
                                  std::to_string(e.source().begin.line));
        }
        for (const auto & [section, node] : table) {
            if (section.str() == "models" && node.is_table()) {
                KILN_CHECK(read_presets(*node.as_table(), shown, out.presets_));
                continue;
            }
            const auto * sub = node.as_table();
            if (!sub) {
                return make_error(ErrorCode::invalid_request,
                                  "config file " + shown + ": '" + std::string(section.str()) + "' must be a table");
            }
            for (const auto & [name, value] : *sub) {
                const std::string key = std::string(section.str()) + "." + std::string(name.str());
                if (!find_spec(key)) {
                    return make_error(ErrorCode::invalid_request, "config file " + shown + ": unknown setting '" + key + "'");
                }
                try {
                    out.values_[key] = {toml_scalar(value), SettingSource::file};
                } catch (const std::invalid_argument &) {
                    return make_error(ErrorCode::invalid_request,
                                      "config file " + shown + ": '" + key + "' must be a string, number or boolean");
                }
            }
        }
    }
    for (const auto & s : specs()) {
        if (const char * v = std::getenv(s.env); v && *v) out.values_[s.key] = {v, SettingSource::env};
    }
    return out;
}

void Settings::set_flag(const std::string & key, const std::string & value) {
    values_[key] = {value, SettingSource::flag};
}

const std::string & Settings::get(const std::string & key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::logic_error("unknown setting " + key);
    return it->second.text;
}

SettingSource Settings::source(const std::string & key) const {
    auto it = values_.find(key);
    return it == values_.end() ? SettingSource::default_value : it->second.source;
}

Result<int64_t> Settings::get_int(const std::string & key) const {
    const std::string & text = get(key);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) {
        const SettingSpec * spec = find_spec(key);
        std::string where = setting_source_name(source(key));
        if (source(key) == SettingSource::env && spec) where = spec->env;
        return make_error(ErrorCode::invalid_request,
                          "setting " + key + " (from " + where + ") must be an integer, got '" + text + "'");
    }
    return v;
}

}  // namespace kiln
