// Talking to a backend that is another server speaking the OpenAI API
// (process and remote runners, backend/proxy_backend.h): an OpenAI request
// sent verbatim, its answer read back as it arrives (the fast path), and a
// typed chat put to it through a ChatCodec, its answer read back into events.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/types.h"

namespace kiln::backend {

// The runner an exchange talks to. Thread-safe.
class Upstream {
  public:
    virtual ~Upstream() = default;
    // The base URL to send to ("http://127.0.0.1:PORT"), once the runner is
    // healthy: a process that died is started again first (with backoff).
    // Errors: unavailable, with why.
    virtual Result<std::string> ready() = 0;
    // "Authorization: Bearer" for the upstream; empty: send none.
    virtual const std::string & api_key() const = 0;
    // Waits for a place under the backend's concurrency limit; dropping the
    // returned token gives it back.
    virtual std::shared_ptr<void> admit() = 0;
    // An exchange failed on the connection: the runner may be gone.
    virtual void failed() = 0;
    // True once shutdown() ran: exchanges stop reading.
    virtual bool stopping() const = 0;
};

// Sends `request` to the runner and returns once its status line is in.
// A runner that cannot be connected to is reported (failed()), started again
// and tried once more. Errors (unavailable) name the model `id`. `permit`
// (admit()'s) is held until the answer is dropped; `up` must outlive it.
Result<std::shared_ptr<VerbatimAnswer>> exchange(Upstream & up, const std::string & id, const VerbatimRequest & request,
                                                 std::shared_ptr<void> permit);

// Threads that read exchanges into channels, joined when this goes (after
// the runner is stopped, which ends their exchanges) and as they finish.
class ChatBridges {
  public:
    ~ChatBridges();
    // A typed chat sent as a streamed OpenAI chat completion of `model`; its
    // answer comes back as events on the channel, read by a thread of ours.
    // Connection errors and a runner's refusal before it answers come back here.
    Result<std::shared_ptr<Channel>> submit(Upstream & up, const std::string & id, std::shared_ptr<const ChatCodec> codec,
                                            const ChatRequest & request, const std::string & model);

  private:
    struct Running {
        std::thread                        thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::mutex           mutex_;
    std::vector<Running> running_;
};

}  // namespace kiln::backend
