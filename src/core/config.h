// Layered settings: flag > env (KILN_*) > config file (TOML) > default.
// Every setting has one dotted key ("server.port"), which is also its path in
// the TOML file ([server] port = 8080), and one environment variable; all of
// them are declared in core/settings.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/settings.h"

namespace kiln {

// One `[models.NAME]` table of the config file, as written: scalars with
// their TOML types and lines, arrays of strings as lists. The router reads
// them through the settings table (find_preset_setting).
struct PresetTable {
    std::string                                     name;
    std::map<std::string, SettingValue>             values;
    std::map<std::string, std::vector<std::string>> lists;

    PresetTable() = default;
    PresetTable(std::string n, const std::map<std::string, std::string> & text,
                std::map<std::string, std::vector<std::string>> l = {});
};

// A file of `[models.NAME]` tables alone (the presets `kiln create` and
// Ollama's /api/create make, in $KILN_HOME/presets.toml). A missing file has
// none. Errors name the file.
Result<std::vector<PresetTable>> read_preset_file(const std::string & path);
// Writes `tables` as such a file: to a temp file first, synced, then renamed
// over it, so a reader sees the old file or the new one, never half of one.
Status write_preset_file(const std::string & path, const std::vector<PresetTable> & tables);

// The server's settings (those of setting_defs() with a section), each
// from the first layer that gives it.
class Settings {
  public:
    // Reads the config file (missing is fine, unreadable or invalid is an
    // error naming the file) and the environment. Unknown keys in the file,
    // and values of the wrong TOML type, are errors naming the line.
    static Result<Settings> load(const std::string & config_path);

    // A flag given on the command line; wins over everything else.
    void set_flag(const std::string & key, const std::string & value);

    // The value as text ("11434", "true").
    std::string          get(const std::string & key) const;
    const SettingValue & value(const std::string & key) const;
    SettingSource source(const std::string & key) const;
    // Where the value came from: "--port", "KILN_PORT", "config.toml line 3", "default".
    const std::string & origin(const std::string & key) const;
    // Typed values, checked against the table's type and range; an Error
    // names the key and where the bad value came from.
    Result<int64_t>          get_int(const std::string & key) const;
    Result<bool>             get_bool(const std::string & key) const;
    Result<std::string>      get_text(const std::string & key) const;
    std::vector<std::string> get_list(const std::string & key) const;
    // An error about `key`'s value: "setting KEY (from ORIGIN) WHAT".
    Error bad(const std::string & key, const std::string & what) const;
    // The file's `[models.NAME]` tables (model presets), by name.
    const std::vector<PresetTable> & presets() const { return presets_; }
    // The config file's name, for messages.
    std::string file_name() const;

  private:
    std::map<std::string, SettingValue> values_;
    std::vector<PresetTable>     presets_;
    std::string                  path_;
};

}  // namespace kiln
