// The settings table: every setting kiln reads, declared once with its type,
// range, default, environment variable, flag, help and where it applies.
// The CLI's flags, the environment, the config file, presets, `kiln config`,
// the checks of a value and the README's tables all come from it.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace kiln {

enum class SettingType {
    text,      // a string
    integer,   // within [lo, hi]
    number,    // within [lo, hi]
    boolean,   // true/false (1/0 from the environment or a flag)
    duration,  // "5m", "1h30m", seconds as an integer; -1 forever (parsed by the router)
    list,      // strings: a TOML array, or comma-separated text
};

// Where a setting applies (bits).
enum SettingScope : unsigned {
    scope_server  = 1u << 0,  // the whole server: a flag, KILN_* and its [section] of the config file
    scope_model   = 1u << 1,  // every model's default ([model] and [router] keys a preset may override)
    scope_preset  = 1u << 2,  // a key of a [models.NAME] preset table
    scope_request = 1u << 3,  // a request may set it (its API's field of the same meaning)
};

struct SettingDef {
    const char * section;  // "server", "model", ...: the config file's table; nullptr for a preset's own key
    const char * name;     // "ctx_size": the key in that table, and in a preset
    SettingType  type;
    double       lo = 0, hi = 0;      // the range of an integer or a number (inclusive)
    const char * default_value = "";  // as text; "" none
    const char * env        = nullptr;  // "KILN_CTX_SIZE"
    const char * flag       = nullptr;  // CLI11 names: "-c,--ctx-size"
    const char * value_name = nullptr;  // what --help shows as the value: "INT", "MIB", ...
    const char * help       = "";
    unsigned     scope      = scope_server;

    // "model.ctx_size" (the name alone for a preset's own key).
    std::string key() const;
    bool        in(SettingScope s) const { return (scope & s) != 0; }
};

const std::vector<SettingDef> & setting_defs();
// By dotted key ("model.ctx_size"); nullptr when unknown.
const SettingDef * find_setting(std::string_view key);
// By a preset table's key ("ctx_size", "temperature", "command").
const SettingDef * find_preset_setting(std::string_view name);

enum class SettingSource { default_value, file, env, flag };
const char * setting_source_name(SettingSource source);

// One value as it was given: the config file keeps TOML's type; the
// environment and flags give text. `origin` says where it came from, for
// errors: "KILN_PORT", "--port", "config.toml line 3", "default".
struct SettingValue {
    std::variant<std::string, int64_t, double, bool> value;
    SettingSource source = SettingSource::default_value;
    std::string   origin = "default";
    int           line   = 0;  // in the file, when it came from one

    SettingValue() = default;
    SettingValue(std::string text) : value(std::move(text)) {}  // NOLINT: text is the common case
    SettingValue(const char * text) : value(std::string(text)) {}  // NOLINT

    // The value as text ("9000", "true", "0.7").
    std::string text() const;
    bool        operator==(std::string_view other) const { return text() == other; }
};
std::ostream & operator<<(std::ostream & out, const SettingValue & v);

// Reads `v` as `def` says, checking its type and range. The error tells
// what is wrong ("must be an integer from 1 to 128, got 0"); callers put the
// setting's name and origin before it.
Result<int64_t>     setting_integer(const SettingDef & def, const SettingValue & v);
Result<double>      setting_number(const SettingDef & def, const SettingValue & v);
Result<bool>        setting_boolean(const SettingDef & def, const SettingValue & v);
Result<std::string> setting_text(const SettingDef & def, const SettingValue & v);

// The settings of `scope` as Markdown tables for the README (one row each).
std::string settings_markdown(SettingScope scope);

}  // namespace kiln
