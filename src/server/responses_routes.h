// Stored conversations: OpenAI's Responses API (POST /v1/responses, whole
// and streamed; GET and DELETE /v1/responses/{id}) and LM Studio's native
// POST /api/v1/chat, both continued with previous_response_id. Internal to
// server/.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/chat_template.h"
#include "router/router.h"

namespace httplib {
class Server;
}

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

  private:
    using clock = std::chrono::steady_clock;
    void expire();

    std::mutex                                                       mutex_;
    std::unordered_map<std::string, std::pair<Entry, clock::time_point>> entries_;
    std::deque<std::string>                                          order_;  // oldest first
};

void register_responses_routes(httplib::Server & http, router::Router & router, ResponseStore & store);

}  // namespace kiln::server
