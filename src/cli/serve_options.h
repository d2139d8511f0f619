// What `kiln serve` runs with, read from the settings (flag > env > file >
// default): every model's defaults, the router's limits, the HTTP server's
// addresses, access rules and connection limits, the presets and the model
// named on the command line. All checking happens here, before anything loads.
#pragma once

#include <vector>

#include "backend/llama_backend.h"
#include "core/config.h"
#include "core/log.h"
#include "router/resolver.h"
#include "server/http_server.h"

namespace kiln::cli {

struct ServeOptions {
    log::Level                     log_level = log::Level::info;
    backend::LlamaOptions          llama;    // every model's defaults ([model])
    router::RouterOptions          router;   // default_model set when one is named (or the demo model is there)
    server::ServerOptions          server;   // all but `store`
    std::vector<router::Preset>    presets;  // the config file's
    std::vector<router::ModelSpec> fixed;    // the command line's model, when it is a file or takes an alias
};

// An Error names the setting and where its value came from.
Result<ServeOptions> serve_options(const Settings & settings);

}  // namespace kiln::cli
