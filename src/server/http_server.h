// HTTP front door: binds, routes requests to the API adapters and backends,
// streams responses. Handlers run on cpp-httplib's worker threads; they only
// talk to the backend through submit() and Channels.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "backend/types.h"
#include "core/result.h"
#include "router/router.h"
#include "server/access.h"
#include "server/openai_routes.h"
#include "server/store_routes.h"

namespace httplib {
class Server;
}

namespace kiln::server {

struct ServerOptions {
    std::string                 host = "127.0.0.1";
    int                         port = 11434;  // 0: any free port
    std::optional<StoreOptions> store;         // model management routes (/api/pull)
    AccessOptions               access;        // keys, Host and Origin checks
};

class HttpServer {
  public:
    // `list_models`: every model a client may name, for /v1/models.
    HttpServer(router::Router & router, ModelLister list_models, ServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer &) = delete;
    HttpServer & operator=(const HttpServer &) = delete;

    // Binds the listening socket; returns the port actually bound.
    Result<int> bind();
    // Serves until stop(); call after bind(), from one thread.
    Status run();
    // Stops accepting and returns once in-flight handlers ended. Any thread.
    void stop();

  private:
    void register_routes();

    router::Router &                 router_;
    ModelLister                      list_models_;
    ServerOptions                    options_;
    std::unique_ptr<httplib::Server> http_;
    std::atomic<bool>                stop_requested_{false};
};

}  // namespace kiln::server
