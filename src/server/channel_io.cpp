#include "server/channel_io.h"

#include <chrono>

#include <cpp-httplib/httplib.h>

#include "server/access.h"

namespace kiln::server {

using namespace std::chrono_literals;

namespace {

// A streamed answer: not cached, not buffered by a proxy in front.
void stream_headers(httplib::Response & res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
}

}  // namespace

Result<std::shared_ptr<router::Lease>> lease_model(router::Router & router, const std::string & model,
                                                   const httplib::Request & req,
                                                   std::optional<router::KeepAlive> keep_alive, int32_t n_ctx) {
    router::Ask ask;
    ask.keep_alive = keep_alive;
    ask.n_ctx      = n_ctx;
    ask.gone       = [&req] { return req.is_connection_closed(); };
    return router.acquire(model, ask);
}

void write_verbatim(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::VerbatimAnswer> answer,
                    const std::function<void(const Error &)> & fail, std::function<std::string(const Error &)> broke_off,
                    std::shared_ptr<void> keep) {
    // The answer goes before the lease: its exchange talks to the leased backend.
    struct Held {
        std::shared_ptr<void>                    keep;
        std::shared_ptr<backend::VerbatimAnswer> answer;
    };
    auto held  = std::make_shared<Held>(Held{std::move(keep), std::move(answer)});
    res.status = held->answer->status();
    const std::string type = held->answer->content_type();
    if (type.rfind("text/event-stream", 0) != 0) {  // a whole body
        std::string body;
        for (;;) {
            auto chunk = held->answer->next(100ms);
            if (!chunk) {
                if (req.is_connection_closed()) return held->answer->cancel();
                continue;
            }
            if (chunk->failure) return fail(*chunk->failure);
            if (chunk->ended) return res.set_content(body, type);
            body += chunk->bytes;
        }
    }
    stream_headers(res);
    res.set_chunked_content_provider(
        type,
        [held, broke_off = std::move(broke_off)](size_t, httplib::DataSink & sink) {
            for (;;) {
                auto chunk = held->answer->next(100ms);
                if (!chunk) {
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                if (!chunk->ended) {
                    if (!sink.write(chunk->bytes.data(), chunk->bytes.size())) return false;
                    continue;
                }
                // A stream cut short (the runner died) ends with an error event.
                if (chunk->failure) {
                    const std::string event = "\n\n" + broke_off(*chunk->failure);
                    sink.write(event.data(), event.size());
                }
                sink.done();
                return true;
            }
        },
        [held](bool) { held->answer->cancel(); });
}

void stream_events(const httplib::Request & req, httplib::Response & res, std::vector<std::shared_ptr<backend::Channel>> channels,
                   const std::string & content_type, std::string prefix, RenderEventOf render,
                   std::function<std::string(const std::vector<backend::Done> &)> end, std::shared_ptr<void> keep) {
    stream_headers(res);
    auto group = std::make_shared<backend::ChannelGroup>(channels);
    res.set_chunked_content_provider(
        content_type,
        [group, count = channels.size(), prefix = std::move(prefix), render = std::move(render), end = std::move(end),
         charge = token_charger(req)](size_t, httplib::DataSink & sink) {
            auto write = [&](const std::string & s) { return s.empty() || sink.write(s.data(), s.size()); };
            if (!write(prefix)) return false;
            std::vector<backend::Done> dones;
            while (dones.size() < count) {
                auto got = group->pop(100ms);  // woken by any channel's event: no polling
                if (!got) {
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                auto & [i, ev] = *got;
                if (const auto * done = ev.as_done()) charge(done->usage.prompt_tokens + done->usage.completion_tokens);
                if (!write(render(i, ev))) return false;
                if (ev.as_failure()) {
                    sink.done();
                    return true;
                }
                if (auto * done = ev.as_done()) dones.push_back(std::move(*done));
            }
            write(end(dones));
            sink.done();
            return true;
        },
        [group, keep](bool) { group->cancel(); });
}

void stream_events(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::Channel> channel,
                   const std::string & content_type, std::string prefix, RenderEvent render, std::shared_ptr<void> keep) {
    // One channel of several: its done event's bytes are the end.
    stream_events(
        req, res, {std::move(channel)}, content_type, std::move(prefix),
        [render = std::move(render)](size_t, const backend::Event & ev) { return render(ev); },
        [](const std::vector<backend::Done> &) { return std::string(); }, std::move(keep));
}

bool collect(backend::Channel & channel, const httplib::Request & req, std::string & text, backend::Event & last) {
    auto next_check = std::chrono::steady_clock::now() + 100ms;
    std::vector<backend::TokenLogprob> logprobs;
    for (;;) {
        auto ev = channel.pop(100ms);
        // Checks about every 100 ms, between events too, whether the client left.
        if (std::chrono::steady_clock::now() >= next_check) {
            if (req.is_connection_closed()) {
                channel.cancel();
                return false;
            }
            next_check = std::chrono::steady_clock::now() + 100ms;
        }
        if (!ev) continue;
        if (auto * delta = ev->as_delta()) {
            text += delta->text;
            for (auto & lp : delta->logprobs) logprobs.push_back(std::move(lp));
            continue;
        }
        last = std::move(*ev);
        if (auto * done = last.as_done()) {
            done->logprobs = std::move(logprobs);
            token_charger(req)(done->usage.prompt_tokens + done->usage.completion_tokens);
        }
        return true;
    }
}

}  // namespace kiln::server
