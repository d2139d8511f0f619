#include "store/model_ref.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

#include "core/utf8.h"

namespace kiln::store {
namespace {

using utf8::ascii_lower;
using utf8::ascii_upper;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && ascii_lower(s.substr(s.size() - suffix.size())) == suffix;
}

std::string_view basename(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// An org or repo name as Hugging Face allows them.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 96 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

Error bad_ref(std::string_view text, const std::string & why) {
    return make_error(ErrorCode::invalid_request,
                      "'" + std::string(text) + "' is not a model reference (" + why +
                          "); use org/repo, org/repo:QUANT or org/repo/file.gguf");
}

// A model (not a projector) file, one per part.
bool is_model_gguf(const RepoFile & f) { return ends_with_ci(f.path, ".gguf") && !is_mmproj(f.path); }

// The key that groups the parts of one split model: the path without the
// "-0000k-of-0000n" suffix.
std::string group_key(const std::string & path) {
    const auto part = split_part_of(basename(path));
    if (!part) return path;
    const auto dir = path.substr(0, path.size() - basename(path).size());
    return dir + part->prefix;
}

}  // namespace

Result<ModelRef> parse_ref(std::string_view text) {
    std::string_view s = text;
    for (std::string_view prefix : {"https://huggingface.co/", "http://huggingface.co/", "huggingface.co/",
                                    "https://hf.co/", "hf.co/"}) {
        if (s.substr(0, prefix.size()) == prefix) {
            s.remove_prefix(prefix.size());
            break;
        }
    }
    if (s.empty()) return bad_ref(text, "it is empty");
    ModelRef ref;
    // org/repo/path/to/file.gguf
    const auto first = s.find('/');
    if (first == std::string_view::npos) return bad_ref(text, "no org/ part");
    const auto second = s.find('/', first + 1);
    std::string_view repo_part = s;
    if (second != std::string_view::npos) {
        repo_part = s.substr(0, second);
        ref.file  = std::string(s.substr(second + 1));
        if (!ends_with_ci(ref.file, ".gguf")) return bad_ref(text, "a file must end in .gguf");
        if (!is_safe_repo_path(ref.file)) return bad_ref(text, "the file path leaves the repository");
    } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
        repo_part = s.substr(0, colon);
        ref.quant = std::string(s.substr(colon + 1));
        if (ref.quant.empty() || !valid_name(ref.quant)) return bad_ref(text, "the quantization after ':' is empty or odd");
        if (ascii_lower(ref.quant) == "latest") ref.quant.clear();  // as Ollama users type it
    }
    const auto slash = repo_part.find('/');
    const auto org   = repo_part.substr(0, slash);
    const auto name  = repo_part.substr(slash + 1);
    if (!valid_name(org) || !valid_name(name)) return bad_ref(text, "org and repo names are letters, digits, - _ .");
    ref.repo = std::string(repo_part);
    return ref;
}

std::string quant_of(std::string_view filename) {
    std::string stem(basename(filename));
    if (ends_with_ci(stem, ".gguf")) stem.resize(stem.size() - 5);
    if (const auto part = split_part_of(basename(filename))) stem = part->prefix;
    static const std::regex re(R"((?:^|[-._])(I?Q[1-8](?:_[0-9A-Z]{1,4})*|BF16|F16|F32|MXFP4(?:_MOE)?|TQ[12]_0)(?=$|[-.]))",
                               std::regex::icase);
    std::string found;
    for (auto it = std::sregex_iterator(stem.begin(), stem.end(), re); it != std::sregex_iterator(); ++it) {
        found = (*it)[1].str();  // the last one wins: "Qwen2-Q8-...-Q4_K_M"
    }
    return ascii_upper(found);
}

std::optional<SplitPart> split_part_of(std::string_view filename) {
    static const std::regex re(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)", std::regex::icase);
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(filename.begin(), filename.end(), m, re)) return std::nullopt;
    SplitPart p{m[1].str(), std::stoi(m[2].str()), std::stoi(m[3].str())};
    if (p.index < 1 || p.count < 1 || p.index > p.count) return std::nullopt;
    return p;
}

bool is_mmproj(std::string_view filename) {
    return ends_with_ci(filename, ".gguf") && ascii_lower(basename(filename)).find("mmproj") != std::string::npos;
}

