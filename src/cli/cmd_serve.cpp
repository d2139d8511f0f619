// kiln serve: load one model and serve the HTTP APIs until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <algorithm>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

#include "backend/llama_backend.h"
#include "backend/proxy_backend.h"
#include "cli/commands.h"
#include "cli/model_arg.h"
#include "cli/settings_flags.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/units.h"
#include "core/utf8.h"
#include "router/backend_loader.h"
#include "router/resolver.h"
#include "server/http_server.h"

namespace kiln::cli {
namespace {

// 80% of the memory available now (MemAvailable), leaving the rest to the
// system and to kiln itself.
uint64_t default_memory_budget() {
    std::ifstream in("/proc/meminfo");
    std::string   key;
    uint64_t      kib = 0;
    std::string   unit;
    while (in >> key >> kib >> unit) {
        if (key == "MemAvailable:") return kib * 1024 / 5 * 4;
    }
    return uint64_t{4} << 30;
}

// The HTTP server's connection caps and deadlines.
Result<server::ConnectionLimits> connection_limits(const Settings & settings) {
    server::ConnectionLimits l;
    auto count = [&](const char * key, int32_t lo, int32_t & out) -> Status {
        KILN_TRY(int64_t v, settings.get_int(key));
        if (v < lo || v > 1000000) {
            return make_error(ErrorCode::invalid_request, fmt::format("{} must be between {} and 1000000, got {}", key, lo, v));
        }
        out = static_cast<int32_t>(v);
        return {};
    };
    auto seconds = [&](const char * key, std::chrono::milliseconds & out) -> Status {
        KILN_TRY(int64_t v, settings.get_int(key));
        if (v < 1 || v > 86400) return make_error(ErrorCode::invalid_request, fmt::format("{} is seconds, 1 to 86400, got {}", key, v));
        out = std::chrono::seconds(v);
        return {};
    };
    KILN_CHECK(count("server.max_connections", 1, l.max_total));
    KILN_CHECK(count("server.max_client_connections", 1, l.max_per_client));
    KILN_CHECK(seconds("server.header_timeout", l.header_timeout));
    KILN_CHECK(seconds("server.body_timeout", l.body_timeout));
    KILN_CHECK(seconds("server.idle_timeout", l.idle_timeout));
    KILN_CHECK(seconds("server.send_timeout", l.send_timeout));
    return l;
}

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
    auto ctx      = settings->get_int("model.ctx_size");
    auto slot_ctx = settings->get_int("model.slot_ctx");
    auto slots    = settings->get_int("model.slots");
    auto queue    = settings->get_int("model.max_queue");
    auto threads  = settings->get_int("model.threads");
    auto batch    = settings->get_int("model.batch_size");
    auto port     = settings->get_int("server.port");
    auto cache    = settings->get_int("model.cache_ram");
    auto budget   = settings->get_int("router.memory_budget");
    auto rate     = settings->get_int("server.rate_limit");
    auto tokens   = settings->get_int("server.token_limit");
    auto max_mods = settings->get_int("router.max_models");
    for (const auto * r : {&ctx, &slot_ctx, &slots, &queue, &threads, &batch, &port, &cache, &budget, &max_mods, &rate, &tokens}) {
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
        log::error("model.cache_ram is MiB: -1 (a share of the memory budget), 0 (off) or more, got {}", *cache);
        return usage;
    }
    if (*budget < 0 || *budget > int64_t{1} << 40 || *max_mods < 1 || *max_mods > 64) {
        log::error("router.memory_budget is MiB (0: automatic) and router.max_models between 1 and 64 (got {}, {})",
                   *budget, *max_mods);
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
    auto kv         = engine::parse_kv_type(settings->get("model.kv_type"));
    if (!kv) {
        log::error("model.kv_type: {}", kv.error().message);
        return usage;
    }
    opts.kv_type    = *kv;
    auto keep_alive = router::parse_keep_alive(settings->get("router.keep_alive"), "router.keep_alive");
    if (!keep_alive) {
        log::error("{}", keep_alive.error().message);
        return usage;
    }
    // Who may connect: keys, and no open non-loopback listener by accident.
    server::AccessOptions access;
    auto keys = server::load_api_keys(settings->get("server.api_key"), settings->get("server.api_keys_file"));
    if (!keys) {
        log::error("{}", keys.error().message);
        return usage;
    }
    access.api_keys      = std::move(*keys);
    access.allowed_hosts = utf8::split_list(settings->get("server.allowed_hosts"));
    access.cors_origins  = utf8::split_list(settings->get("server.cors_origins"));
    access.loopback_bind = server::loopback_host(settings->get("server.host"));
    if (*rate < 0 || *rate > 1000000) {
        log::error("server.rate_limit is requests per minute, 0 to 1000000, got {}", *rate);
        return usage;
    }
    access.rate_limit = static_cast<int32_t>(*rate);
    if (*tokens < 0 || *tokens > 1000000000) {
        log::error("server.token_limit is tokens per minute, 0 to 1000000000, got {}", *tokens);
        return usage;
    }
    access.token_limit = static_cast<int32_t>(*tokens);
    auto limits = connection_limits(*settings);
    if (!limits) {
        log::error("{}", limits.error().message);
        return usage;
    }
    std::vector<std::pair<std::string, int>> also;
    for (const auto & item : utf8::split_list(settings->get("server.listen"))) {
        const size_t colon = item.rfind(':');
        std::string  host  = colon == std::string::npos ? settings->get("server.host") : item.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        const std::string port_text = colon == std::string::npos ? item : item.substr(colon + 1);
        int               p         = -1;
        auto [end, ec]              = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || p < 0 || p > 65535 || host.empty()) {
            log::error("server.listen takes host:port or port entries, got '{}'", item);
            return usage;
        }
        also.emplace_back(host, p);
        if (!server::loopback_host(host)) access.loopback_bind = false;  // for the key check below
    }
    const std::string insecure = settings->get("server.insecure");
    if (insecure != "true" && insecure != "false" && insecure != "1" && insecure != "0") {
        log::error("server.insecure must be true or false, got '{}'", insecure);
        return usage;
    }
    if (!access.loopback_bind && access.api_keys.empty() && insecure != "true" && insecure != "1") {
        std::string where = settings->get("server.host");
        for (const auto & [host, p] : also) {
            if (!server::loopback_host(host)) where = host;
        }
        log::error("refusing to listen on {} without an API key: anyone who can reach this machine could use its "
                   "models and pull files onto it. Set --api-key (or KILN_API_KEY, or --api-keys-file), or pass "
                   "--insecure if that is what you want", where);
        return usage;
    }

