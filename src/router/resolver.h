// Names to model specs: the model given on the command line, the config
// file's presets, then the catalog (names, aliases, short forms).
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "router/model_spec.h"
#include "router/router.h"

namespace kiln::router {

// A `[models.NAME]` table: a name for a model with its own settings.
struct Preset {
    std::string name;
    std::string model;  // a catalog name or a GGUF path
    ModelSpec   spec;   // the settings, over the [model] defaults; the path is found at resolve time
};

// Whether two names a client may use reach the same model: any case, and
// Ollama's ":latest" tag the same as no tag ("name" and "Name:latest").
bool same_model_name(std::string_view a, std::string_view b);

// Validates the config's preset tables over `defaults`; errors name the
// file, the table and the key.
Result<std::vector<Preset>> parse_presets(const std::vector<PresetTable> & tables, const backend::LlamaOptions & defaults,
                                          const std::string & file_name);

// Reads the settings every model has (ctx_size, slots, kv_type, ... : the
// table's scope_model ones but keep_alive) into `o`. `value` gives what a
// layer set for a setting, or nullptr; a bad value is an Error from `fail`.
// The server's [model] settings and a preset read the same way.
Status read_model_settings(const std::function<const SettingValue *(const SettingDef &)> & value,
                           const std::function<Error(const SettingDef &, const SettingValue &, const std::string &)> & fail,
                           backend::LlamaOptions & o);

class CatalogResolver final : public Resolver {
  public:
    // `fixed`: models named on the command line (a GGUF path with its id).
    CatalogResolver(std::filesystem::path home, backend::LlamaOptions defaults, std::vector<Preset> presets,
                    std::vector<ModelSpec> fixed);
    Result<ModelSpec> resolve(const std::string & name) override;

    // Every name a client may use for a model it can load: presets, fixed
    // models and the catalog's entries (for /v1/models).
    struct Listing {
        std::string id;
        int64_t     created = 0;
        uint64_t    size    = 0;
        int32_t     n_ctx_train = 0;
        std::string arch;
        std::string quant;
        uint64_t    n_params  = 0;
        bool        embedding = false;
    };
    Result<std::vector<Listing>> list();

  private:
    Result<ModelSpec> from_preset(const Preset & p);
    // The config file's presets, then the created ones ($KILN_HOME/
    // presets.toml, read again whenever it changed) the config does not shadow.
    std::vector<Preset> presets();

    std::filesystem::path  home_;
    backend::LlamaOptions  defaults_;
    std::vector<Preset>    presets_;
    std::vector<ModelSpec> fixed_;
    std::mutex             created_mutex_;
    std::vector<Preset>    created_;
    int64_t                created_stamp_ = -1;  // mtime (ns) and size of the file last read
};

// A fixed spec for a GGUF path: its id is `alias`, else the file name.
Result<ModelSpec> spec_for_path(const std::filesystem::path & path, const std::string & alias,
                                const backend::LlamaOptions & defaults);

}  // namespace kiln::router
