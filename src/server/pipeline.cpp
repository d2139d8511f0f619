#include "server/pipeline.h"

#include <cpp-httplib/httplib.h>

#include "server/channel_io.h"
#include "server/proxy.h"
#include "server/reply.h"

namespace kiln::server {
namespace {

// A chat may be bridged to an upstream runner; every other kind of request
// runs where the backend runs it.
Result<Submitted> submit(const std::shared_ptr<router::Lease> & lease, BackendRequest request) {
    if (auto * chat = std::get_if<backend::ChatRequest>(&request)) return submit_chat(lease, std::move(*chat));
    auto channel = std::visit([&](auto & r) { return lease->backend().submit(std::move(r)); }, request);
    if (!channel) return channel.error();
    return Submitted{*channel, lease};
}

class WholeOnly : public Render {
  public:
    explicit WholeOnly(WholeAnswer whole) : whole_(std::move(whole)) {}
    std::string event(const backend::Event &) override { return {}; }
    std::string whole(const std::string & text, const backend::Event & done) override { return whole_(text, done); }

  private:
    WholeAnswer whole_;
};

}  // namespace

std::unique_ptr<Render> whole_only(WholeAnswer whole) { return std::make_unique<WholeOnly>(std::move(whole)); }

void run(const httplib::Request & req, httplib::Response & res, router::Router & router, Job job) {
    auto fail  = [&](const Error & e) { send_error(res, job.family, e); };
    auto lease = lease_model(router, job.model, req, job.keep_alive, job.n_ctx);
    if (!lease) return fail(lease.error());
    if (job.pass_through && (*lease)->backend().upstream()) return forward(req, res, *lease);
    const auto leased = Clock::now();
    if (job.nothing_to_run) {
        auto render = job.render(Answering{(*lease)->info(), (*lease)->backend(), 0, job.received, leased});
        return res.set_content(render->whole({}, backend::Event{}), "application/json");
    }
    auto submitted = submit(*lease, std::move(job.request));
    if (!submitted) return fail(submitted.error());
    auto & channel = submitted->channel;
    std::shared_ptr<Render> render = job.render(Answering{(*lease)->info(), (*lease)->backend(), channel->prompt_tokens, job.received, leased});
    if (job.stream) {
        std::string start = render->start();
        return stream_events(req, res, channel, job.stream_type, std::move(start),
                             [render](const backend::Event & ev) { return render->event(ev); }, submitted->keep);
    }
    std::string    text;
    backend::Event done;
    if (!collect(*channel, req, text, done)) return;  // the client left
    if (done.kind == backend::Event::Kind::error) return fail(done.error);
    res.set_content(render->whole(text, done), "application/json");
}

}  // namespace kiln::server
