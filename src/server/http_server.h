// HTTP front door: binds, routes requests to the API adapters and backends,
// streams responses. Handlers run on cpp-httplib's worker threads; they only
// talk to the backend through submit() and Channels.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/types.h"
#include "core/result.h"
#include "router/router.h"
#include "server/access.h"
#include "server/connection_limits.h"
#include "server/responses_routes.h"
#include "server/openai_routes.h"
#include "server/store_routes.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

struct ServerOptions {
    std::string                 host = "127.0.0.1";
    int                         port = 11434;  // 0: any free port
    std::optional<StoreOptions> store;         // model management routes (/api/pull)
    AccessOptions               access;        // keys, Host and Origin checks
    // More addresses to serve the same routes on ("127.0.0.1:1234" for LM
    // Studio's clients); each gets the Host check if it is a loopback one.
    std::vector<std::pair<std::string, int>> also;
    ConnectionLimits            limits;        // per listening address
};

class HttpServer {
  public:
    // `list_models`: every model a client may name, for /v1/models.
    HttpServer(router::Router & router, ModelLister list_models, ServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer &) = delete;
    HttpServer & operator=(const HttpServer &) = delete;

    // Binds every listening socket; returns the main one's port.
    Result<int> bind();
    // "http://host:port" of each address, main first, after bind().
    std::vector<std::string> urls() const;
    // Serves until stop(); call after bind(), from one thread.
    Status run();
    // Stops accepting and returns once in-flight handlers ended. Any thread.
    void stop();

  private:
    struct Listener {
        std::string                      host;
        int                              port = 0;  // asked for; the bound one after bind()
        std::unique_ptr<httplib::Server> http;
    };
    void register_routes(httplib::Server & http, bool loopback);

    router::Router &      router_;
    ModelLister           list_models_;
    ServerOptions         options_;
    std::vector<Listener> listeners_;  // the main address first
    std::unique_ptr<ResponseStore> responses_;  // shared by the listeners
    std::unique_ptr<DownloadJobs>  downloads_;  // with a store
    std::atomic<bool>     stop_requested_{false};
    std::shared_ptr<ConnectionStats> connections_ = std::make_shared<ConnectionStats>();  // all listeners
};

}  // namespace kiln::server
