#include "router/create_preset.h"

#include <cctype>

#include "core/utf8.h"
#include "router/backend_kinds.h"
#include "router/model_spec.h"
#include "store/catalog.h"

namespace kiln::router {
namespace fs = std::filesystem;

namespace {

Status check_name(const std::string & name) {
    bool ok = !name.empty() && name.size() <= 128 && name.front() != '/' && name.find("..") == std::string::npos;
    for (unsigned char c : name) ok = ok && (std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '/');
    if (!ok) {
        return make_error(ErrorCode::invalid_request,
                          "a model name is 1 to 128 letters, digits, '.', '_', '-', ':' or '/' (got '" + name.substr(0, 80) + "')",
                          "model");
    }
    return {};
}

}  // namespace

Result<PresetTable> create_preset(const fs::path & home, Resolver & resolver, const std::string & name,
                                  const store::Modelfile & mf, const backend::LlamaOptions & defaults) {
    KILN_CHECK(check_name(name));
    const std::string lower = utf8::ascii_lower(name);
    if (lower == utf8::ascii_lower(mf.from)) {
        return make_error(ErrorCode::invalid_request, "'" + name + "' cannot be made FROM itself", "from");
    }
    auto catalog = store::Catalog::open(home);
    if (!catalog) return catalog.error();
    if (auto same = (*catalog)->find(name); same && utf8::ascii_lower(same->name) == lower) {
        return make_error(ErrorCode::invalid_request,
                          "'" + name + "' is a pulled model's name; give the new model another (e.g. " + name + "-custom)",
                          "model");
    }

    // FROM: a created preset lends its settings; else the resolver must know it.
    KILN_TRY(auto created, store::created_presets(home));
    const PresetTable * base = nullptr;
    for (const auto & t : created) {
        if (utf8::ascii_lower(t.name) == utf8::ascii_lower(mf.from)) base = &t;
    }
    std::string model = mf.from;
    if (!base) {
        std::error_code ec;
        const bool      file = fs::path(mf.from).is_absolute() && fs::is_regular_file(mf.from, ec);
        const bool      entry = (*catalog)->find(mf.from).ok();
        if (!file && !entry) {
            auto spec = resolver.resolve(mf.from);
            if (!spec) {
                Error e = spec.error();
                e.param = "from";
                return e;
            }
            if (!kind_of(*spec).in_process) {
                return make_error(ErrorCode::invalid_request,
                                  "FROM '" + mf.from + "' is a " + spec->backend + " backend; a Modelfile builds on a GGUF model",
                                  "from");
            }
            model = spec->llama.model_path.string();  // a config preset: its model file
        }
    }
    store::Modelfile from_model = mf;
    from_model.from             = model;
    KILN_TRY(PresetTable table, store::modelfile_preset(name, from_model, base));
    // The same checks the config file's presets get.
    KILN_TRY(auto parsed, parse_presets({table}, defaults, "presets.toml"));
    (void)parsed;
    KILN_CHECK(store::save_preset(home, table));
    return table;
}

}  // namespace kiln::router