    // The default model: --model (a preset, a GGUF path or a catalog name), else the demo model.
    router::RouterOptions ro;
    ro.memory_budget = *budget > 0 ? static_cast<uint64_t>(*budget) << 20 : default_memory_budget();
    ro.max_models    = static_cast<int32_t>(*max_mods);
    ro.keep_alive    = *keep_alive;
    // The prompt caches of all loaded models together: at most a quarter of the budget.
    if (opts.cache_ram_mib < 0) {
        const uint64_t share = ro.memory_budget / 4 / static_cast<uint64_t>(ro.max_models);
        opts.cache_ram_mib   = static_cast<int64_t>(std::min(share, backend::default_host_cache_bytes()) >> 20);
    }
    auto presets = router::parse_presets(settings->presets(), opts, settings->file_name());
    if (!presets) {
        log::error("{}", presets.error().message);
        return usage;
    }

    std::vector<router::ModelSpec> fixed;
    const std::string model_arg = settings->get("server.model");
    const std::string alias     = settings->get("server.alias");
    const bool is_preset = std::any_of(presets->begin(), presets->end(), [&](const router::Preset & p) { return p.name == model_arg; });
    if (is_preset) {
        ro.default_model = model_arg;
    } else if (!model_arg.empty()) {
        auto model = resolve_model(model_arg);
        if (!model) {
            log::error("{}", model.error().message);
            return usage;
        }
        if (model->name.empty() || !alias.empty()) {
            auto spec = router::spec_for_path(model->path, !alias.empty() ? alias : model->name, opts);
            if (!spec) {
                log::error("{}", spec.error().message);
                return usage;
            }
            fixed.push_back(std::move(*spec));
            ro.default_model = fixed.back().id;
        } else {
            ro.default_model = model->name;
        }
    } else if (std::error_code ec; std::filesystem::exists(paths::demo_model(), ec)) {
        auto spec = router::spec_for_path(paths::demo_model(), alias, opts);
        if (spec) {
            fixed.push_back(std::move(*spec));
            ro.default_model = fixed.back().id;
        }
    }
    router::CatalogResolver resolver(paths::home(), opts, std::move(*presets), std::move(fixed));
    router::BackendLoader   loader;
    router::Router          models(resolver, loader, ro);
    log::info("memory budget {} for loaded models, at most {} at once; idle models unload after {}",
              format_bytes(static_cast<double>(ro.memory_budget)), ro.max_models, router::format_keep_alive(ro.keep_alive));
    std::string served;
    if (!ro.default_model.empty()) {
        // Named on the command line: loaded now and kept (other models come and go on demand).
        router::Ask forever;
        forever.keep_alive = router::KeepAlive::forever();
        auto loaded        = models.load(ro.default_model, forever);
        if (!loaded) {
            log::error("{}", loaded.error().message);
            return failure;
        }
        served = loaded->id;
    } else {
        log::info("no default model (pass --model, or make the demo model): requests must name one from 'kiln list'");
    }

