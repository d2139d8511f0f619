// The tensors of a generated model, filled with deterministic pseudo-random
// values. Internal to the model maker.
#pragma once

#include <cstdint>
#include <vector>

#include "modelmaker/model_maker.h"

struct ggml_context;
struct ggml_tensor;

namespace kiln::modelmaker {

class TensorSet {
  public:
    explicit TensorSet(size_t bytes);
    ~TensorSet();
    TensorSet(TensorSet && other) noexcept;
    TensorSet(const TensorSet &) = delete;

    // Adds an f32 tensor of shape ne (ggml order: ne[0] is the row length).
    // kind: 'w' random weights, '1' ones (norm scales), '0' zeros (biases).
    ggml_tensor * add(const char * name, std::vector<int64_t> ne, char kind, uint64_t seed);
    const std::vector<ggml_tensor *> & list() const { return tensors_; }

  private:
    ggml_context *             ctx_ = nullptr;
    std::vector<ggml_tensor *> tensors_;
};

// All tensors of the architecture in spec (normalized), vocab of n_vocab.
TensorSet make_tensors(const ModelSpec & spec, int64_t n_vocab);

}  // namespace kiln::modelmaker
