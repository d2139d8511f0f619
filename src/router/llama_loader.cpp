#include "router/llama_loader.h"

namespace kiln::router {
namespace {

Status llama_only(const ModelSpec & spec) {
    if (spec.backend == "llama") return {};
    return make_error(ErrorCode::invalid_request,
                      "model '" + spec.id + "' asks for backend '" + spec.backend + "', which this server does not run");
}

}  // namespace

Result<Footprint> LlamaLoader::estimate(const ModelSpec & spec, int32_t n_ctx) {
    KILN_CHECK(llama_only(spec));
    backend::LlamaOptions o = spec.llama;
    o.n_ctx                 = n_ctx;
    KILN_TRY(auto f, backend::LlamaBackend::estimate(o));
    Footprint out;
    out.weights    = f.memory.weights;
    out.kv         = f.memory.kv;
    out.compute    = f.memory.compute;
    out.host_cache = f.host_cache;
    out.n_ctx      = f.n_ctx;
    return out;
}

Result<std::unique_ptr<backend::Backend>> LlamaLoader::load(const ModelSpec & spec, int32_t n_ctx) {
    KILN_CHECK(llama_only(spec));
    backend::LlamaOptions o = spec.llama;
    o.n_ctx                 = n_ctx;
    if (o.alias.empty()) o.alias = spec.id;
    KILN_TRY(auto b, backend::LlamaBackend::create(o));
    return std::unique_ptr<backend::Backend>(std::move(b));
}

}  // namespace kiln::router
