#include "engine/memory.h"

#include <exception>
#include <mutex>
#include <vector>

#include "engine/llama_init.h"
#include "fit.h"

namespace kiln::engine {

Result<MemoryEstimate> estimate_memory(const std::filesystem::path & path, const ModelParams & model,
                                       const ContextParams & context) {
    init_llama();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return make_error(ErrorCode::not_found, "model file not found: " + path.filename().string());
    }
    static std::mutex one_at_a_time;  // it swaps llama.cpp's global logger
    std::lock_guard   lock(one_at_a_time);

    const llama_model_params        mp = llama_params(model);
    const llama_context_params      cp = llama_params(context);
    std::vector<ggml_backend_dev_t> devices;
    uint32_t                        n_layer = 0, n_ctx_train = 0, n_expert = 0;
    common_device_memory_data_vec   data;
    try {
        data = common_get_device_memory_data(path.c_str(), &mp, &cp, devices, n_layer, n_ctx_train, n_expert,
                                             GGML_LOG_LEVEL_ERROR);
    } catch (const std::exception &) {
        return make_error(ErrorCode::invalid_request,
                          "cannot size " + path.filename().string() + ": not a GGUF model llama.cpp can read");
    }
    MemoryEstimate e;
    e.n_ctx_train = n_ctx_train;
    for (const auto & d : data) {  // the host's and every device's (none on a CPU build)
        e.weights += d.model;
        e.kv += d.context;
        e.compute += d.compute;
    }
    return e;
}

}  // namespace kiln::engine
