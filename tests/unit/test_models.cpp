#include "test_models.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unistd.h>

namespace kiln::test {
namespace fs = std::filesystem;

namespace {

struct TempRoot {
    fs::path path;
    TempRoot() {
        std::string tmpl = (fs::temp_directory_path() / "kiln-unit-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempRoot() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

TempRoot & root() {
    static TempRoot r;
    return r;
}

}  // namespace

fs::path temp_dir() {
    static int n = 0;
    fs::path p = root().path / ("d" + std::to_string(++n));
    fs::create_directories(p);
    return p;
}

fs::path vocab_file(const std::string & name) {
    return modelmaker::default_vocab_dir() / ("ggml-vocab-" + name + ".gguf");
}

const fs::path & tiny_model(const std::string & vocab, int n_ctx) {
    static std::mutex                  mutex;
    static std::map<std::string, fs::path> made;
    std::lock_guard lock(mutex);
    const std::string key = vocab + "-" + std::to_string(n_ctx);
    auto it = made.find(key);
    if (it != made.end()) return it->second;
    modelmaker::ModelSpec spec;
    spec.vocab  = vocab;
    spec.n_embd = 64;
    spec.n_layer = 2;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.n_ctx  = n_ctx;
    fs::path out = root().path / ("tiny-" + key + ".gguf");
    Status st = modelmaker::make_model(spec, modelmaker::default_vocab_dir(), out);
    if (!st) throw std::runtime_error("make_model: " + st.error().message);
    return made.emplace(key, out).first->second;
}

namespace {

fs::path make_bert(bool reranker) {
    modelmaker::ModelSpec spec;
    spec.arch     = "bert";
    spec.vocab    = "bert-bge";
    spec.n_embd   = 128;
    spec.n_layer  = 2;
    spec.n_head   = 4;
    spec.n_ctx    = 512;
    spec.reranker = reranker;
    fs::path out  = root().path / (reranker ? "tiny-reranker.gguf" : "tiny-embed.gguf");
    Status   st   = modelmaker::make_model(spec, modelmaker::default_vocab_dir(), out);
    if (!st) throw std::runtime_error("make_model: " + st.error().message);
    return out;
}

}  // namespace

const fs::path & tiny_reranker_model() {
    static const fs::path path = make_bert(true);
    return path;
}

const fs::path & tiny_embed_model() {
    static const fs::path path = make_bert(false);
    return path;
}

}  // namespace kiln::test
