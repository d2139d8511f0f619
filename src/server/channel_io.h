// Reading a request's events off its Channel into an HTTP response, for
// every API family: streamed (each event rendered to bytes as it comes) or
// collected whole. Both notice a client that went away and cancel the
// request. Internal to server/.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/types.h"
#include "router/router.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// The model a request names, leased for as long as its response runs (keep
// the lease in the response); the wait for a load ends if the client leaves.
Result<std::shared_ptr<router::Lease>> lease_model(router::Router & router, const std::string & model,
                                                   const httplib::Request & req,
                                                   std::optional<router::KeepAlive> keep_alive = {}, int32_t n_ctx = 0);

// An answer a backend gave verbatim (an OpenAI server's, to an OpenAI
// request): its status, content type and bytes as they come. A body that
// breaks off is `fail`ed when whole; streamed, it ends with the bytes of
// `broke_off` (the family's error event). `keep` (the lease) outlives the answer.
void write_verbatim(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::VerbatimAnswer> answer,
                    const std::function<void(const Error &)> & fail, std::function<std::string(const Error &)> broke_off,
                    std::shared_ptr<void> keep);

// Bytes for one event; the stream ends after a done or error event.
using RenderEvent = std::function<std::string(const backend::Event &)>;

// A chunked response of `content_type`: `prefix` first, then each event as
// `render` writes it. `keep` (a model lease) lives until the response ends.
// The answer's tokens are charged to the request's key (token_limit).
void stream_events(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::Channel> channel,
                   const std::string & content_type, std::string prefix, RenderEvent render, std::shared_ptr<void> keep);

// The same for several requests answered in one response: their events as
// they come, `render(i, event)` writing each, then `end(dones)` once every
// one is done; an error event of any ends the response after its bytes.
using RenderEventOf = std::function<std::string(size_t, const backend::Event &)>;
void stream_events(const httplib::Request & req, httplib::Response & res, std::vector<std::shared_ptr<backend::Channel>> channels,
                   const std::string & content_type, std::string prefix, RenderEventOf render,
                   std::function<std::string(const std::vector<backend::Done> &)> end, std::shared_ptr<void> keep);

// Waits for the whole answer: the deltas' text and the last event (a Done,
// which gets the deltas' logprobs, or a Failure). False when the client left
// first (the request is cancelled).
bool collect(backend::Channel & channel, const httplib::Request & req, std::string & text, backend::Event & last);

}  // namespace kiln::server
