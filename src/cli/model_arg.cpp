#include "cli/model_arg.h"

#include "core/paths.h"
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

}  // namespace kiln::cli
