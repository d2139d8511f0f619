#include "api/lmstudio.h"

#include <chrono>

#include "api/json_fields.h"
#include "api/models_api.h"
#include "store/gguf_info.h"

namespace kiln::api::lmstudio {
namespace {

bool loaded(const backend::ModelInfo & m) { return m.n_ctx > 0; }

// "org/repo:QUANT" -> "org"; a name without an org is "local".
std::string publisher(const std::string & id) {
    const size_t slash = id.find('/');
    return slash == std::string::npos ? "local" : id.substr(0, slash);
}

json v0(const backend::ModelInfo & m) {
    return {{"id", m.id},
            {"object", "model"},
            {"type", m.embedding ? "embeddings" : "llm"},
            {"publisher", publisher(m.id)},
            {"arch", m.arch},
            {"compatibility_type", "gguf"},
            {"quantization", m.quant},
            {"state", loaded(m) ? "loaded" : "not-loaded"},
            {"max_context_length", m.n_ctx_train},
            {"capabilities", json::array()}};
}

}  // namespace

std::string models_v0(const std::vector<backend::ModelInfo> & models) {
    json data = json::array();
    for (const auto & m : models) data.push_back(v0(m));
    return dump({{"object", "list"}, {"data", std::move(data)}});
}

std::string model_v0(const backend::ModelInfo & model) { return dump(v0(model)); }

std::string models_v1(const std::vector<backend::ModelInfo> & models) {
    json list = json::array();
    for (const auto & m : models) {
        json instances = json::array();
        if (loaded(m)) instances.push_back({{"id", m.id}, {"config", {{"context_length", m.n_ctx}}}});
        list.push_back({{"type", m.embedding ? "embedding" : "llm"},
                        {"publisher", publisher(m.id)},
                        {"key", m.id},
                        {"display_name", m.id},
                        {"architecture", m.arch},
                        {"quantization", {{"name", m.quant}}},
                        {"size_bytes", m.size_bytes},
                        {"params_string", m.n_params ? store::format_params(m.n_params) : ""},
                        {"loaded_instances", std::move(instances)},
                        {"max_context_length", m.n_ctx_train},
                        {"format", "gguf"},
                        {"capabilities", {{"vision", false}, {"trained_for_tool_use", false}}}});
    }
    return dump({{"models", std::move(list)}});
}

std::string add_v0_stats(const std::string & body, const backend::Done & done, const backend::ModelInfo & model) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return body;
    const double gen_s = done.timings.generation_ms / 1000.0;
    j["stats"]         = {{"tokens_per_second", gen_s > 0 ? done.usage.completion_tokens / gen_s : 0.0},
                          {"time_to_first_token", done.timings.prompt_ms / 1000.0},
                          {"generation_time", gen_s},
                          {"stop_reason", done.finish == backend::FinishReason::length ? "maxPredictedTokensReached"
                                          : !done.stop_sequence.empty()               ? "stopStringFound"
                                                                                      : "eosFound"}};
    j["model_info"] = {{"arch", model.arch}, {"quant", model.quant}, {"format", "gguf"}, {"context_length", model.n_ctx_seq}};
    j["runtime"]    = {{"name", "kiln-llama.cpp"}, {"version", "1"}, {"supported_formats", json::array({"gguf"})}};
    return dump(j);
}

namespace {

std::string sse(const char * type, json body) {
    body["type"] = type;
    return std::string("event: ") + type + "\ndata: " + dump(body) + "\n\n";
}

}  // namespace

Result<std::string> parse_download(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return bad("'model' is required", "model");
    std::string ref = *model;
    for (const char * prefix : {"https://huggingface.co/", "http://huggingface.co/", "https://hf.co/", "hf.co/"}) {
        if (ref.rfind(prefix, 0) == 0) ref = ref.substr(std::string(prefix).size());
    }
    while (!ref.empty() && ref.back() == '/') ref.pop_back();
    KILN_TRY(auto quant, get_string(j, "quantization"));
    if (quant && !quant->empty()) {
        if (ref.find(':') != std::string::npos) return bad("give the quantization once: in 'model' or in 'quantization'", "quantization");
        ref += ":" + *quant;
    }
    return ref;
}

