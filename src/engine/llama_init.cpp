#include "engine/llama_init.h"

#include <mutex>
#include <string>

#include "core/log.h"
#include "llama.h"

namespace kiln::engine {
namespace {

// llama.cpp is chatty at info level (every tensor, every buffer); only its
// warnings and errors reach our log unless KILN_LOG_LEVEL=debug.
void log_bridge(ggml_log_level level, const char * text, void *) {
    static thread_local std::string line;
    if (level != GGML_LOG_LEVEL_CONT) line.clear();
    line += text;
    if (line.empty() || line.back() != '\n') return;
    line.pop_back();
    switch (level) {
        case GGML_LOG_LEVEL_ERROR: log::error("llama: {}", line); break;
        case GGML_LOG_LEVEL_WARN:  log::warn("llama: {}", line); break;
        default:                   log::debug("llama: {}", line); break;
    }
    line.clear();
}

}  // namespace

void init_llama() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(log_bridge, nullptr);
        llama_backend_init();
    });
}

}  // namespace kiln::engine
