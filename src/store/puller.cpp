#include "store/puller.h"

#include <algorithm>
#include <filesystem>

#include "store/model_ref.h"

namespace kiln::store {
namespace fs = std::filesystem;

Result<std::string> pull_model(Catalog & catalog, HfClient & hf, const std::string & reference,
                               const std::function<void(const PullEvent &)> & on_event) {
    auto emit = [&](const PullEvent & e) {
        if (on_event) on_event(e);
    };
    auto ref = parse_ref(reference);
    if (!ref) return ref.error();
    PullEvent manifest;
    manifest.message = "pulling manifest of " + ref->repo;
    emit(manifest);
    auto listed = hf.list_files(ref->repo);
    if (!listed) return listed.error();
    std::vector<RepoFile> repo_files;
    for (const auto & f : *listed) repo_files.push_back({f.path, f.size});
    auto sel = select_files(*ref, repo_files);
    if (!sel) return sel.error();
    const std::string name = ref->repo + ":" + (sel->quant.empty() ? "latest" : sel->quant);
    if (sel->defaulted) {
        PullEvent chose;
        chose.kind    = PullEvent::Kind::chose;
        chose.name    = name;
        chose.message = "no quantization given: taking " +
                        (sel->quant.empty() ? std::string("the only model") : sel->quant) + " (pick another with " +
                        ref->repo + ":QUANT)";
        emit(chose);
    }

    auto hf_file = [&](const std::string & path) {
        for (const auto & f : *listed) {
            if (f.path == path) return f;
        }
        return HfFile{path, 0, ""};
    };
    std::vector<std::pair<HfFile, std::string>> todo;  // file, kind
    for (const auto & f : sel->files) todo.emplace_back(hf_file(f.path), "model");
    if (sel->mmproj) todo.emplace_back(hf_file(sel->mmproj->path), "mmproj");

    // What the catalog already recorded for this name, to skip verified files.
    std::vector<ModelFile> known;
    if (auto k = catalog.find(name); k && k->name == name) known = k->files;

    ModelEntry entry;
    entry.name   = name;
    entry.source = "hf.co/" + ref->repo;
    for (const auto & todo_item : todo) {
        const HfFile &      file = todo_item.first;  // captured below: not a structured binding (clang 14)
        const std::string & kind = todo_item.second;
        const fs::path    rel    = fs::path(ref->repo) / file.path;
        const fs::path    dest   = catalog.models_dir() / rel;
        const std::string digest = file.sha256.empty() ? "" : "sha256:" + file.sha256;
        std::error_code   ec;
        const bool        here   = fs::exists(dest, ec) && fs::file_size(dest, ec) == file.size;
        const bool        same   = here && !file.sha256.empty() &&
                            std::any_of(known.begin(), known.end(), [&](const ModelFile & k) {
                                return k.path == rel.string() && k.sha256 == file.sha256;
                            });
        // Every file event names the model, the file and its digest.
        auto event = [&](PullEvent::Kind what, uint64_t completed) {
            PullEvent e;
            e.kind      = what;
            e.name      = name;
            e.file      = file.path;
            e.digest    = digest;
            e.total     = file.size;
            e.completed = completed;
            return e;
        };
        if (same) {
            emit(event(PullEvent::Kind::up_to_date, file.size));
            entry.files.push_back({rel.string(), kind, file.size, file.sha256});
            continue;
        }
        emit(event(PullEvent::Kind::file_start, 0));
        auto st = hf.download(ref->repo, file, dest, [&](const DownloadProgress & p) {
            PullEvent e        = event(PullEvent::Kind::file_progress, p.done);
            e.bytes_per_second = p.bytes_per_second;
            e.resumed          = p.resumed;
            emit(e);
        });
        if (!st) return st.error();
        emit(event(PullEvent::Kind::file_done, file.size));
        entry.files.push_back({rel.string(), kind, file.size, file.sha256});
    }
    // Last: the catalog entry, once every file is in place and verified.
    PullEvent last;
    last.kind = PullEvent::Kind::writing;
    last.name = name;
    emit(last);
    if (auto st = catalog.add(entry); !st) return st.error();
    last.kind = PullEvent::Kind::success;
    emit(last);
    return name;
}

}  // namespace kiln::store
