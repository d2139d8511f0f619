// kiln create and Ollama's /api/create: a Modelfile becomes a preset in
// $KILN_HOME/presets.toml, which the resolver reads again when it changes.
#pragma once

#include <filesystem>
#include <string>

#include "core/config.h"
#include "router/resolver.h"
#include "store/modelfile.h"

namespace kiln::router {

// Checks and saves the preset `name` made from `mf`. FROM a created preset
// takes its settings too; FROM anything else the resolver finds (a catalog
// name, an absolute GGUF path, a config preset) becomes its model. Errors:
// invalid_request (the Modelfile, the name, a setting), model_not_found
// (FROM), internal (the file could not be written).
Result<PresetTable> create_preset(const std::filesystem::path & home, Resolver & resolver, const std::string & name,
                                  const store::Modelfile & mf, const backend::LlamaOptions & defaults);

}  // namespace kiln::router
