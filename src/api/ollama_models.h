// Ollama's model routes beyond pull: /api/show, /api/delete, /api/copy, and
// its embedding routes /api/embed and /api/embeddings (legacy). Pure
// functions; the routes live in server/store_routes and server/ollama_routes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/types.h"
#include "core/result.h"
#include "router/keep_alive.h"
#include "core/config.h"
#include "store/catalog.h"
#include "store/modelfile.h"

namespace kiln::api::ollama {

// {"model": ...} (or the older "name"), required.
Result<std::string> parse_model_name(std::string_view body);
// {source, destination}
struct CopyCall {
    std::string source;
    std::string destination;
};
Result<CopyCall> parse_copy(std::string_view body);

// {license, modelfile, parameters, template, details, model_info, capabilities, modified_at}
std::string show_response(const store::ModelEntry & entry, const std::string & path);
// The same for a created preset over its model's entry: its Modelfile,
// parameters, system prompt and template.
std::string show_preset_response(const PresetTable & preset, const store::ModelEntry & entry);

// POST /api/create: {model (or name), modelfile} (the older form) and/or
// {from, system, template, parameters: {name: value}, messages: [{role,
// content}], license}; stream (default true). quantize, files and adapters
// are refused (kiln builds on pulled models and GGUF paths).
struct CreateCall {
    std::string      name;
    store::Modelfile modelfile;
    bool             stream = true;
};
Result<CreateCall> parse_create(std::string_view body);
// The NDJSON lines (streamed) or the one object of a successful create.
std::string create_response(const CreateCall & call, const std::string & from);

struct EmbedCall {
    backend::EmbedRequest            request;
    bool                             legacy = false;  // /api/embeddings: one "prompt", one "embedding" back
    std::optional<router::KeepAlive> keep_alive;
    int32_t                          n_ctx = 0;
};
Result<EmbedCall> parse_embed(std::string_view body);            // {model, input: string | [string], truncate, keep_alive}
Result<EmbedCall> parse_embeddings_legacy(std::string_view body);  // {model, prompt, keep_alive}
// {model, embeddings, total_duration, load_duration, prompt_eval_count} or, legacy, {embedding}
std::string embed_response(const EmbedCall & call, const std::string & model, const backend::Done & done,
                           int64_t total_ns, int64_t load_ns);

// The answer to GET /api/version: the Ollama version whose API kiln speaks.
std::string version_object();

}  // namespace kiln::api::ollama
