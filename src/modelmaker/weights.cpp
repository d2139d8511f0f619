#include "modelmaker/weights.h"

#include <cmath>
#include <string>

#include "ggml.h"

namespace kiln::modelmaker {
namespace {

// splitmix64: tiny, fast, and the same numbers on every platform.
uint64_t splitmix64(uint64_t & state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z          = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t hash_name(const char * s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;  // FNV-1a
    for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
    return h;
}

void fill(ggml_tensor * t, char kind, uint64_t seed) {
    float *       data = static_cast<float *>(t->data);
    const int64_t n    = ggml_nelements(t);
    if (kind != 'w') {
        const float v = kind == '1' ? 1.0f : 0.0f;
        for (int64_t i = 0; i < n; ++i) data[i] = v;
        return;
    }
    // Uniform with variance 1/fan_in keeps activations in range through the
    // layers, so the logits are spread and sampling is not degenerate.
    const float scale = std::sqrt(3.0f / static_cast<float>(t->ne[0]));
    uint64_t    state = hash_name(ggml_get_name(t), seed);
    for (int64_t i = 0; i < n; ++i) {
        const float u = static_cast<float>(splitmix64(state) >> 40) / static_cast<float>(1ull << 24);  // [0,1)
        data[i]       = (2.0f * u - 1.0f) * scale;
    }
}

}  // namespace

TensorSet::TensorSet(size_t bytes) {
    ggml_init_params p{bytes, nullptr, false};
    ctx_ = ggml_init(p);
}

TensorSet::~TensorSet() {
    if (ctx_) ggml_free(ctx_);
}

TensorSet::TensorSet(TensorSet && o) noexcept : ctx_(o.ctx_), tensors_(std::move(o.tensors_)) { o.ctx_ = nullptr; }

ggml_tensor * TensorSet::add(const char * name, std::vector<int64_t> ne, char kind, uint64_t seed) {
    ggml_tensor * t = ggml_new_tensor(ctx_, GGML_TYPE_F32, static_cast<int>(ne.size()), ne.data());
    ggml_set_name(t, name);
    fill(t, kind, seed);
    tensors_.push_back(t);
    return t;
}

TensorSet make_tensors(const ModelSpec & s, int64_t n_vocab) {
    const int64_t E = s.n_embd, F = s.n_ff, L = s.n_layer;
    const int64_t E_kv = E / s.n_head * s.n_head_kv;
    const bool    bert = s.arch == "bert";

    // Total elements, for one allocation (plus per-tensor overhead).
    int64_t per_layer = bert ? (E * E * 2 + E * E_kv * 2 + 2 * E * F + 8 * E + 2 * E_kv + F)
                             : (E * E * 2 + E * E_kv * 2 + 3 * E * F + 2 * E);
    int64_t total     = L * per_layer + E * n_vocab + (bert ? (E * 2 + E * s.n_ctx + 2 * E + E * E + 2 * E + 1) : (E + E * n_vocab));
    const int64_t n_tensors = L * 20 + 8;
    TensorSet     set(static_cast<size_t>(total) * sizeof(float) + n_tensors * (ggml_tensor_overhead() + 64));

    const uint64_t seed = s.seed;
    auto blk = [](int64_t i, const char * n) { return "blk." + std::to_string(i) + "." + n; };

    set.add("token_embd.weight", {E, n_vocab}, 'w', seed);
    if (bert) {
        set.add("token_types.weight", {E, 2}, 'w', seed);
        set.add("position_embd.weight", {E, s.n_ctx}, 'w', seed);
        set.add("token_embd_norm.weight", {E}, '1', seed);
        set.add("token_embd_norm.bias", {E}, '0', seed);
        if (s.reranker) {
            set.add("cls.weight", {E, E}, 'w', seed);
            set.add("cls.bias", {E}, '0', seed);
            set.add("cls.output.weight", {E, 1}, 'w', seed);
            set.add("cls.output.bias", {1}, '0', seed);
        }
    } else {
        set.add("output_norm.weight", {E}, '1', seed);
        set.add("output.weight", {E, n_vocab}, 'w', seed);
    }
    for (int64_t i = 0; i < L; ++i) {
        set.add(blk(i, "attn_q.weight").c_str(), {E, E}, 'w', seed);
        set.add(blk(i, "attn_k.weight").c_str(), {E, E_kv}, 'w', seed);
        set.add(blk(i, "attn_v.weight").c_str(), {E, E_kv}, 'w', seed);
        set.add(blk(i, "attn_output.weight").c_str(), {E, E}, 'w', seed);
        set.add(blk(i, "ffn_up.weight").c_str(), {E, F}, 'w', seed);
        set.add(blk(i, "ffn_down.weight").c_str(), {F, E}, 'w', seed);
        if (bert) {
            set.add(blk(i, "attn_q.bias").c_str(), {E}, '0', seed);
            set.add(blk(i, "attn_k.bias").c_str(), {E_kv}, '0', seed);
            set.add(blk(i, "attn_v.bias").c_str(), {E_kv}, '0', seed);
            set.add(blk(i, "attn_output.bias").c_str(), {E}, '0', seed);
            set.add(blk(i, "attn_output_norm.weight").c_str(), {E}, '1', seed);
            set.add(blk(i, "attn_output_norm.bias").c_str(), {E}, '0', seed);
            set.add(blk(i, "ffn_up.bias").c_str(), {F}, '0', seed);
            set.add(blk(i, "ffn_down.bias").c_str(), {E}, '0', seed);
            set.add(blk(i, "layer_output_norm.weight").c_str(), {E}, '1', seed);
            set.add(blk(i, "layer_output_norm.bias").c_str(), {E}, '0', seed);
        } else {
            set.add(blk(i, "attn_norm.weight").c_str(), {E}, '1', seed);
            set.add(blk(i, "ffn_gate.weight").c_str(), {E, F}, 'w', seed);
            set.add(blk(i, "ffn_norm.weight").c_str(), {E}, '1', seed);
        }
    }
    return set;
}

}  // namespace kiln::modelmaker
