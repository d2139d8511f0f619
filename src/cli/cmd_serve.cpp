// kiln serve: load one model and serve the HTTP APIs until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <thread>

#include "backend/llama_backend.h"
#include "cli/commands.h"
#include "cli/model_arg.h"
#include "cli/settings_flags.h"
#include "core/log.h"
#include "core/paths.h"
#include "server/http_server.h"

namespace kiln::cli {
namespace {

int serve(const SettingsFlags & flags) {
    // SIGINT/SIGTERM are taken with sigwait below. Blocking them before any
    // thread starts makes every thread inherit the mask, so none is
    // interrupted at random. (Other commands keep the default: a signal ends
    // the process.)
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGUSR1);  // our own wake-up
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);

    auto settings = flags.resolve();
    if (!settings) {
        log::error("{}", settings.error().message);
        return usage;
    }
    log::Level level;
    if (!log::parse_level(settings->get("log.level"), level)) {
        log::error("log.level must be debug, info, warn or error, got '{}'", settings->get("log.level"));
        return usage;
    }
    log::set_level(level);

    backend::LlamaOptions opts;
    opts.model_path = settings->get("server.model");
    if (opts.model_path.empty()) {
        opts.model_path = paths::demo_model();
        std::error_code ec;
        if (!std::filesystem::exists(opts.model_path, ec)) {
            log::error("no model to serve: pass --model PATH (or set KILN_MODEL), or create the demo model with "
                       "'make serve' (it would be at {})", opts.model_path.string());
            return usage;
        }
    } else {
        auto model = resolve_model(opts.model_path.string());
        if (!model) {
            log::error("{}", model.error().message);
            return usage;
        }
        opts.model_path = model->path;
        opts.alias      = model->name;  // the catalog name, unless --alias says otherwise
    }
    if (!settings->get("server.alias").empty()) opts.alias = settings->get("server.alias");
    auto ctx      = settings->get_int("model.ctx_size");
    auto slot_ctx = settings->get_int("model.slot_ctx");
    auto slots    = settings->get_int("model.slots");
    auto queue    = settings->get_int("model.max_queue");
    auto threads  = settings->get_int("model.threads");
    auto batch    = settings->get_int("model.batch_size");
    auto port     = settings->get_int("server.port");
    auto cache    = settings->get_int("model.cache_ram");
    for (const auto * r : {&ctx, &slot_ctx, &slots, &queue, &threads, &batch, &port, &cache}) {
        if (!*r) {
            log::error("{}", r->error().message);
            return usage;
        }
    }
    if (*port < 0 || *port > 65535) {
        log::error("server.port must be between 0 and 65535, got {}", *port);
        return usage;
    }
    if (*ctx < 0 || *slot_ctx < 0 || *threads < 0 || *batch < 1 || *ctx > 1 << 24 || *threads > 1024 ||
        *batch > 1 << 16) {
        log::error("model.ctx_size, model.slot_ctx and model.threads must be >= 0 and model.batch_size >= 1 "
                   "(got {}, {}, {}, {})", *ctx, *slot_ctx, *threads, *batch);
        return usage;
    }
    if (*slots < 1 || *slots > 128 || *queue < 0) {
        log::error("model.slots must be between 1 and 128 and model.max_queue >= 0 (got {}, {})", *slots, *queue);
        return usage;
    }
    if (*cache < -1 || *cache > int64_t{1} << 30) {
        log::error("model.cache_ram is MiB: -1 (a quarter of RAM, at most 8192), 0 (off) or more, got {}", *cache);
        return usage;
    }
    opts.cache_ram_mib = *cache;
    opts.n_ctx     = static_cast<int32_t>(*ctx);
    opts.n_ctx_seq = static_cast<int32_t>(*slot_ctx);
    opts.slots     = static_cast<int32_t>(*slots);
    opts.max_queue = static_cast<int32_t>(*queue);
    opts.n_threads = static_cast<int32_t>(*threads);
    opts.n_batch   = static_cast<int32_t>(*batch);
    auto fa        = engine::parse_flash_attn(settings->get("model.flash_attn"));
    if (!fa) {
        log::error("model.flash_attn must be auto, on or off, got '{}'", settings->get("model.flash_attn"));
        return usage;
    }
    opts.flash_attn = *fa;

