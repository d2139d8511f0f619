#include "server/channel_io.h"

#include <chrono>

#include <cpp-httplib/httplib.h>

#include "server/access.h"
#include "server/proxy.h"

namespace kiln::server {

using namespace std::chrono_literals;

Result<std::shared_ptr<router::Lease>> lease_model(router::Router & router, const std::string & model,
                                                   const httplib::Request & req,
                                                   std::optional<router::KeepAlive> keep_alive, int32_t n_ctx) {
    router::Ask ask;
    ask.keep_alive = keep_alive;
    ask.n_ctx      = n_ctx;
    ask.gone       = [&req] { return req.is_connection_closed(); };
    return router.acquire(model, ask);
}

Result<Submitted> submit_chat(const std::shared_ptr<router::Lease> & lease, backend::ChatRequest request) {
    if (lease->backend().upstream()) {
        KILN_TRY(auto bridged, bridge_chat(lease, request));
        return Submitted{bridged.channel, bridged.keep};
    }
    KILN_TRY(auto channel, lease->backend().submit(std::move(request)));
    return Submitted{channel, lease};
}

void stream_events(const httplib::Request & req, httplib::Response & res, std::shared_ptr<backend::Channel> channel,
                   const std::string & content_type, std::string prefix, RenderEvent render, std::shared_ptr<void> keep) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        content_type,
        [channel, prefix = std::move(prefix), render = std::move(render), charge = token_charger(req)](
            size_t, httplib::DataSink & sink) {
            auto write = [&](const std::string & s) { return s.empty() || sink.write(s.data(), s.size()); };
            if (!write(prefix)) return false;
            for (;;) {
                auto ev = channel->pop(100ms);
                if (!ev) {
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                if (ev->kind == backend::Event::Kind::done) charge(ev->usage.prompt_tokens + ev->usage.completion_tokens);
                if (!write(render(*ev))) return false;
                if (ev->kind != backend::Event::Kind::delta) {
                    sink.done();
                    return true;
                }
            }
        },
        [channel, keep](bool) { channel->cancel(); });
}

void stream_events(const httplib::Request & req, httplib::Response & res, std::vector<std::shared_ptr<backend::Channel>> channels,
                   const std::string & content_type, std::string prefix, RenderEventOf render,
                   std::function<std::string(const std::vector<backend::Event> &)> end, std::shared_ptr<void> keep) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    auto group = std::make_shared<backend::ChannelGroup>(channels);
    res.set_chunked_content_provider(
        content_type,
        [group, count = channels.size(), prefix = std::move(prefix), render = std::move(render), end = std::move(end),
         charge = token_charger(req)](size_t, httplib::DataSink & sink) {
            auto write = [&](const std::string & s) { return s.empty() || sink.write(s.data(), s.size()); };
            if (!write(prefix)) return false;
            std::vector<backend::Event> dones;
            while (dones.size() < count) {
                auto got = group->pop(100ms);  // woken by any channel's event: no polling
                if (!got) {
                    if (!sink.is_writable()) return false;  // the client left
                    continue;
                }
                auto & [i, ev] = *got;
                if (ev.kind == backend::Event::Kind::done) charge(ev.usage.prompt_tokens + ev.usage.completion_tokens);
                if (!write(render(i, ev))) return false;
                if (ev.kind == backend::Event::Kind::error) {
                    sink.done();
                    return true;
                }
                if (ev.kind == backend::Event::Kind::done) dones.push_back(std::move(ev));
            }
            write(end(dones));
            sink.done();
            return true;
        },
        [group, keep](bool) { group->cancel(); });
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
        if (ev->kind == backend::Event::Kind::delta) {
            text += ev->text;
            for (auto & lp : ev->logprobs) logprobs.push_back(std::move(lp));
            continue;
        }
        last          = std::move(*ev);
        last.logprobs = std::move(logprobs);
        if (last.kind == backend::Event::Kind::done) token_charger(req)(last.usage.prompt_tokens + last.usage.completion_tokens);
        return true;
    }
}

}  // namespace kiln::server
