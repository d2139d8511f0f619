#include "engine/model.h"

#include <algorithm>
#include <climits>
#include <system_error>

#include "core/utf8.h"
#include "engine/llama_init.h"

namespace kiln::engine {

llama_model_params llama_params(const ModelParams & params) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers       = 0;
    mp.vocab_only         = params.vocab_only;
    mp.load_mode          = params.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
    if (params.cancel) {
        // llama.cpp asks as it reads the tensors; false stops the load.
        mp.progress_callback = [](float, void * flag) { return !static_cast<const std::atomic<bool> *>(flag)->load(); };
        mp.progress_callback_user_data = const_cast<std::atomic<bool> *>(params.cancel);
    }
    return mp;
}

Result<std::unique_ptr<Model>> Model::load(const std::filesystem::path & path, const ModelParams & params) {
    init_llama();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return make_error(ErrorCode::not_found, "model file not found: " + path.filename().string());
    }
    const llama_model_params mp = llama_params(params);
    llama_model * m       = llama_model_load_from_file(path.c_str(), mp);
    if (!m && params.cancel && params.cancel->load()) {
        return make_error(ErrorCode::cancelled, "loading " + path.filename().string() + " was cancelled");
    }
    if (!m) {
        return make_error(ErrorCode::invalid_request,
                          "cannot load " + path.filename().string() + ": not a GGUF model llama.cpp can read");
    }
    return std::unique_ptr<Model>(new Model(m));
}

Model::Model(llama_model * model) : model_(model), vocab_(llama_model_get_vocab(model)) {}

Model::~Model() { llama_model_free(model_); }

int      Model::n_ctx_train() const { return llama_model_n_ctx_train(model_); }
int      Model::n_vocab() const { return llama_vocab_n_tokens(vocab_); }
uint64_t Model::n_params() const { return llama_model_n_params(model_); }
uint64_t Model::size_bytes() const { return llama_model_size(model_); }

std::string Model::meta(const std::string & key) const {
    std::string buf(256, '\0');
    int32_t     n = llama_model_meta_val_str(model_, key.c_str(), buf.data(), buf.size());
    if (n < 0) return {};
    if (static_cast<size_t>(n) >= buf.size()) {
        buf.resize(n + 1);
        n = llama_model_meta_val_str(model_, key.c_str(), buf.data(), buf.size());
    }
    buf.resize(n);
    return buf;
}

std::string Model::description() const {
    char buf[256];
    llama_model_desc(model_, buf, sizeof buf);
    return buf;
}

std::vector<llama_token> Model::tokenize(const std::string & text, bool add_special, bool parse_special) const {
    if (text.size() > static_cast<size_t>(INT32_MAX)) return {};
    std::vector<llama_token> out(text.size() + 2);
    int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), out.data(),
                               static_cast<int32_t>(out.size()), add_special, parse_special);
    if (n < 0) {
        out.resize(-n);
        n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), out.data(),
                           static_cast<int32_t>(out.size()), add_special, parse_special);
    }
    out.resize(n < 0 ? 0 : n);
    return out;
}

std::string Model::token_to_piece(llama_token token, bool special) const {
    char    small[64];
    int32_t n = llama_token_to_piece(vocab_, token, small, sizeof small, 0, special);
    if (n >= 0) return std::string(small, n);
    std::string big(-n, '\0');
    n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, special);
    big.resize(n < 0 ? 0 : n);
    return big;
}

std::string Model::detokenize(const std::vector<llama_token> & tokens, bool special) const {
    std::string out(tokens.size() * 4 + 16, '\0');
    int32_t n = llama_detokenize(vocab_, tokens.data(), static_cast<int32_t>(tokens.size()), out.data(),
                                 static_cast<int32_t>(out.size()), false, special);
    if (n < 0) {
        out.resize(-n);
        n = llama_detokenize(vocab_, tokens.data(), static_cast<int32_t>(tokens.size()), out.data(),
                             static_cast<int32_t>(out.size()), false, special);
    }
    out.resize(n < 0 ? 0 : n);
    return out;
}

bool Model::is_eog(llama_token token) const { return llama_vocab_is_eog(vocab_, token); }

std::string Detokenizer::push(llama_token token) {
    const bool special = !shown_.empty() && std::find(shown_.begin(), shown_.end(), token) != shown_.end();
    pending_ += model_.token_to_piece(token, special);
    const size_t n = utf8::complete_prefix(pending_);
    std::string  out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
}

std::string Detokenizer::flush() {
    std::string out = utf8::sanitize(pending_);
    pending_.clear();
    return out;
}

}  // namespace kiln::engine
