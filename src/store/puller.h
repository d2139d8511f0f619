// `kiln pull` and `POST /api/pull` share this: resolve a reference against a
// Hugging Face repository, download and verify its files, record the model
// in the catalog last. Progress comes back as events; the caller renders
// them (a terminal bar, plain lines, or Ollama's NDJSON).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"
#include "store/catalog.h"
#include "store/hf_client.h"

namespace kiln::store {

struct PullEvent {
    enum class Kind {
        manifest,     // listing the repository
        chose,        // `message` says which quantization was taken by default
        file_start,   // `file` begins (or resumes), `total` bytes
        file_progress,
        file_done,    // downloaded and verified
        up_to_date,   // already here with the recorded sha256
        writing,      // recording the catalog entry
        success,      // `name` is the model's catalog name
    };
    Kind        kind = Kind::manifest;
    std::string name;     // the model's catalog name, once known
    std::string file;     // the repository path of the file
    std::string digest;   // "sha256:<hex>" when the repository publishes it
    std::string message;
    uint64_t    total = 0;
    uint64_t    completed = 0;
    double      bytes_per_second = 0;
    bool        resumed = false;
};

// Blocks until done. Errors: invalid_request (a bad reference),
// model_not_found, unavailable (gated), io, cancelled (HfOptions::cancel).
Result<std::string> pull_model(Catalog & catalog, HfClient & hf, const std::string & reference,
                               const std::function<void(const PullEvent &)> & on_event);

}  // namespace kiln::store
