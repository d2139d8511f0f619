// kiln ps | load | unload: the models a running server holds, asked over its
// HTTP API (GET /api/ps, POST /api/v1/models/load and /unload).
#include <chrono>
#include <cstdio>

#include <cpp-httplib/httplib.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/server_address.h"
#include "core/config.h"
#include "core/paths.h"
#include "core/units.h"

namespace kiln::cli {
namespace {

using json = nlohmann::json;

struct ServerArgs {
    std::string url;  // empty: from server.host / server.port (flag > env > config file)
    std::string config_path;
};

// The JSON answer of one call, or an error message for a person.
struct Reply {
    json        body;
    std::string error;
};

Reply call(const ServerArgs & a, const std::string & method, const std::string & route, const json & body = {}) {
    const ServerAddress at  = server_address(a.url, a.config_path);
    const std::string & url = at.url;
    httplib::Client   http(url);
    http.set_connection_timeout(5);
    http.set_read_timeout(600);  // a load may take minutes
    httplib::Headers headers;
    if (!at.api_key.empty()) headers.emplace("Authorization", "Bearer " + at.api_key);
    auto res = method == "GET" ? http.Get(route, headers) : http.Post(route, headers, body.dump(), "application/json");
    if (!res) return {{}, "no kiln server at " + url + " (" + httplib::to_string(res.error()) + "); start one with 'kiln serve'"};
    json j = json::parse(res->body, nullptr, false);
    if (res->status != 200) {
        std::string msg = "HTTP " + std::to_string(res->status);
        if (j.is_object() && j.contains("error")) {
            const auto & e = j["error"];
            msg = e.is_object() ? e.value("message", msg) : e.is_string() ? e.get<std::string>() : msg;
        }
        return {{}, msg};
    }
    return {std::move(j), {}};
}

int fail(const std::string & message) {
    std::fprintf(stderr, "kiln: %s\n", message.c_str());
    return failure;
}

std::string until(const json & m) {
    const std::string keep = m["kiln"].value("keep_alive", "");
    if (keep == "forever") return "forever";
    if (m["kiln"].value("active_requests", 0) > 0) return "busy";
    const std::string at = m.value("expires_at", "");
    // RFC 3339 UTC: compare against now.
    std::tm tm{};
    if (!strptime(at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return at;
    const auto left = timegm(&tm) - std::time(nullptr);
    if (left <= 0) return "now";
    if (left < 90) return std::to_string(left) + " seconds from now";
    if (left < 5400) return std::to_string((left + 30) / 60) + " minutes from now";
    return std::to_string((left + 1800) / 3600) + " hours from now";
}

int ps(const ServerArgs & a, bool as_json) {
    Reply r = call(a, "GET", "/api/ps");
    if (!r.error.empty()) return fail(r.error);
    const auto & models = r.body["models"];
    if (as_json) {
        std::printf("%s\n", models.dump(2).c_str());
        return ok;
    }
    if (models.empty()) {
        std::printf("no models loaded\n");
        return ok;
    }
    size_t w = 4;
    for (const auto & m : models) w = std::max(w, m.value("name", "").size());
    std::printf("%-*s  %9s  %8s  %6s  %8s  %s\n", static_cast<int>(w), "NAME", "SIZE", "CONTEXT", "SLOTS", "REQUESTS",
                "UNTIL");
    for (const auto & m : models) {
        const auto & k       = m["kiln"];
        const bool   loading = k.value("state", "") == "loading";
        const std::string slots =
            k.value("slots", 0) > 0 ? std::to_string(k.value("slots_busy", 0)) + "/" + std::to_string(k.value("slots", 0)) : "-";
        std::printf("%-*s  %9s  %8d  %6s  %8d  %s\n", static_cast<int>(w), m.value("name", "").c_str(),
                    format_bytes(m.value("size", 0.0)).c_str(), m.value("context_length", 0), slots.c_str(),
                    k.value("active_requests", 0), loading ? "loading" : until(m).c_str());
    }
    return ok;
}

int load(const ServerArgs & a, const std::string & name, const std::string & keep_alive) {
    json body = {{"model", name}};
    if (!keep_alive.empty()) body["keep_alive"] = keep_alive;
    Reply r = call(a, "POST", "/api/v1/models/load", body);
    if (!r.error.empty()) return fail(r.error);
    std::printf("loaded %s (context %d tokens) in %.1f s\n", r.body.value("instance_id", name).c_str(),
                r.body.value("context_length", 0), r.body.value("load_time_seconds", 0.0));
    return ok;
}

int unload(const ServerArgs & a, const std::string & name) {
    Reply r = call(a, "POST", "/api/v1/models/unload", {{"instance_id", name}});
    if (!r.error.empty()) return fail(r.error);
    std::printf("unloaded %s\n", r.body.value("instance_id", name).c_str());
    return ok;
}

void add_server_args(CLI::App & cmd, ServerArgs & a) {
    cmd.add_option("--url", a.url, "the server (default: http://server.host:server.port, 127.0.0.1:11434)")
        ->type_name("URL");
    cmd.add_option("--config", a.config_path, "config file for server.host / server.port")->type_name("PATH");
}

}  // namespace

void add_ps(CLI::App & app, int & exit_code) {
    {
        auto * cmd  = app.add_subcommand("ps", "Show the models a running server has loaded");
        auto   args = std::make_shared<ServerArgs>();
        auto   js   = std::make_shared<bool>(false);
        add_server_args(*cmd, *args);
        cmd->add_flag("--json", *js, "JSON (Ollama's /api/ps items) instead of a table");
        cmd->callback([args, js, &exit_code] { exit_code = ps(*args, *js); });
    }
    {
        auto * cmd  = app.add_subcommand("load", "Load a model on a running server (and keep it for --keep-alive)");
        auto   args = std::make_shared<ServerArgs>();
        auto   name = std::make_shared<std::string>();
        auto   keep = std::make_shared<std::string>();
        add_server_args(*cmd, *args);
        cmd->add_option("model", *name, "a name from 'kiln list' or a preset")->required();
        cmd->add_option("--keep-alive", *keep, "how long it stays once idle: 5m, 1h, seconds, -1 (forever)")
            ->type_name("DURATION");
        cmd->callback([args, name, keep, &exit_code] { exit_code = load(*args, *name, *keep); });
    }
    {
        auto * cmd  = app.add_subcommand("unload", "Unload a model from a running server (after its requests finish)");
        auto   args = std::make_shared<ServerArgs>();
        auto   name = std::make_shared<std::string>();
        add_server_args(*cmd, *args);
        cmd->add_option("model", *name, "a loaded model")->required();
        cmd->callback([args, name, &exit_code] { exit_code = unload(*args, *name); });
    }
}

}  // namespace kiln::cli
