#include "server/responses_routes.h"

#include <ctime>

#include <cpp-httplib/httplib.h>

#include "api/errors.h"
#include "api/responses.h"
#include "server/openai_routes.h"
#include "server/reply.h"

namespace kiln::server {

void ResponseStore::expire() {
    const auto now = clock::now();
    while (!order_.empty()) {
        auto it = entries_.find(order_.front());
        if (it != entries_.end() && entries_.size() <= kMaxEntries && now - it->second.second < kMaxAge) break;
        if (it != entries_.end()) entries_.erase(it);
        order_.pop_front();
    }
}

void ResponseStore::put(const std::string & id, Entry entry) {
    std::lock_guard lock(mutex_);
    entries_[id] = {std::move(entry), clock::now()};
    order_.push_back(id);
    expire();
}

std::optional<ResponseStore::Entry> ResponseStore::get(const std::string & id) {
    std::lock_guard lock(mutex_);
    expire();
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return it->second.first;
}

bool ResponseStore::remove(const std::string & id) {
    std::lock_guard lock(mutex_);
    return entries_.erase(id) > 0;  // its place in order_ goes when it comes up
}

Error ResponseStore::not_stored(const std::string & id, const char * param) {
    return make_error(ErrorCode::not_found,
                      "no stored response '" + id.substr(0, 80) + "' (responses are kept " + std::to_string(kMaxAge.count()) +
                          " minutes, the last " + std::to_string(kMaxEntries) + ")",
                      param);
}

Result<std::vector<engine::ChatMessage>> ResponseStore::continued(api::responses::Conversation & call) {
    std::vector<engine::ChatMessage> history;
    auto &                           messages = call.request.messages;
    if (!call.previous_response_id.empty()) {
        auto prev = get(call.previous_response_id);
        if (!prev) return not_stored(call.previous_response_id, "previous_response_id");
        history = std::move(prev->messages);
        if (call.request.model.empty()) call.request.model = prev->model;
        const auto first_input = messages.end() - static_cast<std::ptrdiff_t>(call.input.size());
        messages.insert(first_input, history.begin(), history.end());
    }
    history.insert(history.end(), call.input.begin(), call.input.end());
    return history;
}

std::string KeptRender::event(const backend::Event & ev) {
    if (const auto * d = ev.as_delta()) {
        text_ += d->text;
        return delta(*d);
    }
    if (const auto * f = ev.as_failure()) return error(f->error);
    std::string answered;
    std::string out = end(*ev.as_done(), text_, answered);
    keep_(history_, text_, *ev.as_done(), std::move(answered));
    return out;
}

std::string KeptRender::whole(const std::string & text, const backend::Done & done) {
    std::string answered = object(text, done);
    keep_(std::move(history_), text, done, answered);
    return answered;
}

ResponseStore::Keeper ResponseStore::keeper(std::string id, std::string model) {
    return [this, id = std::move(id), model = std::move(model)](std::vector<engine::ChatMessage> messages,
                                                                const std::string & text, const backend::Done & done,
                                                                std::string object) {
        if (id.empty()) return;
        messages.push_back(api::responses::assistant_turn(text, done));
        put(id, {model, std::move(messages), std::move(object)});
    };
}

namespace {

namespace responses = api::responses;

// A response, whole or as its stream of output items.
class ResponseRender : public KeptRender {
  public:
    ResponseRender(std::shared_ptr<const responses::ResponsesCall> call, responses::Meta meta, ResponseStore::Keeper keep,
                   std::vector<engine::ChatMessage> history)
        : KeptRender(std::move(keep), std::move(history)), call_(std::move(call)), meta_(std::move(meta)), stream_(*call_, meta_) {}
    std::string start() override { return stream_.start(); }

  protected:
    std::string delta(const backend::Delta & ev) override { return stream_.delta(ev); }
    std::string error(const Error & e) override { return stream_.error(e); }
    std::string end(const backend::Done & done, const std::string &, std::string & object) override {
        std::string out = stream_.end(done);
        object          = stream_.final_object();
        return out;
    }
    std::string object(const std::string & text, const backend::Done & done) override {
        return responses::response_object(*call_, meta_, text, done);
    }

  private:
    std::shared_ptr<const responses::ResponsesCall> call_;
    responses::Meta                                 meta_;
    responses::Stream                               stream_;
};

}  // namespace

void register_responses_routes(httplib::Server & http, router::Router & router, ResponseStore & store) {
    http.Post("/v1/responses", [&router, &store](const httplib::Request & req, httplib::Response & res) {
        auto call = responses::parse(req.body);
        if (!call) return send_openai_error(res, call.error());
        // The conversation so far: a stored response's, then this input.
        auto history = store.continued(*call);
        if (!history) return send_openai_error(res, history.error());
        Job job;
        job.model        = call->request.model;
        job.keep_alive   = call->keep_alive;
        job.stream       = call->stream;
        job.openai_path  = "/v1/responses";
        job.request      = call->request;
        job.render = [&store, history = std::move(*history),
                      call = std::make_shared<const responses::ResponsesCall>(std::move(*call))](const Answering & a) {
            responses::Meta meta{responses::new_response_id(), a.model.id, static_cast<int64_t>(std::time(nullptr)),
                                 call->previous_response_id};
            auto keep = store.keeper(call->store ? meta.id : std::string(), meta.model);
            return std::make_unique<ResponseRender>(call, std::move(meta), std::move(keep), history);
        };
        run(req, res, router, std::move(job));
    });
    http.Get(R"(/v1/responses/([^/]+))", [&store](const httplib::Request & req, httplib::Response & res) {
        auto entry = store.get(req.matches[1]);
        if (!entry) return send_openai_error(res, ResponseStore::not_stored(req.matches[1], "response_id"));
        res.set_content(entry->object, "application/json");
    });
    http.Delete(R"(/v1/responses/([^/]+))", [&store](const httplib::Request & req, httplib::Response & res) {
        const std::string id = req.matches[1];
        if (!store.remove(id)) return send_openai_error(res, ResponseStore::not_stored(id, "response_id"));
        res.set_content(api::responses::deleted_object(id), "application/json");
    });
}

}  // namespace kiln::server
