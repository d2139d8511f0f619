// kiln bench: load levels against an OpenAI-compatible server; a table on a
// terminal, JSON with --json.
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/bench.h"
#include "cli/commands.h"

namespace kiln::cli {
namespace {

struct BenchOptions {
    bench::Scenario      scenario;
    std::vector<int32_t> levels = {1};
    bool                 json   = false;
};

nlohmann::json to_json(const bench::LevelResult & r) {
    auto pct = [](const bench::Percentiles & p) {
        return nlohmann::json{{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"mean", p.mean}};
    };
    return {{"concurrency", r.concurrency},     {"requests", r.requests},          {"failed", r.failed},
            {"seconds", r.seconds},             {"output_tokens", r.output_tokens}, {"prompt_tokens", r.prompt_tokens},
            {"cached_tokens", r.cached_tokens}, {"ttft_ms", pct(r.ttft_ms)},        {"itl_ms", pct(r.itl_ms)},
            {"output_tokens_per_s", r.output_tps}, {"requests_per_s", r.requests_ps}, {"client_cpu_cores", r.client_cpu},
            {"first_error", r.first_error}};
}

int bench_main(BenchOptions & o) {
    auto & sc = o.scenario;
    if (sc.salt.empty()) sc.salt = "run-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    if (sc.multi_turn) o.levels = {sc.users};

    nlohmann::json out = nlohmann::json::array();
    const bool     tty = isatty(STDOUT_FILENO) && !o.json;
    if (!o.json) {
        std::printf("%-6s %5s %6s %9s %9s %9s %9s %10s %8s %7s %6s\n", "conc", "reqs", "failed", "ttft p50",
                    "ttft p99", "itl p50", "itl p99", "out tok/s", "req/s", "cached", "cpu");
    }
    int failures = 0;
    for (int32_t level : o.levels) {
        sc.concurrency = level;
        if (tty) std::fprintf(stderr, "running concurrency %d...\r", level);
        const bench::LevelResult r = bench::run(sc);
        failures += r.failed;
        if (o.json) {
            out.push_back(to_json(r));
            continue;
        }
        const double cached = r.prompt_tokens > 0 ? 100.0 * static_cast<double>(r.cached_tokens) / static_cast<double>(r.prompt_tokens) : 0.0;
        std::printf("%-6d %5d %6d %7.0fms %7.0fms %7.1fms %7.1fms %10.1f %8.2f %6.0f%% %6.2f\n", r.concurrency,
                    r.requests, r.failed, r.ttft_ms.p50, r.ttft_ms.p99, r.itl_ms.p50, r.itl_ms.p99, r.output_tps,
                    r.requests_ps, cached, r.client_cpu);
        if (!r.first_error.empty()) std::fprintf(stderr, "first error: %s\n", r.first_error.c_str());
        std::fflush(stdout);
    }
    if (o.json) std::printf("%s\n", out.dump(2).c_str());
    return failures > 0 ? failure : ok;
}

}  // namespace

void add_bench(CLI::App & app, int & exit_code) {
    auto   opts = std::make_shared<BenchOptions>();
    auto & sc   = opts->scenario;
    auto * cmd  = app.add_subcommand("bench", "Load-test an OpenAI-compatible server (kiln, llama-server, ...)");
    cmd->add_option("--url", sc.url, "server base URL (without /v1)")->capture_default_str();
    cmd->add_option("-m,--model", sc.model, "model name to send");
    cmd->add_option("--api-key", sc.api_key, "sent as Authorization: Bearer");
    cmd->add_option("-c,--concurrency", opts->levels, "concurrent clients, one level per value (1,4,8)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-n,--requests", sc.requests, "requests per level (0: 4 x concurrency)")->capture_default_str();
    cmd->add_option("-p,--prompt-tokens", sc.prompt_tokens, "prompt length, in about-one-token words")
        ->capture_default_str();
    cmd->add_option("-g,--gen-tokens", sc.gen_tokens, "tokens to generate (EOS ignored)")->capture_default_str();
    cmd->add_option("--shared-prefix", sc.shared_prefix, "tokens every prompt (or conversation) starts with")
        ->capture_default_str();
    cmd->add_flag("--multi-turn", sc.multi_turn, "conversations: each turn resends the history plus a new message");
    cmd->add_option("--users", sc.users, "multi-turn: concurrent conversations")->capture_default_str();
    cmd->add_option("--turns", sc.turns, "multi-turn: turns per conversation")->capture_default_str();
    cmd->add_option("--salt", sc.salt, "text that makes this run's prompts unique (default: the time)");
    cmd->add_flag("--json", opts->json, "print the results as JSON");
    cmd->footer("Columns: time to first token and inter-token latency (p50/p99), output tokens/s over the level's\n"
                "wall time, requests/s, share of prompt tokens served from the server's prefix cache, and the\n"
                "load generator's own CPU use in cores (it competes with the server on small machines).\n"
                "Examples:\n"
                "  kiln bench --url http://127.0.0.1:11434 -c 1,4,8 -p 200 -g 128\n"
                "  kiln bench --multi-turn --users 8 --turns 6 --shared-prefix 1000 -p 50 -g 64 --json");
    cmd->callback([opts, &exit_code] { exit_code = bench_main(*opts); });
}

}  // namespace kiln::cli