    auto backend = backend::LlamaBackend::create(opts);
    if (!backend) {
        log::error("{}", backend.error().message);
        return failure;
    }

    server::HttpServer http(**backend, {settings->get("server.host"), static_cast<int>(*port),
                                        server::StoreOptions{paths::home(), store::HfOptions::from_env()}});
    auto bound = http.bind();
    if (!bound) {
        log::error("{}", bound.error().message);
        return failure;
    }

    // The signal mask (set above) routes SIGINT/SIGTERM here.
    int  stop_signal = 0;
    std::thread signals([&] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);  // our own wake-up when run() ends otherwise
        sigwait(&set, &stop_signal);
        if (stop_signal != SIGUSR1) log::info("{} received, shutting down", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        (*backend)->shutdown();
        http.stop();
    });

    const std::string url = "http://" + settings->get("server.host") + ":" + std::to_string(*bound);
    const std::string & id = (*backend)->info().id;
    std::printf("kiln: serving %s, listening on %s\n", id.c_str(), url.c_str());
    std::printf("try: curl %s/v1/chat/completions -H 'Content-Type: application/json' "
                "-d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"stream\":true}'\n",
                url.c_str(), id.c_str());
    std::fflush(stdout);
    Status st = http.run();
    pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
    if (!st) {
        log::error("{}", st.error().message);
        return failure;
    }
    log::info("stopped");
    return ok;
}

}  // namespace

void add_serve(CLI::App & app, int & exit_code) {
    auto * cmd   = app.add_subcommand("serve", "Serve a model over the OpenAI-compatible HTTP API");
    auto   flags = std::make_shared<SettingsFlags>();
    flags->add(*cmd, "server.host", "--host", "address to listen on", "HOST");
    flags->add(*cmd, "server.port", "-p,--port", "port to listen on (0 picks a free one)", "INT");
    flags->add(*cmd, "server.model", "-m,--model", "GGUF file or catalog name to serve (default: the demo model)", "MODEL");
    flags->add(*cmd, "server.alias", "-a,--alias", "model id clients use (default: file name)", "NAME");
    flags->add(*cmd, "model.ctx_size", "-c,--ctx-size",
               "KV pool in tokens, shared by all requests (0: the model's context, up to 32768)", "INT");
    flags->add(*cmd, "model.slot_ctx", "--slot-ctx", "context of one request (0: the whole pool)", "INT");
    flags->add(*cmd, "model.slots", "--slots,--parallel", "requests decoded together", "INT");
    flags->add(*cmd, "model.max_queue", "--max-queue", "requests that may wait; more get 503", "INT");
    flags->add(*cmd, "model.threads", "-t,--threads", "CPU threads (0: one per core)", "INT");
    flags->add(*cmd, "model.batch_size", "-b,--batch-size", "prompt tokens per decode step", "INT");
    flags->add(*cmd, "model.cache_ram", "--cache-ram",
               "MiB of host memory for cached prompts moved out of the KV pool (-1: a quarter of RAM, at most 8192; 0: off)",
               "MIB");
    flags->add(*cmd, "model.flash_attn", "--flash-attn", "auto, on or off (auto: llama.cpp decides; on for CPU)",
               "MODE");
    flags->add(*cmd, "log.level", "--log-level", "debug, info, warn or error", "LEVEL");
    cmd->add_option("--config", flags->config_path, "config file (default: $KILN_CONFIG or ~/.config/kiln/config.toml)")
        ->type_name("PATH");
    cmd->footer("Settings: flag > KILN_* env > config file > default.\n"
                "Examples:\n"
                "  kiln serve --model tiny.gguf --port 8080\n"
                "  KILN_PORT=0 kiln serve --model tiny.gguf   # any free port, printed on start");
    cmd->callback([flags, &exit_code] { exit_code = serve(*flags); });
}

}  // namespace kiln::cli
