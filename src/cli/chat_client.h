// Where kiln run's chats go: a running kiln server (models stay loaded
// between runs, like Ollama) or a model loaded in this process. Both stream
// the answer's text and end with its counts; both stop when asked.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/types.h"
#include "engine/context.h"
#include "core/result.h"

namespace kiln::cli {

struct TurnStats {
    int32_t     prompt_tokens = 0;
    int32_t     completion_tokens = 0;
    int32_t     cached_tokens = 0;
    double      ttft_ms = 0;        // request to first text, as this side saw it
    double      prompt_ms = 0;      // the server's prompt time
    double      generation_ms = 0;
    std::string finish;             // stop | length | cancelled
};

// The settings of a chat: sampling and limits; `set` marks what was given.
struct ChatSettings {
    engine::SamplingParams sampling;
    int32_t                max_tokens = -1;
    int32_t                num_ctx    = 0;  // 0: the model's
    std::vector<std::string> stop;
    bool                     ignore_eos = false;  // benchmarks: generate past end-of-sequence
};

class ChatClient {
  public:
    virtual ~ChatClient() = default;
    // Streams one answer to `on_text`; `cancel` stops it within a step.
    virtual Result<TurnStats> send(const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                                   const std::function<void(const std::string &)> & on_text,
                                   const std::atomic<bool> & cancel) = 0;
    // Tokens the conversation takes, template applied.
    virtual Result<int32_t> count_tokens(const std::vector<engine::ChatMessage> & messages) = 0;
    // The context an answer and its conversation must fit (0: unknown).
    virtual int32_t context() = 0;
    virtual std::string model() const = 0;
    // A few lines about the model (for /show).
    virtual std::string describe() = 0;
    // "server http://..." or "in-process".
    virtual std::string where() const = 0;
};

// The server at `url` when it answers /health within a moment, else null.
std::unique_ptr<ChatClient> connect_server(const std::string & url, const std::string & api_key, const std::string & model);
// `model` loaded here (a GGUF path, a preset or a catalog name), with
// threads and context from the flags (0: the defaults).
Result<std::unique_ptr<ChatClient>> load_local(const std::string & model, int32_t n_ctx, int32_t threads,
                                               engine::ContextParams::FlashAttn flash_attn, bool verbose);

}  // namespace kiln::cli
