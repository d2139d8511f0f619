// LM Studio's REST API: GET /api/v0/models (and /{id}), GET /api/v1/models,
// and the "stats", "model_info" and "runtime" its /api/v0 chat, completion
// and embedding answers add to OpenAI's. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "backend/types.h"

namespace kiln::api::lmstudio {

// `models`: every model a client may name; a loaded one has n_ctx > 0.
std::string models_v0(const std::vector<backend::ModelInfo> & models);
std::string model_v0(const backend::ModelInfo & model);
std::string models_v1(const std::vector<backend::ModelInfo> & models);

// OpenAI's whole answer `body` with LM Studio's stats, model_info and runtime.
std::string add_v0_stats(const std::string & body, const backend::Event & done, const backend::ModelInfo & model);

}  // namespace kiln::api::lmstudio
