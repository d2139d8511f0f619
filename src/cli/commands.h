// Subcommands of the kiln binary. Each add_* registers its options on the
// app and returns the exit code through the callback it installs.
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::cli {

// Exit codes scripts can rely on.
enum Exit : int { ok = 0, failure = 1, usage = 2, interrupted = 130 };

void add_serve(CLI::App & app, int & exit_code);
void add_run(CLI::App & app, int & exit_code);
void add_bench(CLI::App & app, int & exit_code);
// list, show, rm, cp, import
void add_models(CLI::App & app, int & exit_code);
// pull, search (Hugging Face)
void add_pull(CLI::App & app, int & exit_code);
// ps, load, unload (a running server)
void add_ps(CLI::App & app, int & exit_code);
// config: the settings in effect and their sources
void add_config(CLI::App & app, int & exit_code);

}  // namespace kiln::cli
