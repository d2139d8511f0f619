#include "server/pipeline.h"

#include <cpp-httplib/httplib.h>

#include "server/channel_io.h"
#include "server/reply.h"

namespace kiln::server {
namespace {

// A request submitted to the leased model (keep the lease while its answer is read).
Result<std::shared_ptr<backend::Channel>> submit(const std::shared_ptr<router::Lease> & lease, BackendRequest request) {
    return std::visit([&](auto & r) { return lease->backend().submit(std::move(r)); }, request);
}

// An OpenAI request as the client sent it, at its OpenAI path, for a backend
// that answers it verbatim.
backend::VerbatimRequest verbatim_of(const httplib::Request & req, const std::string & path) {
    backend::VerbatimRequest v;
    v.method       = req.method;
    v.path         = path;
    v.body         = req.body;
    v.content_type = req.get_header_value("Content-Type", "application/json");
    v.accept       = req.get_header_value("Accept");
    return v;
}

class WholeOnly : public Render {
  public:
    explicit WholeOnly(WholeAnswer whole) : whole_(std::move(whole)) {}
    std::string event(const backend::Event &) override { return {}; }
    std::string whole(const std::string & text, const backend::Done & done) override { return whole_(text, done); }

  private:
    WholeAnswer whole_;
};

// A job of several generations: each submitted (a refused one cancels those
// before it), each with its Render, streamed together or collected in turn
// and joined.
void run_several(const httplib::Request & req, httplib::Response & res, const std::shared_ptr<router::Lease> & lease,
                 Job & job, Clock::time_point leased) {
    auto fail = [&](const Error & e) { send_error(res, job.family, e); };
    std::vector<BackendRequest> requests;
    requests.push_back(std::move(job.request));
    for (auto & r : job.more) requests.push_back(std::move(r));
    std::vector<std::shared_ptr<backend::Channel>> channels;
    std::vector<std::shared_ptr<Render>>           renders;
    for (size_t i = 0; i < requests.size(); ++i) {
        auto submitted = submit(lease, std::move(requests[i]));
        if (!submitted) {
            for (auto & c : channels) c->cancel();
            return fail(submitted.error());
        }
        channels.push_back(*submitted);
        Answering a{lease->info(), lease->backend(), (*submitted)->prompt_tokens, job.received, leased, i, requests.size()};
        renders.push_back(job.render(a));
    }
    if (job.stream) {
        std::string start;
        for (auto & r : renders) start += r->start();
        return stream_events(
            req, res, channels, job.stream_type, std::move(start),
            [renders](size_t i, const backend::Event & ev) { return renders[i]->event(ev); }, job.joined.stream_end,
            lease);
    }
    std::vector<std::string>   answers;
    std::vector<backend::Done> dones;
    for (size_t i = 0; i < channels.size(); ++i) {
        std::string    text;
        backend::Event last;
        const bool     stayed = collect(*channels[i], req, text, last);
        auto *         done   = last.as_done();
        if (!stayed || !done) {
            for (auto & c : channels) c->cancel();
            if (const auto * f = last.as_failure(); stayed && f) fail(f->error);
            return;
        }
        answers.push_back(renders[i]->whole(text, *done));
        dones.push_back(std::move(*done));
    }
    res.set_content(job.joined.whole(answers, dones), "application/json");
}

}  // namespace

std::unique_ptr<Render> whole_only(WholeAnswer whole) { return std::make_unique<WholeOnly>(std::move(whole)); }

void run(const httplib::Request & req, httplib::Response & res, router::Router & router, Job job) {
    auto fail  = [&](const Error & e) { send_error(res, job.family, e); };
    auto lease = lease_model(router, job.model, req, job.keep_alive, job.n_ctx);
    if (!lease) return fail(lease.error());
    const auto leased = Clock::now();
    if (!job.openai_path.empty()) {
        auto verbatim = (*lease)->backend().submit_verbatim(verbatim_of(req, job.openai_path));
        if (!verbatim) return fail(verbatim.error());
        if (*verbatim) {
            // The family's error event, should the answer break off mid-stream.
            auto broke_off = [render = job.render, lease = *lease, received = job.received, leased](const Error & e) {
                return render(Answering{lease->info(), lease->backend(), 0, received, leased})->event(backend::Event::fail(e));
            };
            return write_verbatim(req, res, std::move(*verbatim), fail, broke_off, *lease);
        }
    }
    if (!job.more.empty()) return run_several(req, res, *lease, job, leased);
    if (job.nothing_to_run) {
        auto render = job.render(Answering{(*lease)->info(), (*lease)->backend(), 0, job.received, leased});
        return res.set_content(render->whole({}, backend::Done{}), "application/json");
    }
    auto submitted = submit(*lease, std::move(job.request));
    if (!submitted) return fail(submitted.error());
    auto & channel = *submitted;
    std::shared_ptr<Render> render = job.render(Answering{(*lease)->info(), (*lease)->backend(), channel->prompt_tokens, job.received, leased});
    if (job.stream) {
        std::string start = render->start();
        return stream_events(req, res, channel, job.stream_type, std::move(start),
                             [render](const backend::Event & ev) { return render->event(ev); }, *lease);
    }
    std::string    text;
    backend::Event last;
    if (!collect(*channel, req, text, last)) return;  // the client left
    if (const auto * f = last.as_failure()) return fail(f->error);
    res.set_content(render->whole(text, *last.as_done()), "application/json");
}

}  // namespace kiln::server
