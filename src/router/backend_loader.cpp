#include "router/backend_loader.h"

#include "backend/proxy_backend.h"

namespace kiln::router {
namespace {

Result<Footprint> llama_footprint(const ModelSpec & spec, int32_t n_ctx) {
    backend::LlamaOptions o = spec.llama;
    o.n_ctx                 = n_ctx;
    KILN_TRY(auto f, backend::LlamaBackend::estimate(o));
    Footprint out;
    out.weights    = f.memory.weights;
    out.kv         = f.memory.kv;
    out.compute    = f.memory.compute;
    out.host_cache = f.host_cache;
    out.n_ctx      = f.n_ctx;
    out.fixed_ctx  = f.embedding;
    return out;
}

}  // namespace

Result<Footprint> BackendLoader::estimate(const ModelSpec & spec, int32_t n_ctx) {
    if (spec.backend == "llama") return llama_footprint(spec, n_ctx);
    Footprint f;
    f.n_ctx = spec.llama.n_ctx;
    if (spec.memory_mib > 0) {
        f.weights = static_cast<uint64_t>(spec.memory_mib) << 20;
    } else if (spec.backend == "process" && !spec.llama.model_path.empty()) {
        auto llama = llama_footprint(spec, spec.llama.n_ctx);
        if (llama) {
            f            = *llama;
            f.host_cache = 0;
        }
    }
    return f;
}

Result<std::unique_ptr<backend::Backend>> BackendLoader::load(const ModelSpec & spec, int32_t n_ctx) {
    if (spec.backend == "process" || spec.backend == "remote") {
        backend::ProxyOptions o = spec.proxy;
        o.id                    = spec.id;
        o.cancel                = &cancelled_;
        o.n_ctx                 = spec.llama.n_ctx;
        o.vars["MODEL"]         = spec.id;
        o.vars["MODEL_PATH"]    = spec.llama.model_path.string();
        o.vars["CTX"]           = std::to_string(spec.llama.n_ctx);
        o.vars["SLOTS"]         = std::to_string(spec.llama.slots);
        o.vars["THREADS"]       = std::to_string(spec.llama.n_threads);
        std::error_code ec;
        o.vars["KILN_BIN"] = std::filesystem::read_symlink("/proc/self/exe", ec).string();  // "another kiln"
        KILN_TRY(auto b, backend::ProxyBackend::create(std::move(o)));
        return std::unique_ptr<backend::Backend>(std::move(b));
    }
    if (spec.backend != "llama") {
        return make_error(ErrorCode::invalid_request, "model '" + spec.id + "' has an unknown backend '" + spec.backend + "'");
    }
    backend::LlamaOptions o = spec.llama;
    o.n_ctx                 = n_ctx;
    o.cancel                = &cancelled_;
    if (o.alias.empty()) o.alias = spec.id;
    KILN_TRY(auto b, backend::LlamaBackend::create(o, false));  // the router starts it
    return std::unique_ptr<backend::Backend>(std::move(b));
}

}  // namespace kiln::router
