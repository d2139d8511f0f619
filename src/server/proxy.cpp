#include "server/proxy.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <cpp-httplib/httplib.h>

#include "api/openai.h"
#include "api/openai_upstream.h"
#include "core/log.h"
#include "server/openai_routes.h"

namespace kiln::server {
namespace {

using namespace std::chrono_literals;

// One forwarded exchange: the upstream thread fills it, the downstream
// handler drains it.
struct Pipe {
    std::mutex              mutex;
    std::condition_variable cv;
    bool                    head = false;  // status and headers are in
    bool                    done = false;  // the upstream exchange ended
    std::string             failure;       // why it ended early (connection error), empty if it did not
    httplib::Error          error = httplib::Error::Success;  // the same, as httplib reports it
    int                     status = 0;
    std::string             content_type;
    std::deque<std::string> chunks;
    std::atomic<bool>       cancel{false};
    // Held until the thread is joined (members go after the destructor's
    // body): the backend the thread talks to outlives it.
    std::shared_ptr<router::Lease> lease;
    std::shared_ptr<void>          permit;
    backend::Upstream *            upstream = nullptr;
    std::thread                    thread;

    bool stop() const { return cancel.load() || upstream->stopping(); }

    ~Pipe() {
        cancel = true;
        if (thread.joinable()) thread.join();
    }
};

// What goes upstream: method, path and body unchanged, with the backend's own key.
httplib::Request upstream_request(const httplib::Request & in, const std::string & api_key) {
    httplib::Request out;
    out.method = in.method;
    out.path   = in.path;
    out.body   = in.body;
    out.set_header("Content-Type", in.get_header_value("Content-Type", "application/json"));
    if (in.has_header("Accept")) out.set_header("Accept", in.get_header_value("Accept"));
    if (!api_key.empty()) out.set_header("Authorization", "Bearer " + api_key);
    return out;
}

// Runs on the pipe's own thread, which the pipe joins before it goes.
void run_upstream(Pipe * pipe, const std::string & base, httplib::Request out) {
    httplib::Client http(base);
    http.set_connection_timeout(10);
    http.set_read_timeout(600);  // a long prompt may take minutes before its first byte
    out.response_handler = [pipe](const httplib::Response & r) {
        std::lock_guard lock(pipe->mutex);
        pipe->status       = r.status;
        pipe->content_type = r.get_header_value("Content-Type", "application/json");
        pipe->head         = true;
        pipe->cv.notify_all();
        return !pipe->stop();
    };
    out.content_receiver = [pipe](const char * data, size_t n, uint64_t, uint64_t) {
        std::lock_guard lock(pipe->mutex);
        pipe->chunks.emplace_back(data, n);
        pipe->cv.notify_all();
        return !pipe->stop();
    };
    auto result = http.send(out);
    std::lock_guard lock(pipe->mutex);
    if (!result && !pipe->cancel.load()) {
        pipe->error   = result.error();
        pipe->failure = pipe->upstream->stopping() ? "the server is shutting down" : httplib::to_string(result.error());
    }
    pipe->done = true;
    pipe->cv.notify_all();
}

Error runner_error(const std::string & model, const std::string & why) {
    return make_error(ErrorCode::unavailable, "model '" + model + "': the runner failed (" + why + ")");
}

// A failure of the connection itself, before any status line came back:
// the runner died a moment ago (and is not reaped yet), so it is worth
// starting again and trying once more.
bool connection_failure(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection:
        case httplib::Error::Read:
        case httplib::Error::Write:
        case httplib::Error::Canceled:
        case httplib::Error::SSLConnection:
        case httplib::Error::ConnectionTimeout:
        case httplib::Error::ProxyConnection:
        case httplib::Error::ConnectionClosed: return true;
        default:                               return false;
    }
}

// Starts the exchange with the runner and waits for its status line. A
// runner that cannot be connected to is reported, started again and tried
// once more. Errors: ready()'s own (it names the model), or the runner's
// failure with the model named.
Result<std::shared_ptr<Pipe>> start_exchange(const httplib::Request & req, const std::shared_ptr<router::Lease> & lease,
                                             std::shared_ptr<void> permit) {
    backend::Upstream & up = *lease->backend().upstream();
    for (int attempt = 0;; ++attempt) {
        auto base = up.ready();
        if (!base) return make_error(ErrorCode::unavailable, base.error().message);
        auto pipe      = std::make_shared<Pipe>();
        pipe->permit   = permit;
        pipe->lease    = lease;
        pipe->upstream = &up;
        pipe->thread   = std::thread(run_upstream, pipe.get(), *base, upstream_request(req, up.api_key()));
        std::unique_lock lock(pipe->mutex);
        pipe->cv.wait(lock, [&] { return pipe->head || pipe->done; });
        if (pipe->head) return pipe;
        const std::string failure  = pipe->failure.empty() ? "no response" : pipe->failure;
        const bool        retrying = connection_failure(pipe->error) && attempt == 0;
        lock.unlock();
        up.failed();
        if (!retrying) {
            return runner_error(lease->info().id, failure);
        }
    }
}

}  // namespace

