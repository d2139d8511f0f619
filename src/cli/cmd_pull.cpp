// kiln pull REF | kiln search QUERY: models from Hugging Face.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/paths.h"
#include "core/units.h"
#include "store/catalog.h"
#include "store/hf_client.h"
#include "store/puller.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_interrupt(int sig) {
    g_cancel.store(true);
    std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// A progress bar that redraws one line on a terminal, and prints a line per
// quarter when piped.
class Progress {
  public:
    Progress(std::string label, bool tty) : label_(std::move(label)), tty_(tty) {}
    void update(const store::PullEvent & p) {
        if (p.resumed && !said_resumed_) {
            said_resumed_ = true;
            if (tty_) {
                label_ += " (resumed)";
            } else {
                std::printf("%s: resuming an earlier partial download\n", label_.c_str());
            }
        }
        const int pct = p.total ? static_cast<int>(100 * p.completed / p.total) : 0;
        if (tty_) {
            constexpr int width = 24;
            const int     fill  = pct * width / 100;
            std::string   bar(static_cast<size_t>(fill), '#');
            bar.append(static_cast<size_t>(width - fill), '.');
            const double left = p.bytes_per_second > 0 ? static_cast<double>(p.total - p.completed) / p.bytes_per_second : 0;
            std::printf("\r\033[K%s %3d%% [%s] %s/%s %s/s ETA %ds", label_.c_str(), pct, bar.c_str(),
                        format_bytes(static_cast<double>(p.completed)).c_str(), format_bytes(static_cast<double>(p.total)).c_str(),
                        format_bytes(p.bytes_per_second).c_str(), static_cast<int>(left));
            std::fflush(stdout);
        } else if (pct / 25 > last_quarter_) {
            last_quarter_ = pct / 25;
            std::printf("%s: %d%% (%s of %s)\n", label_.c_str(), pct, format_bytes(static_cast<double>(p.completed)).c_str(),
                        format_bytes(static_cast<double>(p.total)).c_str());
            std::fflush(stdout);
        }
    }
    void end() {
        if (tty_) std::printf("\r\033[K");
    }

  private:
    std::string label_;
    bool        tty_;
    int         last_quarter_ = 0;
    bool        said_resumed_ = false;
};

int pull(const std::string & text) {
    auto catalog = store::Catalog::open(paths::home());
    if (!catalog) {
        std::fprintf(stderr, "kiln pull: %s\n", catalog.error().message.c_str());
        return failure;
    }
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    auto opts   = store::HfOptions::from_env();
    opts.cancel = &g_cancel;
    store::HfClient hf(opts);
    const bool      tty = isatty(STDOUT_FILENO);

    std::unique_ptr<Progress> bar;
    using Kind = store::PullEvent::Kind;
    auto name  = store::pull_model(**catalog, hf, text, [&](const store::PullEvent & e) {
        switch (e.kind) {
            case Kind::manifest:
            case Kind::chose: std::printf("%s\n", e.message.c_str()); break;
            case Kind::file_start:
                bar = std::make_unique<Progress>(e.file, tty);
                if (!tty) std::printf("downloading %s (%s)\n", e.file.c_str(), format_bytes(static_cast<double>(e.total)).c_str());
                break;
            case Kind::file_progress:
                if (bar) bar->update(e);
                break;
            case Kind::file_done:
                if (bar) bar->end();
                bar.reset();
                std::printf("%s: %s\n", e.file.c_str(), e.digest.empty() ? "done (no sha256 published)" : "verified sha256");
                break;
            case Kind::up_to_date: std::printf("%s: up to date\n", e.file.c_str()); break;
            case Kind::writing: break;
            case Kind::success: std::printf("pulled %s\n", e.name.c_str()); break;
        }
        std::fflush(stdout);
    });
    if (bar) bar->end();
    if (!name) {
        std::fprintf(stderr, "kiln pull: %s\n", name.error().message.c_str());
        switch (name.error().code) {
            case ErrorCode::cancelled:       return interrupted;
            case ErrorCode::invalid_request: return usage;
            default:                         return failure;
        }
    }
    return ok;
}

int search(const std::string & query, const std::string & author, int limit, const std::string & sort, bool json) {
    store::HfClient hf(store::HfOptions::from_env());
    auto hits = hf.search(query, author, limit, sort);
    if (!hits) {
        std::fprintf(stderr, "kiln search: %s\n", hits.error().message.c_str());
        return failure;
    }
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto & h : *hits) {
            out.push_back({{"name", h.id}, {"downloads", h.downloads}, {"likes", h.likes},
                           {"pipeline_tag", h.pipeline_tag}, {"updated", h.updated}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return ok;
    }
    if (hits->empty()) {
        std::printf("no GGUF models match '%s'\n", query.c_str());
        return ok;
    }
    size_t w = 4;
    for (const auto & h : *hits) w = std::max(w, h.id.size());
    std::printf("%-*s  %10s  %6s  %-16s  %s\n", static_cast<int>(w), "NAME", "DOWNLOADS", "LIKES", "PIPELINE", "UPDATED");
    for (const auto & h : *hits) {
        std::printf("%-*s  %10llu  %6llu  %-16s  %s\n", static_cast<int>(w), h.id.c_str(),
                    static_cast<unsigned long long>(h.downloads), static_cast<unsigned long long>(h.likes),
                    h.pipeline_tag.c_str(), h.updated.substr(0, 10).c_str());
    }
    return ok;
}

}  // namespace

void add_pull(CLI::App & app, int & exit_code) {
    {
        auto * cmd = app.add_subcommand("pull", "Download a GGUF model from Hugging Face (resumes, verifies sha256)");
        auto   ref = std::make_shared<std::string>();
        cmd->add_option("REF", *ref, "org/repo[:QUANT], hf.co/org/repo[:QUANT] or org/repo/file.gguf")->required();
        cmd->footer("Examples:\n  kiln pull bartowski/Qwen2.5-0.5B-Instruct-GGUF\n  kiln pull hf.co/org/repo:Q8_0\n\nEnv: HF_ENDPOINT (a mirror), HF_TOKEN (gated or private repos).");
        cmd->callback([&exit_code, ref] { exit_code = pull(*ref); });
    }
    {
        auto * cmd    = app.add_subcommand("search", "Search Hugging Face for GGUF models");
        auto   query  = std::make_shared<std::string>();
        auto   author = std::make_shared<std::string>();
        auto   limit  = std::make_shared<int>(20);
        auto   sort   = std::make_shared<std::string>("downloads");
        auto   json   = std::make_shared<bool>(false);
        cmd->add_option("QUERY", *query, "words in the model name");
        cmd->add_option("--author", *author, "only this org or user");
        cmd->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000))->capture_default_str();
        cmd->add_option("--sort", *sort, "downloads, likes or updated")
            ->check(CLI::IsMember({"downloads", "likes", "updated"}))
            ->capture_default_str();
        cmd->add_flag("--json", *json, "JSON");
        cmd->callback([&exit_code, query, author, limit, sort, json] {
            exit_code = search(*query, *author, *limit, *sort, *json);
        });
    }
}

}  // namespace kiln::cli
