// Backends that are other servers speaking the OpenAI API: `process`, a
// managed child process (llama-server, MLX's server, vLLM, another kiln)
// started on a free loopback port and health-checked, and `remote`, a fixed
// upstream URL. An OpenAI request goes to them verbatim (submit_verbatim,
// the fast path); a typed chat is put to them as an OpenAI chat completion
// through the injected ChatCodec (backend/upstream.h). This class owns the
// runner's life: start, readiness, restart with backoff after it dies, stop
// (SIGTERM, then SIGKILL), the per-model log, and a concurrency limit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>

#include "backend/types.h"
#include "backend/upstream.h"

namespace kiln::backend {

struct ProxyOptions {
    std::string              id;            // the model id clients use
    const std::atomic<bool> * cancel = nullptr;  // set: a runner still starting is stopped (shutdown)
    // process: the command line; ${PORT}, ${HOST}, ${MODEL_PATH}, ${MODEL},
    // ${CTX}, ${SLOTS}, ${THREADS}, ${KILN_BIN} are replaced at each start.
    std::vector<std::string> command;
    std::map<std::string, std::string> vars;  // values for the placeholders (PORT and HOST are set at start)
    std::string              url;            // remote: the upstream base URL ("http://host:port")
    std::string              api_key;        // sent as "Authorization: Bearer"; empty: the client's is not forwarded
    std::string              health_path = "/health";
    std::chrono::milliseconds ready_timeout{std::chrono::minutes(2)};
    std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
    std::filesystem::path    log_path;       // process: stdout and stderr go here (appended)
    int32_t                  max_concurrent = 0;  // requests forwarded at once; 0: no limit
    int32_t                  n_ctx = 0;           // shown in /api/ps; 0: unknown
    // Puts typed chats (Ollama's, Anthropic's, LM Studio's routes) to the
    // runner; null: only OpenAI requests, verbatim, reach it.
    std::shared_ptr<const ChatCodec> chat_codec;
};

// SIGKILLs every running runner's process group, at once: for a process
// that must exit now (a second SIGTERM) and leave no runner behind. Any thread.
void kill_all_runners();

class ProxyBackend final : public Backend, public Upstream {
  public:
    // Starts the process (or checks the remote) and returns once it is
    // healthy. Errors: invalid_request (bad command), unavailable (not
    // healthy in time, or it exited: the message quotes its log's end).
    static Result<std::unique_ptr<ProxyBackend>> create(ProxyOptions options);
    ~ProxyBackend() override;  // stops the process

    const ModelInfo & info() const override { return info_; }
    // A chat goes through the ChatCodec; the other typed requests are not
    // translated for an external runner: they get a clear error.
    Result<std::shared_ptr<Channel>> submit(ChatRequest) override;
    Result<std::shared_ptr<Channel>> submit(CompletionRequest) override;
    Result<std::shared_ptr<Channel>> submit(EmbedRequest) override;
    Result<std::shared_ptr<Channel>> submit(RerankRequest) override;
    void       shutdown() override;
    Result<std::shared_ptr<VerbatimAnswer>> submit_verbatim(const VerbatimRequest & request) override;
    Upstream * upstream() { return this; }

    // Upstream
    Result<std::string> ready() override;
    const std::string & api_key() const override { return options_.api_key; }
    std::shared_ptr<void> admit() override;
    void                failed() override;
    bool                stopping() const override { return stopped_.load(); }

    pid_t pid() const;  // the running child, or -1

  private:
    explicit ProxyBackend(ProxyOptions options);
    Status start_locked();       // spawn and wait until healthy
    bool   healthy(const std::string & base) const;
    bool   reap_locked();        // true if the child has exited (and was reaped)
    void   stop_locked();
    std::string log_tail() const;
    Error       unavailable(const std::string & why) const;

    ProxyOptions            options_;
    ModelInfo               info_;
    mutable std::mutex      mutex_;   // the child and its state; held while starting
    pid_t                   pid_ = -1;
    std::string             base_;    // the process's URL while it runs
    std::atomic<bool>       stopped_{false};
    int                     failures_ = 0;  // starts in a row that died soon after
    std::chrono::steady_clock::time_point started_at_{};
    std::chrono::steady_clock::time_point next_start_{};  // backoff
    std::mutex              admit_mutex_;
    std::condition_variable admit_cv_;
    int32_t                 in_flight_ = 0;
    ChatBridges             bridges_;  // last: its threads are joined before the rest goes
};

// Splits a command line on spaces, keeping "quoted" and 'quoted' words whole.
std::vector<std::string> split_command(const std::string & line);

}  // namespace kiln::backend
