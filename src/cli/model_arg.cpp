#include "cli/model_arg.h"

#include "core/config.h"
#include "core/paths.h"
#include "router/backend_kinds.h"
#include "router/resolver.h"
#include "store/catalog.h"

namespace kiln::cli {

Result<ModelArg> resolve_model(const std::string & arg) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(arg, ec)) return ModelArg{arg, {}};
    const bool looks_like_path = arg.find(".gguf") != std::string::npos || arg.rfind('/', 0) == 0 ||
                                 arg.rfind("./", 0) == 0 || arg.rfind("~/", 0) == 0;
    auto catalog = store::Catalog::open(paths::home());
    if (!catalog) return catalog.error();
    auto entry = (*catalog)->find(arg);
    if (!entry) {
        if (looks_like_path) {
            return make_error(ErrorCode::not_found, "model file not found: " + std::filesystem::path(arg).filename().string());
        }
        return entry.error();
    }
    return ModelArg{(*catalog)->absolute(entry->files.front()), entry->name};
}

Result<backend::LlamaOptions> resolve_llama(const std::string & arg) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(arg, ec)) {
        backend::LlamaOptions o;
        o.model_path = arg;
        return o;
    }
    auto settings = Settings::load(paths::config_file().string());
    if (!settings) return settings.error();
    auto presets = router::parse_presets(settings->presets(), {}, settings->file_name());
    if (!presets) return presets.error();
    router::CatalogResolver resolver(paths::home(), {}, std::move(*presets), {});
    auto spec = resolver.resolve(arg);
    if (!spec) {
        // A path that is not there says so, rather than offering catalog names.
        const bool looks_like_path = arg.find(".gguf") != std::string::npos || arg.rfind('/', 0) == 0 || arg.rfind("./", 0) == 0;
        if (looks_like_path) return make_error(ErrorCode::not_found, "model file not found: " + std::filesystem::path(arg).filename().string());
        return spec.error();
    }
    if (!router::kind_of(*spec).in_process) {
        return make_error(ErrorCode::invalid_request, "'" + arg + "' is a " + spec->backend + " backend, served by kiln serve");
    }
    return spec->llama;
}

}  // namespace kiln::cli
