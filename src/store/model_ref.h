// Model references as users type them, and which files of a Hugging Face
// repository they mean. Pure functions: no network, no filesystem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace kiln::store {

// `hf.co/<org>/<repo>[:<quant>]`, `<org>/<repo>[:<quant>]` or
// `<org>/<repo>/<file>.gguf` (also with an `https://huggingface.co/` prefix).
struct ModelRef {
    std::string repo;   // "org/repo"
    std::string quant;  // as typed, e.g. "q4_k_m"; empty: the default
    std::string file;   // a path inside the repo; empty: chosen by quant
};

Result<ModelRef> parse_ref(std::string_view text);

// The quantization a GGUF file name carries ("Q4_K_M", "IQ2_XS", "F16",
// "BF16", ...), upper-case; empty when the name says none.
std::string quant_of(std::string_view filename);

// "<prefix>-00002-of-00005.gguf": part 2 of 5.
struct SplitPart {
    std::string prefix;
    int         index = 0;
    int         count = 0;
};
std::optional<SplitPart> split_part_of(std::string_view filename);

// A multimodal projector ("mmproj-*.gguf", "*-mmproj-f16.gguf").
bool is_mmproj(std::string_view filename);

// A relative path inside a repository that cannot leave it: no "..", no
// absolute path, no backslash, no empty or "." component, no control bytes.
bool is_safe_repo_path(std::string_view path);

struct RepoFile {
    std::string path;
    uint64_t    size = 0;
};

// What to download for a reference.
struct Selection {
    std::vector<RepoFile> files;      // the model: one file, or every part of a split GGUF in order
    std::optional<RepoFile> mmproj;   // a vision repo's projector
    std::string           quant;      // of the chosen files (may be empty)
    bool                  defaulted = false;  // no quant was asked for; `quant` is the default pick
};

// Picks from a repository's files: the named file, the GGUF whose quant
// matches (case-insensitive), or by default Q4_K_M, else the smallest Q4,
// else the smallest Q8, else the only model in the repo. Errors list what
// the repo has.
Result<Selection> select_files(const ModelRef & ref, const std::vector<RepoFile> & files);

}  // namespace kiln::store
