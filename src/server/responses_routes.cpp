#include "server/responses_routes.h"

#include <ctime>

#include <cpp-httplib/httplib.h>

#include "api/errors.h"
#include "api/lmstudio.h"
#include "api/responses.h"
#include "server/channel_io.h"
#include "server/openai_routes.h"
#include "server/proxy.h"
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

namespace {

namespace responses = api::responses;

Error not_stored(const std::string & id, const char * param) {
    return make_error(ErrorCode::not_found,
                      "no stored response '" + id.substr(0, 80) + "' (responses are kept " +
                          std::to_string(ResponseStore::kMaxAge.count()) + " minutes, the last " +
                          std::to_string(ResponseStore::kMaxEntries) + ")",
                      param);
}

// The conversation a request continues: the stored one `previous` names
// (its model, when the request names none), put before the request's input
// in `messages`. Returns it with the input, to be stored with the answer.
Result<std::vector<engine::ChatMessage>> continued(ResponseStore & store, const std::string & previous, std::string & model,
                                                   std::vector<engine::ChatMessage> &       messages,
                                                   const std::vector<engine::ChatMessage> & input) {
    std::vector<engine::ChatMessage> history;
    if (!previous.empty()) {
        auto prev = store.get(previous);
        if (!prev) return not_stored(previous, "previous_response_id");
        history = std::move(prev->messages);
        if (model.empty()) model = prev->model;
        const auto first_input = messages.end() - static_cast<std::ptrdiff_t>(input.size());
        messages.insert(first_input, history.begin(), history.end());
    }
    history.insert(history.end(), input.begin(), input.end());
    return history;
}

// What keeps a finished answer for the next request (nothing when `id` is
// empty): the conversation with the assistant's turn, and the object answered.
auto keeper(ResponseStore & store, std::string id, std::string model) {
    return [&store, id = std::move(id), model = std::move(model)](std::vector<engine::ChatMessage> messages,
                                                                 const std::string & text, const backend::Event & done,
                                                                 std::string object) {
        if (id.empty()) return;
        messages.push_back(api::responses::assistant_turn(text, done));
        store.put(id, {model, std::move(messages), std::move(object)});
    };
}

void lmstudio_chat_route(httplib::Server & http, router::Router & router, ResponseStore & store) {
    namespace lms = api::lmstudio;
    auto send_error = [](httplib::Response & res, const Error & e) { server::send_error(res, api::Family::openai, e); };
    http.Post("/api/v1/chat", [&router, &store, send_error](const httplib::Request & req, httplib::Response & res) {
        auto call = lms::parse_v1_chat(req.body);
        if (!call) return send_error(res, call.error());
        auto history = continued(store, call->previous_response_id, call->request.model, call->request.messages, call->input);
        if (!history) return send_error(res, history.error());
        auto lease = lease_model(router, call->request.model, req, std::nullopt, call->n_ctx);
        if (!lease) return send_error(res, lease.error());
        auto submitted = submit_chat(*lease, call->request);
        if (!submitted) return send_error(res, submitted.error());
        const auto & channel = submitted->channel;
        const std::string model = (*lease)->info().id;
        const std::string id    = call->store ? api::responses::new_response_id() : std::string();
        auto keep = keeper(store, id, model);
        if (call->stream) {
            auto state  = std::make_shared<lms::V1ChatStream>(model);
            auto text   = std::make_shared<std::string>();
            auto render = [state, text, keep, history = *history, id, model](const backend::Event & ev) -> std::string {
                switch (ev.kind) {
                    case backend::Event::Kind::delta:
                        *text += ev.text;
                        return state->delta(ev);
                    case backend::Event::Kind::error: return state->error(ev.error);
                    case backend::Event::Kind::done:
                        keep(history, *text, ev, lms::v1_chat_result(model, *text, ev, id));
                        return state->end(ev, *text, id);
                }
                return {};
            };
            return stream_events(req, res, channel, "text/event-stream", state->start(), render, submitted->keep);
        }
        std::string    text;
        backend::Event done;
        if (!collect(*channel, req, text, done)) return;
        if (done.kind == backend::Event::Kind::error) return send_error(res, done.error);
        std::string object = lms::v1_chat_result(model, text, done, id);
        keep(std::move(*history), text, done, object);
        res.set_content(object, "application/json");
    });
}

}  // namespace

void register_responses_routes(httplib::Server & http, router::Router & router, ResponseStore & store) {
    lmstudio_chat_route(http, router, store);
    http.Post("/v1/responses", [&router, &store](const httplib::Request & req, httplib::Response & res) {
        auto call = responses::parse(req.body);
        if (!call) return send_openai_error(res, call.error());
        // The conversation so far: a stored response's, then this input.
        auto continues = continued(store, call->previous_response_id, call->request.model, call->request.messages, call->input);
        if (!continues) return send_openai_error(res, continues.error());
        auto history = std::move(*continues);

        auto lease = lease_model(router, call->request.model, req, call->keep_alive);
        if (!lease) return send_openai_error(res, lease.error());
        if ((*lease)->backend().upstream()) return forward(req, res, *lease);
        auto channel = (*lease)->backend().submit(call->request);
        if (!channel) return send_openai_error(res, channel.error());

        responses::Meta meta{responses::new_response_id(), (*lease)->info().id, static_cast<int64_t>(std::time(nullptr)),
                             call->previous_response_id};
        // What a finished response leaves for the next one.
        auto keep = keeper(store, call->store ? meta.id : std::string(), meta.model);
        if (call->stream) {
            auto state  = std::make_shared<responses::Stream>(*call, meta);
            auto text   = std::make_shared<std::string>();
            auto render = [state, text, keep, history](const backend::Event & ev) -> std::string {
                switch (ev.kind) {
                    case backend::Event::Kind::delta:
                        *text += ev.text;
                        return state->delta(ev);
                    case backend::Event::Kind::error: return state->error(ev.error);
                    case backend::Event::Kind::done: {
                        std::string out = state->end(ev);
                        keep(history, *text, ev, state->final_object());
                        return out;
                    }
                }
                return {};
            };
            return stream_events(req, res, *channel, "text/event-stream", state->start(), render, *lease);
        }
        std::string    text;
        backend::Event done;
        if (!collect(**channel, req, text, done)) return;
        if (done.kind == backend::Event::Kind::error) return send_openai_error(res, done.error);
        std::string object = responses::response_object(*call, meta, text, done);
        keep(std::move(history), text, done, object);
        res.set_content(object, "application/json");
    });
    http.Get(R"(/v1/responses/([^/]+))", [&store](const httplib::Request & req, httplib::Response & res) {
        auto entry = store.get(req.matches[1]);
        if (!entry) return send_openai_error(res, not_stored(req.matches[1], "response_id"));
        res.set_content(entry->object, "application/json");
    });
    http.Delete(R"(/v1/responses/([^/]+))", [&store](const httplib::Request & req, httplib::Response & res) {
        const std::string id = req.matches[1];
        if (!store.remove(id)) return send_openai_error(res, not_stored(id, "response_id"));
        res.set_content(nlohmann::json{{"id", id}, {"object", "response"}, {"deleted", true}}.dump(), "application/json");
    });
}

}  // namespace kiln::server
