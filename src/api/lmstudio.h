// LM Studio's REST API: GET /api/v0/models (and /{id}), GET /api/v1/models,
// and the "stats", "model_info" and "runtime" its /api/v0 chat, completion
// and embedding answers add to OpenAI's. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backend/types.h"
#include "api/responses.h"
#include "core/result.h"

namespace kiln::api::lmstudio {

// `models`: every model a client may name; a loaded one has n_ctx > 0.
std::string models_v0(const std::vector<backend::ModelInfo> & models);
std::string model_v0(const backend::ModelInfo & model);
std::string models_v1(const std::vector<backend::ModelInfo> & models);

// OpenAI's whole answer `body` with LM Studio's stats, model_info and runtime.
std::string add_v0_stats(const std::string & body, const backend::Done & done, const backend::ModelInfo & model);

// POST /api/v1/models/download {model (org/repo or a Hugging Face link),
// quantization}: the reference kiln pulls ("org/repo:QUANT").
Result<std::string> parse_download(std::string_view body);
// A download job as LM Studio reports it.
struct DownloadView {
    std::string id, status;
    uint64_t    downloaded = 0, total = 0;
    double      bytes_per_second = 0;
    int64_t     started_ms = 0, completed_ms = 0;  // unix ms; 0: not yet
    std::string error;
};
std::string download_json(const DownloadView & job);
// {downloading: [...], completed: [...], failed: [...], paused: []}
std::string download_status_json(const std::vector<DownloadView> & jobs);

// POST /api/v1/chat, LM Studio's native chat: {model, input (a string, or
// text/message items), system_prompt, stream, temperature, top_p, top_k,
// min_p, repeat_penalty, max_output_tokens, reasoning (off | on | low |
// medium | high), context_length, store, previous_response_id}. Stateful
// like the Responses API: an answer's response_id continues it.
struct V1ChatCall : responses::Conversation {  // system_prompt as the instructions
    int32_t n_ctx = 0;
};
Result<V1ChatCall> parse_v1_chat(std::string_view body);

// {model_instance_id, output: [reasoning, message], stats, response_id}
// (response_id empty: not stored, left out).
std::string v1_chat_result(const std::string & model, const std::string & text, const backend::Done & done,
                           const std::string & response_id);

// The named SSE events of a streamed chat: chat.start and
// prompt_processing.start, prompt_processing.end at the first token,
// reasoning.* and message.* (start, delta, end), then chat.end with the
// whole result; or error.
class V1ChatStream {
  public:
    explicit V1ChatStream(std::string model) : model_(std::move(model)) {}
    std::string start();
    std::string delta(const backend::Delta & delta);
    std::string end(const backend::Done & done, const std::string & text, const std::string & response_id);
    std::string error(const Error & error);

  private:
    enum class Part { none, reasoning, message };
    std::string switch_to(Part part);
    std::string model_;
    Part        open_    = Part::none;
    bool        started_ = false;  // the first token came
};

}  // namespace kiln::api::lmstudio
