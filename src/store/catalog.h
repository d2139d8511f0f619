// The model catalog: `$KILN_HOME/kiln.db` (SQLite) over the files in
// `$KILN_HOME/models/`. The filesystem is the truth: every read reconciles
// first, so a file deleted by hand disappears and a GGUF dropped into
// models/ appears. GGUF metadata is read once per file and cached by
// path + size + mtime.
//
// One Catalog per process and thread at a time; SQLite serializes writers
// across processes (a `kiln pull` beside a `kiln serve`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/gguf_info.h"

struct sqlite3;

namespace kiln::store {

struct ModelFile {
    std::string path;    // relative to the models folder; absolute for an import
    std::string kind;    // "model" (every part of a split model, in order) or "mmproj"
    uint64_t    size = 0;
    std::string sha256;  // hex; empty for files kiln did not download (dropped in, imported)
};

struct ModelEntry {
    std::string              name;     // "org/repo:QUANT" for pulls; the chosen name for imports
    std::string              source;   // "hf.co/org/repo", "import" or "local" (found in models/)
    std::vector<ModelFile>   files;
    std::vector<std::string> aliases;
    int64_t                  added_at = 0;  // unix seconds
    // Filled by list() and find():
    int64_t                  modified = 0;  // newest file mtime, unix seconds
    uint64_t                 size = 0;      // all files
    GgufInfo                 info;          // of the first model file
};

// Whether `name` reaches `entry` through one of its aliases (not its own name).
bool named_by_alias(const ModelEntry & entry, std::string_view name);

class Catalog {
  public:
    // Opens (creating) `home/kiln.db` and `home/models/`.
    static Result<std::unique_ptr<Catalog>> open(const std::filesystem::path & home);
    ~Catalog();
    Catalog(const Catalog &) = delete;
    Catalog & operator=(const Catalog &) = delete;

    const std::filesystem::path & models_dir() const { return models_; }
    // Where a file of an entry is (the first model file is what to load).
    std::filesystem::path         absolute(const ModelFile & f) const;

    // Records a model whose files are in place and verified; replaces an
    // entry of the same name. One transaction: all or nothing.
    Status add(const ModelEntry & entry);
    // Removes the entry (and its aliases); `delete_files` also deletes its
    // files under models/ (never an imported file outside it). An alias
    // removes only that name.
    Status remove(const std::string & name, bool delete_files);
    // A second name for a model.
    Status add_alias(const std::string & alias, const std::string & name);

    // Every model, reconciled with the filesystem, sorted by name. A file
    // that is not a readable GGUF is left out; `skipped` (if given) gets one
    // line per such file saying why. A broken file is read once per
    // size + mtime, like a good one.
    Result<std::vector<ModelEntry>> list(std::vector<std::string> * skipped = nullptr);
    // A model by what users type: its name, an alias, `repo:quant` without
    // the org, `org/repo` when only one quant is present, or a unique suffix.
    // model_not_found names the closest names when nothing matches.
    Result<ModelEntry> find(const std::string & query);

  private:
    Catalog(sqlite3 * db, std::filesystem::path home);
    // What reconcile would change; nothing to do when both are empty.
    struct Drift {
        std::vector<std::string> gone;   // entries whose model files changed or vanished
        std::vector<ModelEntry>  found;  // GGUFs dropped into models/ by hand
        bool empty() const { return gone.empty() && found.empty(); }
    };
    Result<Drift> drift();
    // Brings the catalog in line with models/: a read, and a write
    // transaction only when something changed.
    Status reconcile();
    Status insert(const ModelEntry & entry);  // inside a transaction
    Result<std::vector<ModelEntry>> load_entries();
    Result<GgufInfo> cached_info(const std::filesystem::path & path);

    sqlite3 *             db_;
    std::filesystem::path home_;
    std::filesystem::path models_;
};

}  // namespace kiln::store