namespace {

std::string iso_ms(int64_t ms) {
    return rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

json download_view(const DownloadView & v) {
    json j = {{"status", v.status}};
    if (v.status == "already_downloaded") return j;
    j["job_id"]           = v.id;
    j["total_size_bytes"] = v.total;
    j["downloaded_bytes"] = v.downloaded;
    if (v.started_ms) j["started_at"] = iso_ms(v.started_ms);
    if (v.status == "downloading") {
        j["bytes_per_second"] = v.bytes_per_second;
        if (v.bytes_per_second > 0 && v.total >= v.downloaded) {
            const double left_s      = static_cast<double>(v.total - v.downloaded) / v.bytes_per_second;
            const int64_t now        = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
            j["estimated_completion"] = iso_ms(now + static_cast<int64_t>(left_s * 1000));
        }
    }
    if (v.status == "completed" && v.completed_ms) j["completed_at"] = iso_ms(v.completed_ms);
    if (v.status == "failed" && !v.error.empty()) j["error"] = v.error;
    return j;
}

}  // namespace

std::string download_json(const DownloadView & job) { return dump(download_view(job)); }

std::string download_status_json(const std::vector<DownloadView> & jobs) {
    json out = {{"downloading", json::array()}, {"completed", json::array()}, {"failed", json::array()}, {"paused", json::array()}};
    for (const auto & j : jobs) {
        // A model that was there already counts as a completed job here.
        const std::string key = j.status == "already_downloaded" ? "completed" : j.status;
        if (!out.contains(key)) continue;
        DownloadView v = j;
        if (v.status == "already_downloaded") v.status = "completed";
        out[key].push_back(download_view(v));
    }
    return dump(out);
}

Result<V1ChatCall> parse_v1_chat(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    V1ChatCall call;
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return bad("'model' is required", "model");
    call.request.model = *model;
    KILN_CHECK(responses::get_conversation_fields(j, call));
    KILN_TRY(auto n_ctx, get_int(j, "context_length", 1, 1 << 24));
    call.n_ctx = static_cast<int32_t>(n_ctx.value_or(0));
    KILN_TRY(auto reasoning, get_string(j, "reasoning"));
    if (reasoning) {
        const std::string & r = *reasoning;
        if (r != "off" && r != "on" && r != "low" && r != "medium" && r != "high") {
            return bad("'reasoning' must be off, on, low, medium or high", "reasoning");
        }
        call.request.options.think = r != "off";
        call.request.must_think    = r != "off";
    }
    if (auto integ = j.find("integrations"); integ != j.end() && !integ->is_null() && !(integ->is_array() && integ->empty())) {
        return bad("'integrations' (MCP servers and plugins) are not supported", "integrations");
    }
    auto input = j.find("input");
    if (input == j.end() || input->is_null()) return bad("'input' is required", "input");
    if (input->is_string()) {
        call.input.emplace_back("user", input->get<std::string>());
    } else if (input->is_array() && !input->empty()) {
        std::string text;
        for (size_t i = 0; i < input->size(); ++i) {
            const json &      item  = (*input)[i];
            const std::string where = "input[" + std::to_string(i) + "]";
            const std::string type  = text_field(item, "type");
            const char *      field = type == "text" ? "text" : type == "message" ? "content" : nullptr;
            if (!field) return bad("'" + where + "' must be a text or message item (this model takes text only)", where);
            if (!item.contains(field) || !item[field].is_string()) return bad("'" + where + "." + field + "' must be a string", where);
            if (!text.empty()) text += "\n";
            text += item[field].get<std::string>();
        }
        call.input.emplace_back("user", std::move(text));
    } else {
        return bad("'input' must be a string or a list of text items", "input");
    }
    KILN_TRY(auto system, get_string(j, "system_prompt"));
    if (system && !system->empty()) call.request.messages.emplace_back("system", *system);
    call.request.messages.insert(call.request.messages.end(), call.input.begin(), call.input.end());
    return call;
}

std::string v1_chat_result(const std::string & model, const std::string & text, const backend::Done & done,
                           const std::string & response_id) {
    json output = json::array();
    if (!done.reasoning.empty()) output.push_back({{"type", "reasoning"}, {"content", done.reasoning}});
    output.push_back({{"type", "message"}, {"content", text}});
    const double gen_s = done.timings.generation_ms / 1000.0;
    json         j     = {{"model_instance_id", model},
                          {"output", std::move(output)},
                          {"stats",
                           {{"input_tokens", done.usage.prompt_tokens},
                            {"total_output_tokens", done.usage.completion_tokens},
                            {"reasoning_output_tokens", 0},
                            {"tokens_per_second", gen_s > 0 ? done.usage.completion_tokens / gen_s : 0.0},
                            {"time_to_first_token_seconds", done.timings.prompt_ms / 1000.0}}}};
    if (!response_id.empty()) j["response_id"] = response_id;
    return dump(j);
}

std::string V1ChatStream::start() {
    std::string out = sse("chat.start", {{"model_instance_id", model_}});
    return out + sse("prompt_processing.start", json::object());
}

std::string V1ChatStream::switch_to(Part part) {
    std::string out;
    if (!started_) {
        started_ = true;
        out += sse("prompt_processing.end", json::object());
    }
    if (open_ == part) return out;
    if (open_ != Part::none) out += sse(open_ == Part::reasoning ? "reasoning.end" : "message.end", json::object());
    open_ = part;
    if (part != Part::none) out += sse(part == Part::reasoning ? "reasoning.start" : "message.start", json::object());
    return out;
}

std::string V1ChatStream::delta(const backend::Delta & ev) {
    if (!ev.reasoning.empty()) return switch_to(Part::reasoning) + sse("reasoning.delta", {{"content", ev.reasoning}});
    if (ev.text.empty()) return {};
    std::string out = switch_to(Part::message);
    return out + sse("message.delta", {{"content", ev.text}});
}

std::string V1ChatStream::end(const backend::Done & done, const std::string & text, const std::string & response_id) {
    std::string out = switch_to(Part::none);
    json        result = json::parse(v1_chat_result(model_, text, done, response_id));
    return out + sse("chat.end", {{"result", std::move(result)}});
}

std::string V1ChatStream::error(const Error & e) {
    const char * type = e.code == ErrorCode::model_not_found ? "model_not_found"
                        : e.code == ErrorCode::invalid_request ? "invalid_request"
                                                                 : "internal_error";
    json err = {{"type", type}, {"message", e.message}};
    if (!e.param.empty()) err["param"] = e.param;
    return sse("error", {{"error", std::move(err)}});
}

}  // namespace kiln::api::lmstudio
