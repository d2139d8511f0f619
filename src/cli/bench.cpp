#include "cli/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include <cpp-httplib/httplib.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

namespace kiln::cli::bench {
namespace {

using json  = nlohmann::json;
using clock = std::chrono::steady_clock;

// Short, common words: most are one token in every vocabulary we test with.
const char * const kWords[] = {"the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "are", "as",
                               "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
                               "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said",
                               "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will",
                               "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her",
                               "would", "make", "like", "him", "into", "time", "has", "look", "two", "more", "go"};

std::string words(std::mt19937_64 & rng, int32_t n) {
    std::string s;
    for (int32_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += kWords[rng() % std::size(kWords)];
    }
    return s;
}

Percentiles percentiles(std::vector<double> v) {
    Percentiles p;
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))]; };
    p.p50 = at(0.50);
    p.p90 = at(0.90);
    p.p99 = at(0.99);
    double sum = 0;
    for (double x : v) sum += x;
    p.mean = sum / static_cast<double>(v.size());
    return p;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Sample {
    bool                ok = false;
    std::string         error;
    std::string         text;  // the answer, for multi-turn history
    double              ttft_ms = 0;
    std::vector<double> itl_ms;
    int64_t             output_tokens = 0;
    int64_t             prompt_tokens = 0;
    int64_t             cached_tokens = 0;
};

// One streamed chat completion; parses the SSE stream as it arrives.
Sample request(httplib::Client & http, const Scenario & sc, const json & messages) {
    json body = {{"messages", messages},       {"stream", true},    {"max_tokens", sc.gen_tokens},
                 {"ignore_eos", true},         {"temperature", 0.8}, {"stream_options", {{"include_usage", true}}}};
    if (!sc.model.empty()) body["model"] = sc.model;
    const std::string payload = body.dump();
    httplib::Headers  headers;
    if (!sc.api_key.empty()) headers.emplace("Authorization", "Bearer " + sc.api_key);

    Sample     s;
    std::string buffer;
    int64_t    chunks = 0;
    const auto t0     = clock::now();
    auto       last   = t0;
    auto on_event = [&](const std::string & data) {
        if (data == "[DONE]") return;
        json j = json::parse(data, nullptr, false);
        if (j.is_discarded()) return;
        if (j.contains("error")) {
            s.error = j["error"].is_object() ? j["error"].value("message", "error") : j["error"].dump();
            return;
        }
        if (j.contains("usage") && j["usage"].is_object()) {
            s.output_tokens = j["usage"].value("completion_tokens", 0);
            s.prompt_tokens = j["usage"].value("prompt_tokens", 0);
            if (j["usage"].contains("prompt_tokens_details") && j["usage"]["prompt_tokens_details"].is_object()) {
                s.cached_tokens = j["usage"]["prompt_tokens_details"].value("cached_tokens", 0);
            }
        }
        if (!j.contains("choices") || j["choices"].empty()) return;
        const json & delta = j["choices"][0]["delta"];
        if (!delta.contains("content") || !delta["content"].is_string()) return;
        const std::string piece = delta["content"].get<std::string>();
        if (piece.empty()) return;
        const auto now = clock::now();
        if (chunks++ == 0) s.ttft_ms = std::chrono::duration<double, std::milli>(now - t0).count();
        else s.itl_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
        last = now;
        s.text += piece;
    };
    auto res = http.Post(
        "/v1/chat/completions", headers, payload.size(),
        [&](size_t offset, size_t length, httplib::DataSink & sink) {
            return sink.write(payload.data() + offset, length);
        },
        "application/json",
        [&](const char * data, size_t len) {
            buffer.append(data, len);
            for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
                std::string event = buffer.substr(0, end);
                buffer.erase(0, end + 2);
                for (size_t pos = 0; pos < event.size();) {
                    size_t nl   = event.find('\n', pos);
                    auto   line = event.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
                    if (line.rfind("data: ", 0) == 0) on_event(line.substr(6));
                    if (nl == std::string::npos) break;
                    pos = nl + 1;
                }
            }
            return true;
        },
        nullptr);
    if (!res) {
        s.error = "connection failed: " + httplib::to_string(res.error());
    } else if (res->status != 200) {
        s.error = "HTTP " + std::to_string(res->status) + ": " + buffer.substr(0, 200);
    } else if (s.error.empty()) {
        if (s.output_tokens == 0) s.output_tokens = chunks;  // server sent no usage
        s.ok = chunks > 0;
        if (!s.ok) s.error = "no tokens in the stream";
    }
    return s;
}

}  // namespace

LevelResult run(const Scenario & sc) {
    const int32_t clients = sc.multi_turn ? sc.users : sc.concurrency;
    const int32_t total   = sc.multi_turn ? sc.users * sc.turns : (sc.requests > 0 ? sc.requests : 4 * sc.concurrency);

    std::mt19937_64   shared_rng(std::hash<std::string>{}(sc.salt));
    const std::string prefix = sc.salt + " " + words(shared_rng, sc.shared_prefix);

    std::mutex          mutex;
    std::vector<Sample> samples;
    std::atomic<int>    next{0};
    auto worker = [&](int id) {
        httplib::Client http(sc.url);
        http.set_read_timeout(600, 0);
        http.set_write_timeout(60, 0);
        http.set_connection_timeout(10, 0);
        std::mt19937_64 rng(std::hash<std::string>{}(sc.salt) + 7919u * static_cast<uint64_t>(id + 1));
        json history = json::array();
        if (sc.multi_turn && sc.shared_prefix > 0) history.push_back({{"role", "system"}, {"content", prefix}});
        for (int turn = 0;; ++turn) {
            json messages;
            if (sc.multi_turn) {
                if (turn >= sc.turns) break;
                history.push_back({{"role", "user"}, {"content", words(rng, sc.prompt_tokens)}});
                messages = history;
            } else {
                if (next.fetch_add(1) >= total) break;
                std::string content = sc.shared_prefix > 0 ? prefix + " " : sc.salt + " ";
                content += words(rng, sc.prompt_tokens);
                messages = json::array({{{"role", "user"}, {"content", content}}});
            }
            Sample s = request(http, sc, messages);
            if (sc.multi_turn) history.push_back({{"role", "assistant"}, {"content", s.text}});
            std::lock_guard lock(mutex);
            samples.push_back(std::move(s));
        }
    };

    const double cpu0 = cpu_seconds();
    const auto   t0   = clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) threads.emplace_back(worker, i);
    for (auto & t : threads) t.join();

    LevelResult r;
    r.concurrency = clients;
    r.seconds     = std::chrono::duration<double>(clock::now() - t0).count();
    r.client_cpu  = (cpu_seconds() - cpu0) / std::max(1e-9, r.seconds);
    std::vector<double> ttft, itl;
    for (auto & s : samples) {
        ++r.requests;
        if (!s.ok) {
            ++r.failed;
            if (r.first_error.empty()) r.first_error = s.error;
            continue;
        }
        ttft.push_back(s.ttft_ms);
        itl.insert(itl.end(), s.itl_ms.begin(), s.itl_ms.end());
        r.output_tokens += s.output_tokens;
        r.prompt_tokens += s.prompt_tokens;
        r.cached_tokens += s.cached_tokens;
    }
    r.ttft_ms     = percentiles(std::move(ttft));
    r.itl_ms      = percentiles(std::move(itl));
    r.output_tps  = static_cast<double>(r.output_tokens) / r.seconds;
    r.requests_ps = static_cast<double>(r.requests - r.failed) / r.seconds;
    return r;
}

}  // namespace kiln::cli::bench
