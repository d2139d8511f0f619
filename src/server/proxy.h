// Forwarding to a backend that is another OpenAI-compatible server: the
// request goes upstream unchanged (method, path, body, content type; the
// backend's own API key instead of the client's), and the response comes
// back as it arrives, streamed or whole, with the upstream's status. A
// runner that fails mid-stream ends the stream with an error event; one
// that cannot be reached is a 503. Internal to server/.
#pragma once

#include <memory>

#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// `lease` holds a backend whose upstream() is non-null; it is kept until the
// response ends.
void forward(const httplib::Request & req, httplib::Response & res, std::shared_ptr<router::Lease> lease);

// A typed chat for such a backend (from Ollama's, Anthropic's or LM Studio's
// routes): sent upstream as an OpenAI chat completion, its answer read back
// into events on `channel` by a thread. `keep` holds the lease and joins
// that thread: keep it for as long as the channel is read. Cancelling the
// channel stops the exchange.
struct Bridged {
    std::shared_ptr<backend::Channel> channel;
    std::shared_ptr<void>             keep;
};
Result<Bridged> bridge_chat(const std::shared_ptr<router::Lease> & lease, const backend::ChatRequest & request);

}  // namespace kiln::server
