// kiln-make-model: writes a deterministic GGUF test model (see
// src/modelmaker/model_maker.h). Same arguments, same bytes.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "core/paths.h"
#include "modelmaker/model_maker.h"

namespace {

// The model `make serve` starts with when KILN_HOME has none: big enough to
// feel like a model (qwen2 vocab, real ChatML tokens), small enough to make
// in seconds and answer fast on two cores.
kiln::modelmaker::ModelSpec demo_spec() {
    kiln::modelmaker::ModelSpec s;
    s.vocab     = "qwen2";
    s.n_embd    = 256;
    s.n_layer   = 4;
    s.n_head    = 4;
    s.n_head_kv = 2;
    s.n_ctx     = 4096;
    s.type      = "q8_0";
    s.name      = "kiln-demo";
    return s;
}

}  // namespace

int main(int argc, char ** argv) {
    using kiln::modelmaker::ModelSpec;
    ModelSpec   spec;
    std::string out;
    std::string vocab_dir = kiln::modelmaker::default_vocab_dir().string();
    std::string template_text;
    std::string template_file;
    bool        no_template = false;
    bool        demo        = false;
    int         threads     = 0;

    CLI::App app{"Write a deterministic GGUF test model with random weights and a real tokenizer.\n"
                 "Same arguments give a byte-identical file.",
                 "kiln-make-model"};
    app.footer("Examples:\n"
               "  kiln-make-model -o tiny.gguf\n"
               "  kiln-make-model --demo\n"
               "  kiln-make-model --vocab qwen2 --n-embd 256 --n-layer 4 --type q8_0 -o demo.gguf\n"
               "  kiln-make-model --arch bert --vocab bert-bge --n-embd 128 -o embed.gguf\n"
               "  kiln-make-model --arch bert --vocab bert-bge --reranker -o rerank.gguf");
    auto * out_opt = app.add_option("-o,--output", out, "output .gguf file");
    auto * demo_opt = app.add_flag("--demo", demo,
                                   "write the demo model kiln serves by default into $KILN_HOME, unless it is there");
    out_opt->excludes(demo_opt);
    app.add_option("--arch", spec.arch, "llama (chat) or bert (embeddings)")->capture_default_str();
    app.add_option("--vocab", spec.vocab, "llama-spm, llama-bpe, qwen2, gpt-2, bert-bge, ... or a vocab .gguf path")
        ->capture_default_str();
    app.add_option("--vocab-dir", vocab_dir, "folder of llama.cpp's ggml-vocab-*.gguf files (env KILN_VOCAB_DIR)");
    app.add_option("--n-embd", spec.n_embd, "embedding size")->capture_default_str();
    app.add_option("--n-layer", spec.n_layer, "number of layers")->capture_default_str();
    app.add_option("--n-head", spec.n_head, "attention heads")->capture_default_str();
    app.add_option("--n-head-kv", spec.n_head_kv, "KV heads (0: same as --n-head)")->capture_default_str();
    app.add_option("--n-ff", spec.n_ff, "feed-forward size (0: derived from --n-embd)")->capture_default_str();
    app.add_option("--ctx", spec.n_ctx, "trained context length")->capture_default_str();
    app.add_option("--seed", spec.seed, "seed of the random weights")->capture_default_str();
    app.add_option("--type", spec.type, "f32, f16, q8_0 or q4_0")->capture_default_str();
    app.add_option("--name", spec.name, "general.name (default: derived from the arguments)");
    auto * tt = app.add_option("--chat-template", template_text, "Jinja chat template (default: ChatML for llama)");
    auto * tf = app.add_option("--chat-template-file", template_file, "read the chat template from a file");
    std::string template_of;
    auto *      to = app.add_option("--chat-template-of", template_of,
                                    "a real model's template from llama.cpp's models/templates (e.g. Qwen-Qwen2.5-7B-Instruct, "
                                    "Qwen-Qwen3-0.6B): tool calls and thinking in that model's format");
    app.add_flag("--no-chat-template", no_template, "write no chat template");
    app.add_flag("--reranker", spec.reranker, "bert: add a classification head and rank pooling (for /v1/rerank)");
    app.add_option("-t,--threads", threads, "threads for quantization (does not change the output)");
    tt->excludes(tf);
    to->excludes(tt);
    to->excludes(tf);
    CLI11_PARSE(app, argc, argv);

    if (demo) {
        const auto path = kiln::paths::demo_model();
        std::error_code ec;
        if (std::filesystem::exists(path, ec)) {
            std::printf("%s (exists)\n", path.c_str());
            return 0;
        }
        spec = demo_spec();
        out  = path.string();
        std::fprintf(stderr, "kiln-make-model: writing the demo model to %s\n", out.c_str());
    } else if (out.empty()) {
        std::fprintf(stderr, "kiln-make-model: --output is required (or --demo); see --help\n");
        return 2;
    }

    if (!template_of.empty()) {
        const auto dir = vocab_dir.empty() ? kiln::modelmaker::default_vocab_dir() : std::filesystem::path(vocab_dir);
        template_file  = (dir / "templates" / (template_of + ".jinja")).string();
    }
    if (no_template) spec.chat_template = "";
    else if (!template_text.empty()) spec.chat_template = template_text;
    else if (!template_file.empty()) {
        std::FILE * f = std::fopen(template_file.c_str(), "rb");
        if (!f) {
            std::fprintf(stderr, "kiln-make-model: cannot read %s\n", template_file.c_str());
            return 2;
        }
        std::string text;
        char        buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
        std::fclose(f);
        spec.chat_template = text;
    }

    if (kiln::Status st = kiln::modelmaker::make_model(spec, vocab_dir, out, threads); !st) {
        std::fprintf(stderr, "kiln-make-model: %s\n", st.error().message.c_str());
        return st.error().code == kiln::ErrorCode::invalid_request ? 2 : 1;
    }
    std::printf("%s\n", out.c_str());
    return 0;
}