void forward(const httplib::Request & req, httplib::Response & res, std::shared_ptr<router::Lease> lease) {
    backend::Upstream & up = *lease->backend().upstream();
    const std::string   id = lease->info().id;
    auto runner_failed     = [&up, id](const std::string & why) {
        up.failed();
        return runner_error(id, why);
    };
    auto started = start_exchange(req, lease, up.admit());
    if (!started) return send_openai_error(res, started.error());
    std::shared_ptr<Pipe> pipe = std::move(*started);
    std::unique_lock lock(pipe->mutex);
    res.status = pipe->status;
    if (pipe->content_type.rfind("text/event-stream", 0) != 0) {  // a whole body
        pipe->cv.wait(lock, [&] { return pipe->done; });
        if (!pipe->failure.empty()) {
            const std::string why = pipe->failure;
            lock.unlock();
            return send_openai_error(res, runner_failed(why));
        }
        std::string body;
        for (auto & c : pipe->chunks) body += c;
        res.set_content(body, pipe->content_type);
        return;
    }
    lock.unlock();
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        pipe->content_type,
        [pipe, runner_failed](size_t, httplib::DataSink & sink) {
            for (;;) {
                std::unique_lock l(pipe->mutex);
                pipe->cv.wait_for(l, 100ms, [&] { return !pipe->chunks.empty() || pipe->done; });
                if (pipe->chunks.empty() && !pipe->done) {
                    l.unlock();
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                if (!pipe->chunks.empty()) {
                    std::string chunk = std::move(pipe->chunks.front());
                    pipe->chunks.pop_front();
                    l.unlock();
                    if (!sink.write(chunk.data(), chunk.size())) return false;
                    continue;
                }
                // Done. A stream cut short (the runner died) ends with an error event, never [DONE].
                const std::string why = pipe->failure;
                l.unlock();
                if (!why.empty()) {
                    const std::string event = "\n\n" + api::openai::sse_error(runner_failed(why));
                    sink.write(event.data(), event.size());
                }
                sink.done();
                return true;
            }
        },
        [pipe](bool) { pipe->cancel = true; });
}

namespace {

// A bridged exchange's thread and what it needs alive; joined when the last
// holder lets go (the thread ends once the channel is cancelled or done).
struct BridgeRun {
    std::shared_ptr<router::Lease> lease;
    std::shared_ptr<void>          permit;
    std::thread                    thread;
    ~BridgeRun() {
        if (thread.joinable()) thread.join();
    }
};

}  // namespace

Result<Bridged> bridge_chat(const std::shared_ptr<router::Lease> & lease, const backend::ChatRequest & request) {
    backend::Upstream * up = lease->backend().upstream();
    KILN_TRY(std::string base, up->ready());
    auto run    = std::make_shared<BridgeRun>();
    run->lease  = lease;
    run->permit = up->admit();
    auto channel = std::make_shared<backend::Channel>();
    std::string body = api::openai::upstream_chat_body(request, request.model.empty() ? lease->info().id : request.model);
    run->thread = std::thread([channel, up, base = std::move(base), key = up->api_key(), body = std::move(body)] {
        httplib::Client http(base);
        http.set_connection_timeout(10);
        http.set_read_timeout(600);
        httplib::Headers headers;
        if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
        api::openai::UpstreamReader reader;
        std::string                 raw;  // the body, when it is an error
        auto res = http.Post(
            "/v1/chat/completions", headers, body.size(),
            [&](size_t offset, size_t length, httplib::DataSink & sink) { return sink.write(body.data() + offset, length); },
            "application/json",
            [&](const char * data, size_t n) {
                if (raw.size() < 4096) raw.append(data, std::min<size_t>(n, 4096));
                for (auto & e : reader.feed(std::string_view(data, n))) channel->push(std::move(e));
                return !channel->cancelled() && !up->stopping();
            },
            nullptr);
        if (channel->cancelled()) return;
        if (!res) {
            up->failed();
            channel->push(backend::Event::fail(make_error(
                ErrorCode::unavailable, up->stopping() ? "the server is shutting down"
                                                       : "the model's runner broke off: " + httplib::to_string(res.error()))));
            return;
        }
        if (res->status != 200) {
            auto why = api::openai::upstream_error_message(raw);
            channel->push(backend::Event::fail(make_error(res->status == 404 ? ErrorCode::model_not_found : ErrorCode::invalid_request,
                                                          "the model's runner answered " + std::to_string(res->status) + ": " + why)));
            return;
        }
        channel->push(reader.end());
    });
    return Bridged{channel, run};
}

}  // namespace kiln::server
