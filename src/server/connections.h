// The HTTP server's connections: each on a thread of its own, admitted
// against caps (in total and per client address), and read under deadlines,
// so sockets that send nothing, or send slowly, cannot hold up other
// clients' requests. A local server is reached by browsers, IDE plugins and
// agents that open many connections and abandon them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <cpp-httplib/httplib.h>

#include "server/connection_limits.h"

namespace kiln::server {

// cpp-httplib's server with kiln's connection handling in place of its own
// (a fixed thread pool whose threads any idle socket can hold). Routes,
// handlers and bind/listen are cpp-httplib's, unchanged.
class GuardedServer final : public httplib::Server {
  public:
    GuardedServer(ConnectionLimits limits, std::shared_ptr<ConnectionStats> stats);
    ~GuardedServer() override;

    const ConnectionStats & stats() const { return *stats_; }

  private:
    bool process_and_close_socket(socket_t sock) override;
    // Takes a slot for `address`; false when a cap is reached.
    bool admit(const std::string & address);
    void release(const std::string & address);

    ConnectionLimits                 limits_;
    std::shared_ptr<ConnectionStats> stats_;
    std::mutex                       mutex_;
    std::map<std::string, int32_t>   per_client_;
    int32_t                          total_ = 0;
};

}  // namespace kiln::server
