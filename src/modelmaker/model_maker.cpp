#include "modelmaker/model_maker.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <unistd.h>

#include "engine/llama_init.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"
#include "modelmaker/weights.h"

#ifndef KILN_DEFAULT_VOCAB_DIR
#define KILN_DEFAULT_VOCAB_DIR ""
#endif

namespace kiln::modelmaker {
namespace fs = std::filesystem;

namespace {

struct GgufDeleter {
    void operator()(gguf_context * c) const { gguf_free(c); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;

Error bad_spec(const std::string & msg, const std::string & param) {
    return make_error(ErrorCode::invalid_request, msg, param);
}

bool is_quantized(const std::string & type) { return type == "q8_0" || type == "q4_0"; }

}  // namespace

const std::vector<std::string> & known_vocabs() {
    static const std::vector<std::string> v = {"llama-spm", "llama-bpe", "qwen2", "gpt-2", "bert-bge"};
    return v;
}

const std::string & chatml_template() {
    static const std::string t =
        "{%- for message in messages -%}"
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";
    return t;
}

fs::path default_vocab_dir() {
    if (const char * env = std::getenv("KILN_VOCAB_DIR"); env && *env) return env;
    return KILN_DEFAULT_VOCAB_DIR;
}

Result<ModelSpec> normalize(ModelSpec s) {
    if (s.arch != "llama" && s.arch != "bert") return bad_spec("unknown arch '" + s.arch + "' (llama or bert)", "arch");
    if (s.type != "f32" && s.type != "f16" && !is_quantized(s.type)) {
        return bad_spec("unknown type '" + s.type + "' (f32, f16, q8_0 or q4_0)", "type");
    }
    if (s.n_embd <= 0 || s.n_layer <= 0 || s.n_head <= 0 || s.n_ctx <= 0 || s.n_head_kv < 0 || s.n_ff < 0) {
        return bad_spec("n_embd, n_layer, n_head and n_ctx must be positive", "shape");
    }
    if (s.n_head_kv == 0) s.n_head_kv = s.n_head;
    if (s.n_ff == 0) s.n_ff = s.arch == "bert" ? 4 * s.n_embd : ((8 * s.n_embd / 3 + 31) / 32) * 32;
    if (s.n_embd % s.n_head != 0) {
        return bad_spec("n_embd (" + std::to_string(s.n_embd) + ") must be divisible by n_head (" +
                            std::to_string(s.n_head) + ")", "n_head");
    }
    if (s.n_head % s.n_head_kv != 0) {
        return bad_spec("n_head (" + std::to_string(s.n_head) + ") must be divisible by n_head_kv (" +
                            std::to_string(s.n_head_kv) + ")", "n_head_kv");
    }
    if ((s.n_embd / s.n_head) % 2 != 0) return bad_spec("head size n_embd/n_head must be even (RoPE)", "n_head");
    if (is_quantized(s.type) && (s.n_embd % 32 != 0 || s.n_ff % 32 != 0)) {
        return bad_spec(s.type + " needs n_embd and n_ff to be multiples of 32", "type");
    }
    if (s.arch == "bert" && s.n_head_kv != s.n_head) return bad_spec("bert needs n_head_kv == n_head", "n_head_kv");
    if (s.reranker && s.arch != "bert") return bad_spec("a reranker needs --arch bert", "reranker");
    if (!s.chat_template) s.chat_template = s.arch == "llama" ? chatml_template() : "";
    if (s.name.empty()) {
        s.name = "kiln-test-" + s.arch + "-" + std::to_string(s.n_embd) + "x" + std::to_string(s.n_layer) + "-" + s.vocab +
                 "-" + s.type + "-s" + std::to_string(s.seed) + (s.reranker ? "-reranker" : "");
    }
    return s;
}

Result<fs::path> resolve_vocab(const std::string & vocab, const fs::path & vocab_dir) {
    std::error_code ec;
    if (vocab.size() > 5 && vocab.ends_with(".gguf")) {
        if (fs::is_regular_file(vocab, ec)) return fs::path(vocab);
        return bad_spec("vocab file not found: " + fs::path(vocab).filename().string(), "vocab");
    }
    fs::path p = vocab_dir / ("ggml-vocab-" + vocab + ".gguf");
    if (fs::is_regular_file(p, ec)) return p;
    std::string names;
    for (const auto & n : known_vocabs()) names += (names.empty() ? "" : ", ") + n;
    return bad_spec("unknown vocab '" + vocab + "' (try " + names + ", or a path to a .gguf vocab file)", "vocab");
}

namespace {

// Writes the architecture's hyperparameters and the copied tokenizer.
Status write_metadata(gguf_context * out, const gguf_context * vocab, const ModelSpec & s) {
    // Copy the vocab file's keys, then keep only the tokenizer (the vocab
    // files also carry their source model's general.* and hyperparameters).
    gguf_set_kv(out, vocab);
    for (int64_t i = gguf_get_n_kv(out) - 1; i >= 0; --i) {
        const std::string key = gguf_get_key(out, i);
        if (!key.starts_with("tokenizer.") || key == "tokenizer.chat_template") gguf_remove_key(out, key.c_str());
    }
    const int64_t tok_id = gguf_find_key(vocab, "tokenizer.ggml.tokens");
    if (tok_id < 0) return make_error(ErrorCode::invalid_request, "vocab file has no tokenizer.ggml.tokens", "vocab");

    const std::string a = s.arch;
    auto key = [&](const char * k) { return a + "." + k; };
    gguf_set_val_str(out, "general.architecture", a.c_str());
    gguf_set_val_str(out, "general.name", s.name.c_str());
    gguf_set_val_u32(out, "general.file_type", s.type == "f32" ? LLAMA_FTYPE_ALL_F32 : LLAMA_FTYPE_MOSTLY_F16);
    gguf_set_val_u32(out, key("context_length").c_str(), s.n_ctx);
    gguf_set_val_u32(out, key("embedding_length").c_str(), s.n_embd);
    gguf_set_val_u32(out, key("block_count").c_str(), s.n_layer);
    gguf_set_val_u32(out, key("feed_forward_length").c_str(), s.n_ff);
    gguf_set_val_u32(out, key("attention.head_count").c_str(), s.n_head);
    gguf_set_val_u32(out, key("attention.head_count_kv").c_str(), s.n_head_kv);
    gguf_set_val_u32(out, key("vocab_size").c_str(), static_cast<uint32_t>(gguf_get_arr_n(vocab, tok_id)));
    if (a == "llama") {
        gguf_set_val_u32(out, key("rope.dimension_count").c_str(), s.n_embd / s.n_head);
        gguf_set_val_f32(out, key("rope.freq_base").c_str(), 10000.0f);
        gguf_set_val_f32(out, key("attention.layer_norm_rms_epsilon").c_str(), 1e-5f);
    } else {
        gguf_set_val_f32(out, key("attention.layer_norm_epsilon").c_str(), 1e-12f);
        gguf_set_val_bool(out, key("attention.causal").c_str(), false);
        // CLS pooling as bge; rank pooling (a score from the classification head) for rerankers.
        gguf_set_val_u32(out, key("pooling_type").c_str(), s.reranker ? 4 : 2);
        if (gguf_find_key(out, "tokenizer.ggml.token_type_count") < 0) {
            gguf_set_val_u32(out, "tokenizer.ggml.token_type_count", 2);
        }
    }
    if (!s.chat_template->empty()) gguf_set_val_str(out, "tokenizer.chat_template", s.chat_template->c_str());
    return {};
}

std::string temp_name(const fs::path & out, const char * what) {
    return out.string() + "." + what + "." + std::to_string(::getpid()) + ".tmp";
}

}  // namespace

Status make_model(const ModelSpec & spec_in, const fs::path & vocab_dir, const fs::path & out, int threads) {
    auto spec = normalize(spec_in);
    if (!spec) return spec.error();
    const ModelSpec & s = *spec;
    auto vocab_path = resolve_vocab(s.vocab, vocab_dir);
    if (!vocab_path) return vocab_path.error();

    gguf_init_params vp{/*no_alloc=*/true, /*ctx=*/nullptr};
    GgufPtr          vocab(gguf_init_from_file(vocab_path->c_str(), vp));
    if (!vocab) return make_error(ErrorCode::invalid_request, "cannot read vocab file " + vocab_path->filename().string(), "vocab");

    GgufPtr gguf(gguf_init_empty());
    if (Status st = write_metadata(gguf.get(), vocab.get(), s); !st) return st;
    const int64_t n_vocab = static_cast<int64_t>(gguf_get_arr_n(vocab.get(), gguf_find_key(vocab.get(), "tokenizer.ggml.tokens")));

    const bool     f32_out = s.type == "f32";
    const fs::path stage   = f32_out ? fs::path(temp_name(out, "partial")) : fs::path(temp_name(out, "f32"));
    std::error_code ec;
    if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);

