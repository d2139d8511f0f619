// The kiln server a command talks to (kiln ps, load, unload, run).
#pragma once

#include <string>

namespace kiln::cli {

struct ServerAddress {
    std::string url;      // http://host:port
    std::string api_key;  // the first of server.api_key's keys; empty: none
};

// `url` when given, else $KILN_URL, else server.host:server.port (flag >
// env > config file `config_path`, default the usual one), a wildcard host
// meaning loopback. The settings are read once.
ServerAddress server_address(const std::string & url, const std::string & config_path = {});

}  // namespace kiln::cli
