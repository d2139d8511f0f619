#include "core/config.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <variant>

#include <toml++/toml.h>

#include "core/utf8.h"

namespace kiln {

namespace {

// A TOML scalar with its type, and the line it is on.
std::optional<SettingValue> toml_value(const toml::node & node, const std::string & shown) {
    SettingValue v;
    if (auto s = node.value_exact<std::string>()) {
        v.value = *s;
    } else if (auto i = node.value_exact<int64_t>()) {
        v.value = *i;
    } else if (auto b = node.value_exact<bool>()) {
        v.value = *b;
    } else if (auto d = node.value_exact<double>()) {
        v.value = *d;
    } else {
        return std::nullopt;
    }
    v.source = SettingSource::file;
    v.line   = static_cast<int>(node.source().begin.line);
    v.origin = shown + " line " + std::to_string(v.line);
    return v;
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
            auto v = toml_value(value, shown);
            if (!v) {
                return make_error(ErrorCode::invalid_request,
                                  where + ": '" + k + "' must be a string, number, boolean or a list of strings");
            }
            p.values[k] = std::move(*v);
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
        for (const auto & kv : t.values) {  // no structured binding: clang 14 cannot capture one
            const std::string & key = kv.first;
            std::visit([&](const auto & x) { one.insert_or_assign(key, x); }, kv.second.value);
        }
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

PresetTable::PresetTable(std::string n, const std::map<std::string, std::string> & text,
                         std::map<std::string, std::vector<std::string>> l)
    : name(std::move(n)), lists(std::move(l)) {
    for (const auto & [k, v] : text) values[k] = v;
}

Result<Settings> Settings::load(const std::string & config_path) {
    Settings out;
    out.path_ = config_path;
    for (const auto & d : setting_defs()) {
        if (d.section) out.values_[d.key()] = SettingValue(d.default_value);
    }

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
                const std::string  key  = std::string(section.str()) + "." + std::string(name.str());
                const SettingDef * def  = find_setting(key);
                const std::string  line = shown + " line " + std::to_string(value.source().begin.line);
                if (!def) return make_error(ErrorCode::invalid_request, "config file " + line + ": unknown setting '" + key + "'");
                std::optional<SettingValue> v;
                if (const auto * arr = value.as_array(); arr && def->type == SettingType::list) {
                    // A list setting may be an array of strings: the same as comma-separated text.
                    std::string joined;
                    for (const auto & item : *arr) {
                        auto s = item.value_exact<std::string>();
                        if (!s) return make_error(ErrorCode::invalid_request, "config file " + line + ": '" + key + "' must list strings");
                        joined += (joined.empty() ? "" : ",") + *s;
                    }
                    v = SettingValue(joined);
                    v->source = SettingSource::file;
                    v->origin = line;
                    v->line   = static_cast<int>(value.source().begin.line);
                } else {
                    v = toml_value(value, shown);
                }
                if (!v) {
                    return make_error(ErrorCode::invalid_request,
                                      "config file " + line + ": '" + key + "' must be a string, number or boolean");
                }
                out.values_[key] = std::move(*v);
            }
        }
    }
    for (const auto & d : setting_defs()) {
        if (!d.env) continue;
        if (const char * e = std::getenv(d.env); e && *e) {
            SettingValue v(e);
            v.source = SettingSource::env;
            v.origin = d.env;
            out.values_[d.key()] = std::move(v);
        }
    }
    return out;
}

void Settings::set_flag(const std::string & key, const std::string & value) {
    SettingValue v(value);
    v.source = SettingSource::flag;
    v.origin = "flag";
    if (const SettingDef * d = find_setting(key); d && d->flag) {
        const std::string names = d->flag;  // "-c,--ctx-size" or "--slots,--parallel": the first long name
        const size_t      at    = names.find("--");
        v.origin = names.substr(at, names.find(',', at) - at);
    }
    values_[key] = std::move(v);
}

const SettingValue & Settings::value(const std::string & key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::logic_error("unknown setting " + key);
    return it->second;
}

std::string Settings::get(const std::string & key) const { return value(key).text(); }

SettingSource Settings::source(const std::string & key) const { return value(key).source; }

const std::string & Settings::origin(const std::string & key) const { return value(key).origin; }

Error Settings::bad(const std::string & key, const std::string & what) const {
    // "must be ..." reads on from the name; any other message is set apart.
    const bool reads_on = what.rfind("must ", 0) == 0 || what.rfind("takes ", 0) == 0;
    return make_error(ErrorCode::invalid_request, "setting " + key + " (from " + origin(key) + ")" + (reads_on ? " " : ": ") + what);
}

namespace {

// Reads `key` with `read` (one of setting_integer, ...), naming it and its origin on error.
template <class T>
Result<T> typed(const Settings & s, const std::string & key, const SettingValue & v,
                Result<T> (*read)(const SettingDef &, const SettingValue &)) {
    const SettingDef * d = find_setting(key);
    if (!d) throw std::logic_error("unknown setting " + key);
    auto r = read(*d, v);
    if (!r) return s.bad(key, r.error().message);
    return r;
}

}  // namespace

Result<int64_t> Settings::get_int(const std::string & key) const { return typed(*this, key, value(key), setting_integer); }

Result<bool> Settings::get_bool(const std::string & key) const { return typed(*this, key, value(key), setting_boolean); }

Result<std::string> Settings::get_text(const std::string & key) const { return typed(*this, key, value(key), setting_text); }

std::vector<std::string> Settings::get_list(const std::string & key) const { return utf8::split_list(get(key)); }

}  // namespace kiln
