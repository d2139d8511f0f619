// What kiln shows about a GGUF file, read from its header with ggml's gguf
// reader: metadata and tensor shapes only, no weights are loaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"

namespace kiln::store {

struct GgufInfo {
    std::string architecture;    // general.architecture ("llama", "bert", "clip", ...)
    std::string name;            // general.name
    std::string license;         // general.license
    uint64_t    n_params = 0;    // elements of every tensor (of this part, for a split model)
    std::string quant;           // from general.file_type ("Q4_K_M"), else the commonest tensor type
    uint32_t    context_length = 0;  // <arch>.context_length
    uint32_t    embedding_length = 0;
    uint32_t    block_count = 0;
    std::string chat_template;   // tokenizer.chat_template
    uint16_t    split_count = 0; // split.count; 0: not split
    bool        projector = false;  // a multimodal projector (mmproj), not a model
    // "completion" or "embedding", plus "tools", "thinking", "insert" when the
    // template or vocabulary supports them. ("vision" comes from the catalog:
    // it depends on a projector file beside the model.)
    std::vector<std::string> capabilities;
};

// Errors: not_found (no such file), invalid_request (not a GGUF file, or a
// truncated or corrupt header).
Result<GgufInfo> read_gguf_info(const std::filesystem::path & path);

// "1.2B", "245.9M", "7B"
std::string format_params(uint64_t n);

}  // namespace kiln::store