bool is_safe_repo_path(std::string_view path) {
    if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
    for (char c : path) {
        if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ':') return false;
    }
    size_t start = 0;
    while (start <= path.size()) {
        const auto end  = std::min(path.find('/', start), path.size());
        const auto comp = path.substr(start, end - start);
        if (comp.empty() || comp == "." || comp == "..") return false;
        start = end + 1;
    }
    return true;
}

Result<Selection> select_files(const ModelRef & ref, const std::vector<RepoFile> & files) {
    // Models by group (a single file, or every part of a split one).
    std::map<std::string, std::vector<RepoFile>> groups;
    std::vector<RepoFile> projectors;
    for (const auto & f : files) {
        if (!is_safe_repo_path(f.path)) continue;  // never offered, never written
        if (is_model_gguf(f)) groups[group_key(f.path)].push_back(f);
        else if (is_mmproj(f.path)) projectors.push_back(f);
    }
    if (groups.empty()) {
        return make_error(ErrorCode::model_not_found, "repository " + ref.repo + " has no GGUF model files");
    }
    auto total = [](const std::vector<RepoFile> & g) {
        uint64_t n = 0;
        for (const auto & f : g) n += f.size;
        return n;
    };
    auto available = [&] {
        std::string list;
        for (const auto & [key, g] : groups) {
            const auto q = quant_of(g.front().path);
            list += (list.empty() ? "" : ", ") + (q.empty() ? std::string(basename(g.front().path)) : q);
        }
        return list;
    };

    const std::vector<RepoFile> * chosen = nullptr;
    Selection sel;
    if (!ref.file.empty()) {
        const auto key = group_key(ref.file);
        if (auto it = groups.find(key); it != groups.end()) chosen = &it->second;
        if (!chosen) {
            return make_error(ErrorCode::model_not_found,
                              "repository " + ref.repo + " has no file " + ref.file + " (it has: " + available() + ")");
        }
    } else if (!ref.quant.empty()) {
        const auto want = ascii_upper(ref.quant);
        for (const auto & [key, g] : groups) {
            if (quant_of(g.front().path) == want && (!chosen || total(g) < total(*chosen))) chosen = &g;
        }
        if (!chosen) {
            return make_error(ErrorCode::model_not_found,
                              "repository " + ref.repo + " has no " + want + " file (it has: " + available() + ")");
        }
    } else {
        sel.defaulted = true;
        auto smallest = [&](auto pred) {
            const std::vector<RepoFile> * best = nullptr;
            for (const auto & [key, g] : groups) {
                if (pred(quant_of(g.front().path)) && (!best || total(g) < total(*best))) best = &g;
            }
            return best;
        };
        chosen = smallest([](const std::string & q) { return q == "Q4_K_M"; });
        if (!chosen) chosen = smallest([](const std::string & q) { return q.rfind("Q4", 0) == 0; });
        if (!chosen) chosen = smallest([](const std::string & q) { return q.rfind("Q8", 0) == 0; });
        if (!chosen && groups.size() == 1) chosen = &groups.begin()->second;
        if (!chosen) {
            return make_error(ErrorCode::invalid_request, "repository " + ref.repo +
                                                              " has several models and no Q4/Q8 one; pick one with " +
                                                              ref.repo + ":QUANT (it has: " + available() + ")");
        }
    }

    sel.files = *chosen;
    std::sort(sel.files.begin(), sel.files.end(), [](const RepoFile & a, const RepoFile & b) { return a.path < b.path; });
    if (const auto part = split_part_of(basename(sel.files.front().path))) {
        if (static_cast<int>(sel.files.size()) != part->count) {
            return make_error(ErrorCode::model_not_found, "repository " + ref.repo + " lists " +
                                                              std::to_string(sel.files.size()) + " of the " +
                                                              std::to_string(part->count) + " parts of " +
                                                              std::string(basename(sel.files.front().path)));
        }
    }
    sel.quant = quant_of(sel.files.front().path);
    // The projector: the one beside the model, preferring f16, then the smallest.
    for (const auto & p : projectors) {
        if (!sel.mmproj) {
            sel.mmproj = p;
            continue;
        }
        const bool p_f16 = quant_of(p.path) == "F16", cur_f16 = quant_of(sel.mmproj->path) == "F16";
        if ((p_f16 && !cur_f16) || (p_f16 == cur_f16 && p.size < sel.mmproj->size)) sel.mmproj = p;
    }
    return sel;
}

}  // namespace kiln::store