    {
        TensorSet tensors = make_tensors(s, n_vocab);
        for (const auto & t : tensors.list()) gguf_add_tensor(gguf.get(), t);
        if (!gguf_write_to_file(gguf.get(), stage.c_str(), false)) {
            fs::remove(stage, ec);
            return make_error(ErrorCode::io, "cannot write " + out.filename().string());
        }
    }

    fs::path final_stage = stage;
    if (!f32_out) {
        engine::init_llama();
        final_stage                        = temp_name(out, "partial");
        llama_model_quantize_params qp     = llama_model_quantize_default_params();
        qp.nthread                         = threads;
        qp.ftype = s.type == "f16" ? LLAMA_FTYPE_MOSTLY_F16 : s.type == "q8_0" ? LLAMA_FTYPE_MOSTLY_Q8_0 : LLAMA_FTYPE_MOSTLY_Q4_0;
        const uint32_t rc = llama_model_quantize(stage.c_str(), final_stage.c_str(), &qp);
        fs::remove(stage, ec);
        if (rc != 0) {
            fs::remove(final_stage, ec);
            return make_error(ErrorCode::internal, "quantizing to " + s.type + " failed");
        }
    }
    fs::rename(final_stage, out, ec);
    if (ec) {
        fs::remove(final_stage, ec);
        return make_error(ErrorCode::io, "cannot write " + out.filename().string());
    }
    return {};
}

}  // namespace kiln::modelmaker
