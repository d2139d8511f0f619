#include "cli/server_address.h"

#include <cstdlib>

#include "core/config.h"
#include "core/paths.h"

namespace kiln::cli {

ServerAddress server_address(const std::string & url, const std::string & config_path) {
    ServerAddress out;
    auto          s = Settings::load(config_path.empty() ? paths::config_file().string() : config_path);
    if (s) {
        const std::string keys = s->get("server.api_key");
        out.api_key            = keys.substr(0, keys.find(','));
    }
    if (!url.empty()) {
        out.url = url;
    } else if (const char * e = std::getenv("KILN_URL"); e && *e) {
        out.url = e;
    } else {
        std::string       host = s ? s->get("server.host") : "127.0.0.1";
        const std::string port = s ? s->get("server.port") : "11434";
        if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
        if (host == "::") host = "::1";
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        out.url = "http://" + host + ":" + port;
    }
    return out;
}

}  // namespace kiln::cli
