#include "router/backend_loader.h"

#include "router/backend_kinds.h"

namespace kiln::router {

Result<Footprint> BackendLoader::estimate(const ModelSpec & spec, int32_t n_ctx) {
    return kind_of(spec).estimate(spec, n_ctx);
}

Result<std::unique_ptr<backend::Backend>> BackendLoader::load(const ModelSpec & spec, int32_t n_ctx) {
    const auto * kind = find_backend_kind(spec.backend);
    if (!kind) {
        return make_error(ErrorCode::invalid_request, "model '" + spec.id + "' has an unknown backend '" + spec.backend + "'");
    }
    if (kind->in_process) return kind->load(spec, n_ctx, &cancelled_);
    ModelSpec with_codec        = spec;
    with_codec.proxy.chat_codec = chat_codec_;
    return kind->load(with_codec, n_ctx, &cancelled_);
}

}  // namespace kiln::router
