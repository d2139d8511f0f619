// A model as a command takes it: a GGUF path, or a name from the catalog
// (full name, alias, repo:quant, unique suffix).
#pragma once

#include <filesystem>
#include <string>

#include "backend/llama_backend.h"
#include "core/result.h"

namespace kiln::cli {

struct ModelArg {
    std::filesystem::path path;  // the (first) GGUF file to load
    std::string           name;  // the catalog name; empty for a plain path
};

// An existing file wins; anything else is looked up in $KILN_HOME's catalog.
// Errors name close catalog entries when nothing matches.
Result<ModelArg> resolve_model(const std::string & arg);

// The in-process model `arg` names with its settings: a GGUF path, a preset
// (the config file's, or one kiln create made), or a catalog name.
Result<backend::LlamaOptions> resolve_llama(const std::string & arg);

}  // namespace kiln::cli
