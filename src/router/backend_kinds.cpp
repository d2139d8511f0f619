#include "router/backend_kinds.h"

#include <filesystem>

#include "backend/llama_backend.h"
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

Result<std::unique_ptr<backend::Backend>> load_llama(const ModelSpec & spec, int32_t n_ctx, const std::atomic<bool> * cancel) {
    backend::LlamaOptions o = spec.llama;
    o.n_ctx                 = n_ctx;
    o.cancel                = cancel;
    if (o.alias.empty()) o.alias = spec.id;
    KILN_TRY(auto b, backend::LlamaBackend::create(o, false));  // the router starts it
    return std::unique_ptr<backend::Backend>(std::move(b));
}

// What a preset declares (`memory`), else for a process serving a GGUF what
// llama.cpp would take for it (without kiln's host cache), else nothing.
Result<Footprint> proxy_footprint(const ModelSpec & spec, int32_t) {
    Footprint f;
    f.n_ctx = spec.llama.n_ctx;
    if (spec.memory_mib > 0) {
        f.weights = static_cast<uint64_t>(spec.memory_mib) << 20;
    } else if (kind_of(spec).runs_command && !spec.llama.model_path.empty()) {
        if (auto llama = llama_footprint(spec, spec.llama.n_ctx)) {
            f            = *llama;
            f.host_cache = 0;
        }
    }
    return f;
}

Result<std::unique_ptr<backend::Backend>> load_proxy(const ModelSpec & spec, int32_t, const std::atomic<bool> * cancel) {
    backend::ProxyOptions o = spec.proxy;
    o.id                    = spec.id;
    o.cancel                = cancel;
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

}  // namespace

const std::vector<BackendKind> & backend_kinds() {
    static const std::vector<BackendKind> kinds = {
        {"llama", true, false, llama_footprint, load_llama},
        {"process", false, true, proxy_footprint, load_proxy},
        {"remote", false, false, proxy_footprint, load_proxy},
    };
    return kinds;
}

const BackendKind * find_backend_kind(std::string_view name) {
    for (const auto & k : backend_kinds()) {
        if (name == k.name) return &k;
    }
    return nullptr;
}

const BackendKind & kind_of(const ModelSpec & spec) {
    const auto * k = find_backend_kind(spec.backend);
    return k ? *k : backend_kinds().front();
}

std::string backend_kind_names() {
    std::string out;
    const auto & kinds = backend_kinds();
    for (size_t i = 0; i < kinds.size(); ++i) {
        if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
        out += "\"" + std::string(kinds[i].name) + "\"";
    }
    return out;
}

}  // namespace kiln::router
