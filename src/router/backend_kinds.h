// The kinds of backend a model can have, one entry each: the name a preset's
// `backend` gives, how the rest of kiln treats such a model, and how the
// router estimates and loads it. Adding a backend is an entry here (and its
// Backend class); nothing else compares backend names.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "router/model_spec.h"
#include "router/router.h"

namespace kiln::router {

struct BackendKind {
    const char * name;
    // llama.cpp inside kiln: a `model` file is required, the router sizes its
    // context, and `kiln run` and Modelfiles build on it. Otherwise another
    // server (a child process or a remote URL) that kiln forwards to.
    bool in_process = false;
    // A child process kiln starts (`command`), rather than a running server (`url`).
    bool runs_command = false;
    Result<Footprint> (*estimate)(const ModelSpec & spec, int32_t n_ctx) = nullptr;
    Result<std::unique_ptr<backend::Backend>> (*load)(const ModelSpec & spec, int32_t n_ctx,
                                                      const std::atomic<bool> * cancel) = nullptr;
};

const std::vector<BackendKind> & backend_kinds();
// The kind of that name, or null.
const BackendKind * find_backend_kind(std::string_view name);
// The kind of a resolved spec (its name was checked when it was read; an
// unknown one reads as the in-process kind, the default).
const BackendKind & kind_of(const ModelSpec & spec);
// "\"llama\", \"process\" or \"remote\"", for messages.
std::string backend_kind_names();

}  // namespace kiln::router
