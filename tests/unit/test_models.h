// Small generated models shared by the unit tests of one run. Each is made
// once (in a temp dir) on first use and removed at exit.
#pragma once

#include <filesystem>
#include <string>

#include "modelmaker/model_maker.h"

namespace kiln::test {

// The spec the tiny test models start from: 64-wide, 2 layers, 4 heads.
modelmaker::ModelSpec tiny_spec(const std::string & arch, const std::string & vocab, int n_ctx);

// A tiny llama model for `vocab` (ChatML template) trained for n_ctx tokens,
// made once per process.
const std::filesystem::path & tiny_model(const std::string & vocab = "qwen2", int n_ctx = 512);
// A tiny bert embedding model (bert-bge vocab, 128 dimensions, CLS pooling).
const std::filesystem::path & tiny_embed_model();
// The same with a classification head and rank pooling: a reranker.
const std::filesystem::path & tiny_reranker_model();
// Path of llama.cpp's ggml-vocab-<name>.gguf.
std::filesystem::path vocab_file(const std::string & name);
// A fresh temp directory, removed at exit.
std::filesystem::path temp_dir();

}  // namespace kiln::test
