// kiln serve: load one model and serve the HTTP APIs until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "api/openai_upstream.h"
#include "backend/proxy_backend.h"
#include "cli/commands.h"
#include "cli/serve_options.h"
#include "cli/settings_flags.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/units.h"
#include "router/backend_loader.h"

namespace kiln::cli {
namespace {

// SIGINT/SIGTERM are taken with sigwait (StopOnSignal). Blocking them before
// any thread starts makes every thread inherit the mask, so none is
// interrupted at random. (Other commands keep the default: a signal ends the
// process.)
void block_stop_signals(sigset_t & set) {
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);  // our own wake-up when run() ends otherwise
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// The first SIGINT/SIGTERM starts a clean shutdown on a thread of its own,
// so that a second one still lands here: it exits at once, runners killed
// first. It listens as long as it lives: keep it while the models unload
// (a runner that ignores SIGTERM is waited for up to its stop_timeout).
class StopOnSignal {
  public:
    StopOnSignal(const sigset_t & set, router::Router & models, server::HttpServer & http)
        : waiter_([this, set, &models, &http] {
              int first = 0;
              sigwait(&set, &first);
              if (first == SIGUSR1) return;
              log::info("{} received, shutting down (again to exit at once)", first == SIGINT ? "SIGINT" : "SIGTERM");
              {
                  std::lock_guard lock(mutex_);
                  if (!closed_) {
                      stopping_ = true;
                      stopper_  = std::thread([this, &models, &http] {
                          models.shutdown();
                          http.stop();
                          std::lock_guard l(mutex_);
                          stopped_ = true;
                          cv_.notify_all();
                      });
                  }
              }
              int again = 0;
              sigwait(&set, &again);
              if (again == SIGUSR1) return;
              log::warn("{} again: exiting now", again == SIGINT ? "SIGINT" : "SIGTERM");
              backend::kill_all_runners();
              std::fflush(nullptr);
              std::_Exit(128 + again);
          }) {}
    ~StopOnSignal() {
        pthread_kill(waiter_.native_handle(), SIGUSR1);
        waiter_.join();
        if (stopper_.joinable()) stopper_.join();
    }
    // Once the server's run() returned: a shutdown a signal started has
    // finished, and no other starts (the router and the server may go).
    void close() {
        std::unique_lock lock(mutex_);
        closed_ = true;
        cv_.wait(lock, [&] { return !stopping_ || stopped_; });
    }

  private:
    std::mutex              mutex_;
    std::condition_variable cv_;
    bool                    closed_   = false;
    bool                    stopping_ = false;
    bool                    stopped_  = false;
    std::thread             stopper_;  // set by the waiter; joined after it
    std::thread             waiter_;   // last: started once the rest is ready
};

// Every model a client may name, with the loaded ones' details.
std::vector<backend::ModelInfo> list_models(router::CatalogResolver & resolver, router::Router & models) {
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
}

void print_banner(const std::vector<std::string> & urls, const std::string & id) {
    std::string all;
    for (const auto & u : urls) all += (all.empty() ? "" : ", ") + u;
    std::printf("kiln: serving %s, listening on %s\n", id.empty() ? "models on demand" : id.c_str(), all.c_str());
    if (!id.empty()) {
        std::printf("try: curl %s/v1/chat/completions -H 'Content-Type: application/json' "
                    "-d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"stream\":true}'\n",
                    urls.front().c_str(), id.c_str());
    }
    std::fflush(stdout);
}

int serve(const SettingsFlags & flags) {
    sigset_t stop_signals;
    block_stop_signals(stop_signals);
    auto settings = flags.resolve();
    auto o        = settings ? serve_options(*settings) : Result<ServeOptions>(settings.error());
    if (!o) {
        log::error("{}", o.error().message);
        return usage;
    }
    log::set_level(o->log_level);
    router::CatalogResolver resolver(paths::home(), o->llama, std::move(o->presets), std::move(o->fixed));
    router::BackendLoader   loader(api::openai::chat_codec());
    auto                    models = std::make_unique<router::Router>(resolver, loader, o->router);
    log::info("memory budget {} for loaded models, at most {} at once; idle models unload after {}",
              format_bytes(static_cast<double>(o->router.memory_budget)), o->router.max_models,
              router::format_keep_alive(o->router.keep_alive));
    std::string served;
    if (!o->router.default_model.empty()) {
        // Named on the command line: loaded now and kept (other models come and go on demand).
        router::Ask forever;
        forever.keep_alive = router::KeepAlive::forever();
        auto loaded        = models->load(o->router.default_model, forever);
        if (!loaded) {
            log::error("{}", loaded.error().message);
            return failure;
        }
        served = loaded->id;
    } else {
        log::info("no default model (pass --model, or make the demo model): requests must name one from 'kiln list'");
    }
    o->server.store = server::StoreOptions{paths::home(), store::HfOptions::from_env()};
    auto http = std::make_unique<server::HttpServer>(
        *models, [&resolver, &models = *models] { return list_models(resolver, models); }, std::move(o->server));
    if (auto bound = http->bind(); !bound) {
        log::error("{}", bound.error().message);
        return failure;
    }
    StopOnSignal stop(stop_signals, *models, *http);
    print_banner(http->urls(), served);
    Status st = http->run();
    stop.close();
    http.reset();
    models.reset();  // unloads every model, stopping runners, while a second signal still exits at once
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
    flags->add_all(*cmd);
    cmd->footer("Settings: flag > KILN_* env > config file > default.\n"
                "Examples:\n"
                "  kiln serve --model tiny.gguf --port 8080\n"
                "  KILN_PORT=0 kiln serve --model tiny.gguf   # any free port, printed on start");
    cmd->callback([flags, &exit_code] { exit_code = serve(*flags); });
}

}  // namespace kiln::cli
