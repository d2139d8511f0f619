#include <cstdio>

#include "cli/commands.h"
#include "core/log.h"
#include "core/process_stats.h"
#include "version.h"

int main(int argc, char ** argv) {
    kiln::limit_allocator_retention();
    CLI::App app{"kiln: run, serve and manage local LLMs", "kiln"};
    app.set_version_flag("-v,--version", std::string("kiln ") + KILN_VERSION);
    app.require_subcommand(1);
    app.footer("Examples:\n"
               "  kiln serve --model model.gguf --port 8080\n"
               "  kiln run model.gguf \"Why is the sky blue?\"\n"
               "Run 'kiln COMMAND --help' for a command's options.");
    int exit_code = kiln::cli::ok;
    kiln::cli::add_serve(app, exit_code);
    kiln::cli::add_run(app, exit_code);
    kiln::cli::add_bench(app, exit_code);
    kiln::cli::add_models(app, exit_code);
    kiln::cli::add_pull(app, exit_code);
    kiln::cli::add_ps(app, exit_code);
    kiln::cli::add_config(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError & e) {
        return app.exit(e) == 0 ? 0 : kiln::cli::usage;
    }
    return exit_code;
}
