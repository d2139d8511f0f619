// kiln run MODEL [PROMPT]: one-shot chat, in-process, streamed to stdout.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <unistd.h>

#include "backend/llama_backend.h"
#include "cli/commands.h"
#include "cli/model_arg.h"
#include "core/log.h"

namespace kiln::cli {
namespace {

struct RunOptions {
    std::string              model;
    std::string              prompt;
    std::string              system;
    int32_t                  ctx_size = 0;
    int32_t                  threads  = 0;
    std::string              flash_attn = "auto";
    bool                     verbose  = false;
    backend::ChatRequest     request;
    uint32_t                 seed     = 0;
};

int run(RunOptions & o, CLI::App & cmd) {
    if (!o.verbose) log::set_level(log::Level::error);
    if (o.prompt.empty() && !isatty(STDIN_FILENO)) {
        o.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    if (o.prompt.empty()) {
        std::fprintf(stderr, "kiln run: give a prompt as an argument or on stdin (the interactive chat comes later)\n");
        return usage;
    }
    if (cmd.count("--seed") > 0) o.request.params.sampling.seed = o.seed;

    auto resolved = resolve_llama(o.model);
    if (!resolved) {
        std::fprintf(stderr, "kiln run: %s\n", resolved.error().message.c_str());
        return failure;
    }
    backend::LlamaOptions opts = std::move(*resolved);
    if (o.ctx_size > 0 || opts.n_ctx == 0) opts.n_ctx = o.ctx_size;
    if (o.threads > 0 || opts.n_threads == 0) opts.n_threads = o.threads;
    opts.flash_attn = *engine::parse_flash_attn(o.flash_attn);  // checked by the flag
    auto backend    = backend::LlamaBackend::create(opts);
    if (!backend) {
        std::fprintf(stderr, "kiln run: %s\n", backend.error().message.c_str());
        return failure;
    }

    if (!o.system.empty()) o.request.messages.push_back({"system", o.system});
    o.request.messages.push_back({"user", o.prompt});
    auto channel = (*backend)->submit(std::move(o.request));
    if (!channel) {
        std::fprintf(stderr, "kiln run: %s\n", channel.error().message.c_str());
        return failure;
    }
    for (;;) {
        auto ev = (*channel)->pop(std::chrono::milliseconds(1000));
        if (!ev) continue;
        if (ev->kind == backend::Event::Kind::delta) {
            std::fwrite(ev->text.data(), 1, ev->text.size(), stdout);
            std::fflush(stdout);
            continue;
        }
        std::fputc('\n', stdout);
        std::fflush(stdout);
        if (ev->kind == backend::Event::Kind::error) {
            std::fprintf(stderr, "kiln run: %s\n", ev->error.message.c_str());
            return failure;
        }
        if (o.verbose) {
            const auto & u = ev->usage;
            const auto & t = ev->timings;
            std::fprintf(stderr, "prompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | finish: %s\n",
                         u.prompt_tokens, t.prompt_ms > 0 ? 1000.0 * u.prompt_tokens / t.prompt_ms : 0.0,
                         u.completion_tokens, t.generation_ms > 0 ? 1000.0 * u.completion_tokens / t.generation_ms : 0.0,
                         backend::finish_reason_name(ev->finish));
        }
        return ok;
    }
}

}  // namespace

void add_run(CLI::App & app, int & exit_code) {
    auto   opts = std::make_shared<RunOptions>();
    auto * cmd  = app.add_subcommand("run", "Chat once with a model file, streaming the answer to stdout");
    auto & s    = opts->request.params.sampling;
    cmd->add_option("model", opts->model, "GGUF file, or a name from 'kiln list'")->required();
    cmd->add_option("prompt", opts->prompt, "the message (default: read stdin)");
    cmd->add_option("--system", opts->system, "system message");
    cmd->add_option("-n,--max-tokens", opts->request.params.max_tokens, "tokens to generate at most (-1: no limit)")
        ->capture_default_str();
    cmd->add_option("--temperature,--temp", s.temperature, "sampling temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
    cmd->add_option("--top-p", s.top_p, "nucleus sampling (1: off)")->capture_default_str();
    cmd->add_option("--min-p", s.min_p, "drop tokens below min-p times the top one (0: off)")->capture_default_str();
    cmd->add_option("--repeat-penalty", s.repeat_penalty, "penalty for repeated tokens (1: off)")->capture_default_str();
    cmd->add_option("--repeat-last-n", s.repeat_last_n, "tokens the penalties look back on")->capture_default_str();
    cmd->add_option("--presence-penalty", s.presence_penalty, "penalty for tokens present so far")->capture_default_str();
    cmd->add_option("--frequency-penalty", s.frequency_penalty, "penalty by token frequency")->capture_default_str();
    cmd->add_option("--seed", opts->seed, "seed for sampling (default: random)");
    cmd->add_option("--stop", opts->request.params.stop, "stop string (repeatable)");
    cmd->add_option("-c,--ctx-size", opts->ctx_size, "context size (0: the model's, up to 32768)")->capture_default_str();
    cmd->add_option("-t,--threads", opts->threads, "CPU threads (0: one per core)")->capture_default_str();
    cmd->add_option("--flash-attn", opts->flash_attn, "auto, on or off (auto: llama.cpp decides; on for CPU)")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    cmd->add_flag("--ignore-eos", opts->request.params.ignore_eos, "keep generating past end-of-sequence (benchmarks)");
    cmd->add_flag("--verbose", opts->verbose, "log loading and print token counts and speed");
    cmd->footer("Examples:\n"
                "  kiln run model.gguf \"Write a haiku\" --seed 42\n"
                "  echo \"Summarize this\" | kiln run model.gguf --temperature 0");
    cmd->callback([opts, cmd, &exit_code] { exit_code = run(*opts, *cmd); });
}

}  // namespace kiln::cli
