#include "backend/upstream.h"

#include <atomic>
#include <condition_variable>
#include <deque>

#include <cpp-httplib/httplib.h>

namespace kiln::backend {
namespace {

using namespace std::chrono_literals;

// One exchange: its thread fills it, the reader drains it.
class Exchange final : public VerbatimAnswer {
  public:
    ~Exchange() override {
        cancel_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int                 status() const override { return status_; }
    const std::string & content_type() const override { return content_type_; }
    std::optional<Chunk> next(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, timeout, [&] { return !chunks_.empty() || done_; });
        if (!chunks_.empty()) {
            Chunk c;
            c.bytes = std::move(chunks_.front());
            chunks_.pop_front();
            return c;
        }
        if (!done_) return std::nullopt;
        Chunk end;
        end.ended = true;
        if (!failure_.empty()) end.failure = failed_with(failure_);
        return end;
    }
    void cancel() override { cancel_ = true; }

    // Starts the exchange on its own thread and waits for the status line;
    // false when the exchange ended first (failure() says why).
    bool start(Upstream & up, std::string id, const std::string & base, const VerbatimRequest & request,
               std::shared_ptr<void> permit) {
        up_     = &up;
        id_     = std::move(id);
        permit_ = std::move(permit);
        httplib::Request out;
        out.method = request.method;
        out.path   = request.path;
        out.body   = request.body;
        out.set_header("Content-Type", request.content_type);
        if (!request.accept.empty()) out.set_header("Accept", request.accept);
        if (!up.api_key().empty()) out.set_header("Authorization", "Bearer " + up.api_key());
        thread_ = std::thread([this, base, out = std::move(out)]() mutable { run(base, std::move(out)); });
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return head_ || done_; });
        return head_;
    }
    // Why it ended before the status line, and whether trying again may help
    // (the connection failed: the runner died a moment ago).
    std::string failure() {
        std::lock_guard lock(mutex_);
        return failure_.empty() ? "no response" : failure_;
    }
    bool connection_failed() {
        std::lock_guard lock(mutex_);
        switch (error_) {
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
    Error failed_with(const std::string & why) const {
        up_->failed();
        return make_error(ErrorCode::unavailable, "model '" + id_ + "': the runner failed (" + why + ")");
    }

  private:
    bool stop() const { return cancel_.load() || up_->stopping(); }

    void run(const std::string & base, httplib::Request out) {
        httplib::Client http(base);
        http.set_connection_timeout(10);
        http.set_read_timeout(600);  // a long prompt may take minutes before its first byte
        out.response_handler = [this](const httplib::Response & r) {
            std::lock_guard lock(mutex_);
            status_       = r.status;
            content_type_ = r.get_header_value("Content-Type", "application/json");
            head_         = true;
            cv_.notify_all();
            return !stop();
        };
        out.content_receiver = [this](const char * data, size_t n, uint64_t, uint64_t) {
            std::lock_guard lock(mutex_);
            chunks_.emplace_back(data, n);
            cv_.notify_all();
            return !stop();
        };
        auto result = http.send(out);
        std::lock_guard lock(mutex_);
        if (!result && !cancel_.load()) {
            error_   = result.error();
            failure_ = up_->stopping() ? "the server is shutting down" : httplib::to_string(result.error());
        }
        done_ = true;
        cv_.notify_all();
    }

    Upstream *              up_ = nullptr;
    std::string             id_;
    std::shared_ptr<void>   permit_;
    std::mutex              mutex_;
    std::condition_variable cv_;
    bool                    head_ = false;
    bool                    done_ = false;
    std::string             failure_;  // why it ended early (a connection error); empty if it did not
    httplib::Error          error_ = httplib::Error::Success;
    int                     status_ = 0;
    std::string             content_type_;
    std::deque<std::string> chunks_;
    std::atomic<bool>       cancel_{false};
    std::thread             thread_;  // last: joined before the rest goes
};

}  // namespace

Result<std::shared_ptr<VerbatimAnswer>> exchange(Upstream & up, const std::string & id, const VerbatimRequest & request,
                                                 std::shared_ptr<void> permit) {
    for (int attempt = 0;; ++attempt) {
        auto base = up.ready();
        if (!base) return make_error(ErrorCode::unavailable, base.error().message);
        auto ex = std::make_shared<Exchange>();
        if (ex->start(up, id, *base, request, permit)) return std::shared_ptr<VerbatimAnswer>(ex);
        const bool retrying = ex->connection_failed() && attempt == 0;
        Error      failed   = ex->failed_with(ex->failure());  // reports it to the runner's keeper
        if (!retrying) return failed;
    }
}

ChatBridges::~ChatBridges() {
    for (auto & r : running_) r.thread.join();
}

Result<std::shared_ptr<Channel>> ChatBridges::submit(Upstream & up, const std::string & id, std::shared_ptr<const ChatCodec> codec,
                                                     const ChatRequest & request, const std::string & model) {
    VerbatimRequest v;
    v.path   = "/v1/chat/completions";
    v.body   = codec->body(request, model);
    v.accept = "text/event-stream";
    KILN_TRY(auto answer, exchange(up, id, v, up.admit()));
    auto channel = std::make_shared<Channel>();
    auto done    = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([channel, answer, done, reader = std::shared_ptr<ChatCodec::Reader>(codec->reader()), codec] {
        std::string raw;  // the body, when it is an error
        const bool  ok = answer->status() == 200;
        for (;;) {
            if (channel->cancelled()) {
                answer->cancel();
                break;
            }
            auto chunk = answer->next(100ms);
            if (!chunk) continue;
            if (!chunk->ended) {
                if (!ok) {
                    if (raw.size() < 4096) raw.append(chunk->bytes, 0, 4096 - raw.size());
                } else {
                    for (auto & e : reader->feed(chunk->bytes)) channel->push(std::move(e));
                }
                continue;
            }
            if (chunk->failure) {
                Error e = *chunk->failure;
                e.message = "the model's runner broke off: " + e.message;
                channel->push(Event::fail(std::move(e)));
            } else if (!ok) {
                const int status = answer->status();
                channel->push(Event::fail(make_error(status == 404 ? ErrorCode::model_not_found : ErrorCode::invalid_request,
                                                     "the model's runner answered " + std::to_string(status) + ": " +
                                                         codec->error_message(raw))));
            } else {
                channel->push(reader->end());
            }
            break;
        }
        *done = true;
    });
    std::lock_guard lock(mutex_);
    for (auto it = running_.begin(); it != running_.end();) {
        if (it->done->load()) {
            it->thread.join();
            it = running_.erase(it);
        } else {
            ++it;
        }
    }
    running_.push_back({std::move(thread), done});
    return channel;
}

}  // namespace kiln::backend
