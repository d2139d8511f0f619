// Stored conversations: OpenAI's Responses API (POST /v1/responses, whole
// and streamed; GET and DELETE /v1/responses/{id}), continued with
// previous_response_id, as LM Studio's POST /api/v1/chat is
// (server/lmstudio_routes.h). Internal to server/.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/responses.h"
#include "backend/types.h"
#include "engine/chat_template.h"
#include "router/router.h"
#include "server/pipeline.h"
#include "server/httplib_fwd.h"

namespace kiln::server {

// Stored responses, for previous_response_id and GET: each response's whole
// conversation (without its instructions) and its response object. Bounded:
// the oldest go past kMaxEntries, and any older than kMaxAge. Thread-safe.
class ResponseStore {
  public:
    static constexpr size_t               kMaxEntries = 1024;
    static constexpr std::chrono::minutes kMaxAge{60};

    struct Entry {
        std::string                      model;
        std::vector<engine::ChatMessage> messages;
        std::string                      object;  // the response, as answered
    };
    void                 put(const std::string & id, Entry entry);
    std::optional<Entry> get(const std::string & id);
    bool                 remove(const std::string & id);

    // The conversation `call` continues: the stored one its
    // previous_response_id names (its model, when the call names none), put
    // before the call's input in its messages. Returns it with the input, to
    // be stored with the answer. Errors: not_found (never stored, or expired).
    Result<std::vector<engine::ChatMessage>> continued(api::responses::Conversation & call);
    // Keeps a finished answer as `id` (nothing when `id` is empty): the
    // conversation with the assistant's turn, and the object answered.
    using Keeper = std::function<void(std::vector<engine::ChatMessage> conversation, const std::string & text,
                                      const backend::Done & done, std::string object)>;
    Keeper keeper(std::string id, std::string model);
    // The error for an id that is not stored; `param` names where it came from.
    static Error not_stored(const std::string & id, const char * param);

  private:
    using clock = std::chrono::steady_clock;
    void expire();

    std::mutex                                                       mutex_;
    std::unordered_map<std::string, std::pair<Entry, clock::time_point>> entries_;
    std::deque<std::string>                                          order_;  // oldest first
};

// A Render of an answer that is kept in the store once it ends (when its
// keeper has an id): the family's part says how it streams and what object
// it answers; the answer's text and the keeping are here.
class KeptRender : public Render {
  public:
    KeptRender(ResponseStore::Keeper keep, std::vector<engine::ChatMessage> history)
        : keep_(std::move(keep)), history_(std::move(history)) {}
    std::string event(const backend::Event & ev) final;
    std::string whole(const std::string & text, const backend::Done & done) final;

  protected:
    virtual std::string delta(const backend::Delta & ev) = 0;
    virtual std::string error(const Error & e) = 0;
    // The last bytes of a stream, and (in `object`) the object it answered.
    virtual std::string end(const backend::Done & done, const std::string & text, std::string & object) = 0;
    // The whole answer's object.
    virtual std::string object(const std::string & text, const backend::Done & done) = 0;

  private:
    ResponseStore::Keeper            keep_;
    std::vector<engine::ChatMessage> history_;
    std::string                      text_;
};

void register_responses_routes(httplib::Server & http, router::Router & router, ResponseStore & store);

}  // namespace kiln::server
