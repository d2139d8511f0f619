// RAII ownership of a llama_model loaded from a GGUF file (mmap'd).
// A Model is immutable after load: any thread may tokenize with it or create
// contexts from it. It must outlive every Context made from it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/result.h"
#include "core/token.h"
#include "llama.h"

namespace kiln::engine {

static_assert(std::is_same_v<Token, llama_token>, "kiln::Token is llama.cpp's llama_token");

struct ModelParams {
    bool use_mmap   = true;
    bool vocab_only = false;
    const std::atomic<bool> * cancel = nullptr;  // set while loading: the load stops (ErrorCode::cancelled)
};

// The llama_model_params a Model is loaded with (CPU only).
llama_model_params llama_params(const ModelParams & params);

class Model {
  public:
    static Result<std::unique_ptr<Model>> load(const std::filesystem::path & path, const ModelParams & params = {});
    ~Model();
    Model(const Model &) = delete;
    Model & operator=(const Model &) = delete;

    llama_model *       get() const { return model_; }
    const llama_vocab * vocab() const { return vocab_; }

    int      n_ctx_train() const;
    int      n_vocab() const;
    uint64_t n_params() const;
    uint64_t size_bytes() const;
    // Metadata value for `key` ("general.architecture"), empty if absent.
    std::string meta(const std::string & key) const;
    std::string description() const;

    // Text <-> tokens. parse_special lets control tokens in the text (as a
    // chat template emits them) become their ids.
    std::vector<llama_token> tokenize(const std::string & text, bool add_special, bool parse_special) const;
    // The bytes of one token; may be part of a UTF-8 character.
    std::string token_to_piece(llama_token token, bool special = false) const;
    std::string detokenize(const std::vector<llama_token> & tokens, bool special = false) const;
    bool        is_eog(llama_token token) const;

  private:
    explicit Model(llama_model * model);
    llama_model *       model_ = nullptr;
    const llama_vocab * vocab_ = nullptr;
};

// Turns a stream of tokens into text without ever splitting a UTF-8
// character: bytes of an unfinished character are held until it completes.
class Detokenizer {
  public:
    explicit Detokenizer(const Model & model) : model_(model) {}
    // Control tokens to render as their text (a chat format's markers, which
    // its parser must see); others render as nothing.
    void show(std::vector<llama_token> tokens) { shown_ = std::move(tokens); }
    // Text that became complete with this token (may be empty).
    std::string push(llama_token token);
    // Whatever is still held at the end, invalid bytes replaced by U+FFFD.
    std::string flush();

  private:
    const Model &            model_;
    std::string              pending_;
    std::vector<llama_token> shown_;
};

}  // namespace kiln::engine