    auto list_models = [&resolver, &models] {
        std::vector<backend::ModelInfo> out;
        auto loaded = models.loaded();
        auto listed = resolver.list();
        for (const auto & l : listed ? *listed : std::vector<router::CatalogResolver::Listing>{}) {
            backend::ModelInfo mi;
            for (const auto & m : loaded) {
                if (m.id == l.id && !m.loading) mi = m.info;
            }
            if (mi.id.empty()) {
                mi.id          = l.id;
                mi.created     = l.created;
                mi.size_bytes  = l.size;
                mi.n_ctx_train = l.n_ctx_train;
                mi.arch        = l.arch;
                mi.quant       = l.quant;
                mi.n_params    = l.n_params;
                mi.embedding   = l.embedding;
            }
            out.push_back(std::move(mi));
        }
        return out;
    };

    server::HttpServer http(models, list_models, {settings->get("server.host"), static_cast<int>(*port),
                                                  server::StoreOptions{paths::home(), store::HfOptions::from_env()},
                                                  std::move(access), std::move(also), *limits});
    auto bound = http.bind();
    if (!bound) {
        log::error("{}", bound.error().message);
        return failure;
    }

    // The signal mask (set above) routes SIGINT/SIGTERM here. The first
    // starts a clean shutdown on a thread of its own, so that a second one
    // still lands here: it exits at once, runners killed first.
    int         stop_signal = 0;
    std::thread stopper;
    std::thread signals([&] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);  // our own wake-up when run() ends otherwise
        sigwait(&set, &stop_signal);
        if (stop_signal == SIGUSR1) return;
        const char * name = stop_signal == SIGINT ? "SIGINT" : "SIGTERM";
        log::info("{} received, shutting down (again to exit at once)", name);
        stopper = std::thread([&] {
            models.shutdown();
            http.stop();
        });
        int again = 0;
        sigwait(&set, &again);
        if (again == SIGUSR1) return;
        log::warn("{} again: exiting now", again == SIGINT ? "SIGINT" : "SIGTERM");
        backend::kill_all_runners();
        std::fflush(nullptr);
        std::_Exit(128 + again);
    });

    const auto        urls = http.urls();
    const std::string url  = urls.front();
    std::string       all;
    for (const auto & u : urls) all += (all.empty() ? "" : ", ") + u;
    const std::string & id = served;
    std::printf("kiln: serving %s, listening on %s\n", id.empty() ? "models on demand" : id.c_str(), all.c_str());
    if (!id.empty()) {
        std::printf("try: curl %s/v1/chat/completions -H 'Content-Type: application/json' "
                    "-d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"stream\":true}'\n",
                    url.c_str(), id.c_str());
    }
    std::fflush(stdout);
    Status st = http.run();
    pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
    if (stopper.joinable()) stopper.join();
    if (!st) {
        log::error("{}", st.error().message);
        return failure;
    }
    log::info("stopped");
    return ok;
}

}  // namespace

