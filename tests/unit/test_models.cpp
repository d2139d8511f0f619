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

// Writes `spec` as root()/name; throws on failure.
fs::path make_in_root(const modelmaker::ModelSpec & spec, const std::string & name) {
    fs::path out = root().path / name;
    Status   st  = modelmaker::make_model(spec, modelmaker::default_vocab_dir(), out);
    if (!st) throw std::runtime_error("make_model: " + st.error().message);
    return out;
}

}  // namespace

modelmaker::ModelSpec tiny_spec(const std::string & arch, const std::string & vocab, int n_ctx) {
    modelmaker::ModelSpec spec;
    spec.arch    = arch;
    spec.vocab   = vocab;
    spec.n_embd  = 64;
    spec.n_layer = 2;
    spec.n_head  = 4;
    spec.n_ctx   = n_ctx;
    return spec;
}

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
    modelmaker::ModelSpec spec = tiny_spec("llama", vocab, n_ctx);
    spec.n_head_kv             = 2;
    const fs::path out         = make_in_root(spec, "tiny-" + key + ".gguf");
    return made.emplace(key, out).first->second;
}

namespace {

fs::path make_bert(bool reranker) {
    modelmaker::ModelSpec spec = tiny_spec("bert", "bert-bge", 512);
    spec.n_embd                = 128;
    spec.reranker              = reranker;
    return make_in_root(spec, reranker ? "tiny-reranker.gguf" : "tiny-embed.gguf");
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
