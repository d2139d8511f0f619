// Layered settings: flag > env (KILN_*) > config file (TOML) > default.
// Every setting has one dotted key ("server.port"), which is also its path in
// the TOML file ([server] port = 8080), and one environment variable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace kiln {

enum class SettingSource { default_value, file, env, flag };
const char * setting_source_name(SettingSource source);

struct SettingSpec {
    const char * key;
    const char * env;
    const char * default_value;
    const char * help;
};

// One `[models.NAME]` table of the config file, as written: scalars as
// text, arrays of strings as lists. The router gives the keys meaning.
struct PresetTable {
    std::string                                     name;
    std::map<std::string, std::string>              values;
    std::map<std::string, std::vector<std::string>> lists;
};

// A file of `[models.NAME]` tables alone (the presets `kiln create` and
// Ollama's /api/create make, in $KILN_HOME/presets.toml). A missing file has
// none. Errors name the file.
Result<std::vector<PresetTable>> read_preset_file(const std::string & path);
// Writes `tables` as such a file: to a temp file first, synced, then renamed
// over it, so a reader sees the old file or the new one, never half of one.
Status write_preset_file(const std::string & path, const std::vector<PresetTable> & tables);

class Settings {
  public:
    // The settings kiln knows; unknown keys in the file are an error.
    static const std::vector<SettingSpec> & specs();

    // Reads the config file (missing is fine, unreadable or invalid is an
    // error naming the file) and the environment.
    static Result<Settings> load(const std::string & config_path);

    // A flag given on the command line; wins over everything else.
    void set_flag(const std::string & key, const std::string & value);

    const std::string & get(const std::string & key) const;
    SettingSource       source(const std::string & key) const;
    // Integer value; an Error names the key and where the bad value came from.
    Result<int64_t> get_int(const std::string & key) const;
    // The file's `[models.NAME]` tables (model presets), by name.
    const std::vector<PresetTable> & presets() const { return presets_; }
    // The config file's name, for messages.
    std::string file_name() const;

  private:
    struct Value {
        std::string   text;
        SettingSource source = SettingSource::default_value;
    };
    std::map<std::string, Value> values_;
    std::vector<PresetTable>     presets_;
    std::string                  path_;
};

}  // namespace kiln