void add_serve(CLI::App & app, int & exit_code) {
    auto * cmd   = app.add_subcommand("serve", "Serve models over HTTP: any catalog model loads on demand");
    auto   flags = std::make_shared<SettingsFlags>();
    flags->add(*cmd, "server.host", "--host", "address to listen on", "HOST");
    flags->add(*cmd, "server.port", "-p,--port", "port to listen on (0 picks a free one)", "INT");
    flags->add(*cmd, "server.model", "-m,--model",
               "the default model, loaded at start: a preset, GGUF file or catalog name (default: the demo model); "
               "others load on demand", "MODEL");
    flags->add(*cmd, "server.alias", "-a,--alias", "model id clients use (default: file name)", "NAME");
    flags->add(*cmd, "model.ctx_size", "-c,--ctx-size",
               "KV pool in tokens per model, shared by its requests (0: the trained context if the memory budget allows, else the most that fits)", "INT");
    flags->add(*cmd, "model.slot_ctx", "--slot-ctx", "context of one request (0: the whole pool)", "INT");
    flags->add(*cmd, "model.slots", "--slots,--parallel", "requests decoded together", "INT");
    flags->add(*cmd, "model.max_queue", "--max-queue", "requests that may wait; more get 503", "INT");
    flags->add(*cmd, "model.threads", "-t,--threads", "CPU threads (0: one per core)", "INT");
    flags->add(*cmd, "model.batch_size", "-b,--batch-size", "prompt tokens per decode step", "INT");
    flags->add(*cmd, "model.cache_ram", "--cache-ram",
               "MiB of host memory for cached prompts moved out of the KV pool (-1: a quarter of the memory budget over max_models, at most 8192; 0: off)",
               "MIB");
    flags->add(*cmd, "model.flash_attn", "--flash-attn", "auto, on or off (auto: off on a CPU for contexts up to a 1 GiB score buffer, where it decodes faster; else on)",
               "MODE");
    flags->add(*cmd, "model.kv_type", "--kv-type", "KV cache type: f16, q8_0, q4_0, ... (quantized needs flash attention)",
               "TYPE");
    flags->add(*cmd, "router.memory_budget", "--memory-budget",
               "MiB all loaded models may take together (0: 80% of the memory available at start)", "MIB");
    flags->add(*cmd, "router.max_models", "--max-models", "models loaded at once", "INT");
    flags->add(*cmd, "router.keep_alive", "--keep-alive",
               "how long an idle model stays loaded (5m, 1h, seconds; 0: unload when idle; -1: forever)", "DURATION");
    flags->add(*cmd, "server.listen", "--listen", "more addresses to serve on: host:port or port, comma-separated",
               "ADDRS");
    flags->add(*cmd, "server.api_key", "--api-key", "API keys clients must send (comma-separated)", "KEYS");
    flags->add(*cmd, "server.api_keys_file", "--api-keys-file", "a file of API keys, one a line", "PATH");
    flags->add(*cmd, "server.rate_limit", "--rate-limit", "requests per minute per API key or client address (0: none)",
               "INT");
    flags->add(*cmd, "server.token_limit", "--token-limit",
               "tokens (prompt and generated) per minute per API key or client address (0: none)", "INT");
    flags->add(*cmd, "server.max_connections", "--max-connections",
               "open HTTP connections per listening address; more are answered 503", "INT");
    flags->add(*cmd, "server.max_client_connections", "--max-client-connections",
               "open HTTP connections of one client address; more are answered 503", "INT");
    flags->add(*cmd, "server.header_timeout", "--header-timeout", "seconds a client has to send a request's headers", "SECONDS");
    flags->add(*cmd, "server.body_timeout", "--body-timeout", "seconds a client has to send a request's body", "SECONDS");
    flags->add(*cmd, "server.idle_timeout", "--idle-timeout", "seconds a connection may wait for its next request",
               "SECONDS");
    flags->add(*cmd, "server.send_timeout", "--send-timeout",
               "seconds a client may read nothing of its answer before it is dropped (its generation cancelled)", "SECONDS");
    flags->add(*cmd, "server.allowed_hosts", "--allowed-hosts", "Host names answered besides loopback ones", "HOSTS");
    flags->add(*cmd, "server.cors_origins", "--cors-origins", "browser origins allowed besides loopback ones (* for any)",
               "ORIGINS");
    cmd->add_flag_callback("--insecure", [flags] { flags->values["server.insecure"] = "true"; },
                           "listen on a non-loopback address without an API key");
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
