// kiln run: chat with a model. With a prompt (or text on stdin) it answers
// once and exits; on a terminal without one it opens the interactive chat.
// Either way it goes to a running kiln server when one answers at
// server.host:server.port (the model stays loaded between runs), else it
// loads the model in this process.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <unistd.h>

#include "cli/chat_client.h"
#include "cli/commands.h"
#include "cli/repl.h"
#include "cli/server_address.h"
#include "core/config.h"
#include "core/log.h"
#include "core/paths.h"

namespace kiln::cli {
namespace {

struct RunOptions {
    std::string  model;
    std::string  prompt;
    std::string  system;
    ChatSettings chat;
    float        temperature = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f, presence = 0, frequency = 0;
    int32_t      top_k = 40, repeat_last_n = 64;
    uint32_t     seed     = 0;
    int32_t      ctx_size = 0;
    int32_t      threads  = 0;
    std::string  flash_attn = "auto";
    std::string  url;
    bool         local      = false;
    bool         verbose    = false;
    bool         nowordwrap = false;
};

// Flags given on the command line are sampling the request sets; others
// are left to the model's (or preset's) defaults.
void take_sampling(RunOptions & o, CLI::App & cmd) {
    auto & s   = o.chat.sampling;
    auto   put = [&](const char * flag, const char * field, double v) {
        if (cmd.count(flag) == 0) return;
        for (const auto & f : engine::sampling_fields()) {
            if (std::string(f.name) == field) engine::set_sampling(s, f, v);
        }
    };
    put("--temperature", "temperature", o.temperature);
    put("--top-k", "top_k", o.top_k);
    put("--top-p", "top_p", o.top_p);
    put("--min-p", "min_p", o.min_p);
    put("--repeat-penalty", "repeat_penalty", o.repeat_penalty);
    put("--repeat-last-n", "repeat_last_n", o.repeat_last_n);
    put("--presence-penalty", "presence_penalty", o.presence);
    put("--frequency-penalty", "frequency_penalty", o.frequency);
    if (cmd.count("--seed") > 0) s.seed = o.seed;
}

// A server that answers, for a model given by name; else the model here.
Result<std::unique_ptr<ChatClient>> open_client(const RunOptions & o, const std::string & model) {
    std::error_code ec;
    const bool      file = std::filesystem::is_regular_file(model, ec);
    if (!o.local && !file) {
        const ServerAddress at = server_address(o.url);
        if (auto c = connect_server(at.url, at.api_key, model)) return c;
    }
    if (!o.verbose) log::set_level(log::Level::error);
    return load_local(model, o.ctx_size, o.threads, *engine::parse_flash_attn(o.flash_attn), o.verbose);
}

int run(RunOptions & o, CLI::App & cmd) {
    take_sampling(o, cmd);
    const bool color = std::getenv("NO_COLOR") == nullptr || !*std::getenv("NO_COLOR");
    const bool interactive = o.prompt.empty() && isatty(STDIN_FILENO);
    if (o.prompt.empty() && !interactive) {
        o.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (o.prompt.empty()) {
            std::fprintf(stderr, "kiln run: stdin was empty; give a prompt as an argument or on stdin\n");
            return usage;
        }
    }
    auto client = open_client(o, o.model);
    if (!client) {
        std::fprintf(stderr, "kiln run: %s\n", client.error().message.c_str());
        return failure;
    }
    if (!interactive) {
        std::vector<engine::ChatMessage> messages;
        if (!o.system.empty()) messages.emplace_back("system", o.system);
        messages.emplace_back("user", o.prompt);
        return answer_once(**client, messages, o.chat, o.verbose, !o.nowordwrap, color);
    }
    ReplOptions r;
    r.home     = paths::home();
    r.system   = o.system;
    r.settings = o.chat;
    r.verbose  = o.verbose;
    r.wrap     = !o.nowordwrap;
    r.color    = color;
    const ClientFactory open = [&o](const std::string & model) { return open_client(o, model); };
    return run_repl(std::move(*client), std::move(r), open);
}

}  // namespace

void add_run(CLI::App & app, int & exit_code) {
    auto   opts = std::make_shared<RunOptions>();
    auto * cmd  = app.add_subcommand("run", "Chat with a model: once with a prompt, else interactively");
    cmd->add_option("model", opts->model, "a name from 'kiln list', a preset, or a GGUF file")->required();
    cmd->add_option("prompt", opts->prompt, "the message (default: read stdin, or chat interactively on a terminal)");
    cmd->add_option("--system", opts->system, "system message");
    cmd->add_option("-n,--max-tokens", opts->chat.max_tokens, "tokens to generate at most (-1: no limit)")->capture_default_str();
    cmd->add_option("--temperature,--temp", opts->temperature, "sampling temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--top-k", opts->top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
    cmd->add_option("--top-p", opts->top_p, "nucleus sampling (1: off)")->capture_default_str();
    cmd->add_option("--min-p", opts->min_p, "drop tokens below min-p times the top one (0: off)")->capture_default_str();
    cmd->add_option("--repeat-penalty", opts->repeat_penalty, "penalty for repeated tokens (1: off)")->capture_default_str();
    cmd->add_option("--repeat-last-n", opts->repeat_last_n, "tokens the penalties look back on")->capture_default_str();
    cmd->add_option("--presence-penalty", opts->presence, "penalty for tokens present so far")->capture_default_str();
    cmd->add_option("--frequency-penalty", opts->frequency, "penalty by token frequency")->capture_default_str();
    cmd->add_option("--seed", opts->seed, "seed for sampling (default: random)");
    cmd->add_option("--stop", opts->chat.stop, "stop string (repeatable)");
    cmd->add_option("-c,--ctx-size", opts->ctx_size, "context size when loaded here (0: the model's, up to 32768)")->capture_default_str();
    cmd->add_option("-t,--threads", opts->threads, "CPU threads when loaded here (0: one per core)")->capture_default_str();
    cmd->add_option("--flash-attn", opts->flash_attn, "auto, on or off (auto: off on a CPU for contexts up to a 1 GiB score buffer, where it decodes faster; else on)")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    cmd->add_option("--url", opts->url, "the kiln server to use (default: server.host:server.port, env KILN_URL)");
    cmd->add_flag("--local", opts->local, "load the model in this process even when a server answers");
    cmd->add_flag("--nowordwrap", opts->nowordwrap, "do not wrap answers at the terminal's width");
    cmd->add_flag("--ignore-eos", opts->chat.ignore_eos, "keep generating past end-of-sequence (benchmarks)");
    cmd->add_flag("--verbose", opts->verbose, "log loading; print token counts, speed and time to first token");
    cmd->footer("Examples:\n"
                "  kiln run org/repo:Q4_K_M                 # chat (/help inside for commands)\n"
                "  kiln run model.gguf \"Write a haiku\" --seed 42\n"
                "  echo \"Summarize this\" | kiln run mymodel --temperature 0\n"
                "  kiln run mymodel --local                 # not through a running server");
    cmd->callback([opts, cmd, &exit_code] { exit_code = run(*opts, *cmd); });
}

}  // namespace kiln::cli
