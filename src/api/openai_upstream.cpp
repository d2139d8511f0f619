#include "api/openai_upstream.h"

#include "api/json_fields.h"
#include "core/json_number.h"
#include "engine/chat_output.h"

namespace kiln::api::openai {

std::string upstream_chat_body(const backend::ChatRequest & r, const std::string & model) {
    json messages = json::array();
    for (const auto & m : r.messages) {
        json msg = {{"role", m.role}, {"content", m.content}};
        if (!m.tool_calls.empty()) {
            json calls = json::array();
            for (const auto & c : m.tool_calls) {
                calls.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
            }
            msg["tool_calls"] = std::move(calls);
        }
        if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
        if (!m.tool_name.empty()) msg["name"] = m.tool_name;
        messages.push_back(std::move(msg));
    }
    json body = {{"model", model}, {"messages", std::move(messages)}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
    const auto & p = r.params;
    using F        = engine::SamplingParams;
    const auto & s = p.sampling;
    if (s.set & F::temperature_set) body["temperature"] = s.temperature;
    if (s.set & F::top_p_set) body["top_p"] = s.top_p;
    if (s.set & F::top_k_set) body["top_k"] = s.top_k;
    if (s.set & F::min_p_set) body["min_p"] = s.min_p;
    if (s.set & F::repeat_penalty_set) body["repeat_penalty"] = s.repeat_penalty;
    if (s.set & F::presence_penalty_set) body["presence_penalty"] = s.presence_penalty;
    if (s.set & F::frequency_penalty_set) body["frequency_penalty"] = s.frequency_penalty;
    if (s.seed) body["seed"] = *s.seed;
    if (p.max_tokens >= 0) body["max_tokens"] = p.max_tokens;
    if (!p.stop.empty()) body["stop"] = p.stop;
    if (!p.json_schema.empty()) {
        body["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "answer"}, {"schema", json::parse(p.json_schema)}}}};
    }
    const auto & o = r.options;
    if (!o.tools.empty()) {
        json tools = json::array();
        for (const auto & t : o.tools) {
            json fn = {{"name", t.name}};
            if (!t.description.empty()) fn["description"] = t.description;
            if (!t.parameters.empty()) fn["parameters"] = json::parse(t.parameters);
            tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
        }
        body["tools"]               = std::move(tools);
        body["tool_choice"]         = o.tool_choice == engine::ToolChoice::required ? "required"
                                      : o.tool_choice == engine::ToolChoice::none   ? "none"
                                                                                      : "auto";
        body["parallel_tool_calls"] = o.parallel_tool_calls;
    }
    if (o.think) body["chat_template_kwargs"] = {{"enable_thinking", *o.think}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<backend::Event> UpstreamReader::feed(std::string_view bytes) {
    std::vector<backend::Event> out;
    buffer_.append(bytes);
    for (size_t end; (end = buffer_.find("\n\n")) != std::string::npos;) {
        const std::string event = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        for (size_t pos = 0; pos < event.size();) {
            const size_t nl   = event.find('\n', pos);
            const auto   line = std::string_view(event).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            if (line.rfind("data: ", 0) == 0) chunk(line.substr(6), out);
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
    }
    return out;
}

void UpstreamReader::chunk(std::string_view data, std::vector<backend::Event> & out) {
    if (data == "[DONE]") {
        finished_ = true;
        return;
    }
    json j = json::parse(data, nullptr, false);
    if (!j.is_object()) return;
    if (j.contains("error")) {
        const std::string why = j["error"].is_object() ? text_field(j["error"], "message", "error") : dump(j["error"]);
        error_    = make_error(ErrorCode::unavailable, "the upstream failed: " + why);
        finished_ = true;
        return;
    }
    if (j.contains("usage") && j["usage"].is_object()) {
        usage_.prompt_tokens     = json_count_field<int32_t>(j["usage"], "prompt_tokens", 0);
        usage_.completion_tokens = json_count_field<int32_t>(j["usage"], "completion_tokens", 0);
        if (j["usage"].contains("prompt_tokens_details") && j["usage"]["prompt_tokens_details"].is_object()) {
            usage_.cached_tokens = json_count_field<int32_t>(j["usage"]["prompt_tokens_details"], "cached_tokens", 0);
        }
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const json & c = j["choices"][0];
    if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
        const std::string f = c["finish_reason"];
        finish_ = f == "length" ? backend::FinishReason::length : f == "tool_calls" ? backend::FinishReason::tool_calls
                                                                                      : backend::FinishReason::stop;
    }
    if (!c.contains("delta") || !c["delta"].is_object()) return;
    const json & d = c["delta"];
    if (d.contains("reasoning_content") && d["reasoning_content"].is_string() && !d["reasoning_content"].get<std::string>().empty()) {
        backend::Delta e;
        e.reasoning = d["reasoning_content"];
        reasoning_ += e.reasoning;
        out.push_back(std::move(e));
    }
    if (d.contains("content") && d["content"].is_string() && !d["content"].get<std::string>().empty()) {
        out.push_back(backend::Event::delta(d["content"]));
    }
    if (d.contains("tool_calls") && d["tool_calls"].is_array()) {
        for (const auto & t : d["tool_calls"]) {
            if (!t.is_object()) continue;
            // A call's place in the answer: absent is the first; one that is
            // no count, or past the calls an answer may hold, is skipped.
            constexpr uint64_t max_calls = 128;
            const uint64_t     index     = t.contains("index") ? json_count(t["index"]).value_or(max_calls) : 0;
            if (index >= max_calls) continue;
            if (calls_.size() <= index) calls_.resize(index + 1);
            backend::Delta e;
            e.tool_index = static_cast<int32_t>(index);
            if (t.contains("id") && t["id"].is_string()) calls_[index].id = e.tool.id = t["id"];
            if (t.contains("function") && t["function"].is_object()) {
                const json & fn = t["function"];
                if (fn.contains("name") && fn["name"].is_string()) calls_[index].name = e.tool.name = fn["name"];
                if (fn.contains("arguments") && fn["arguments"].is_string()) {
                    e.tool.arguments = fn["arguments"];
                    calls_[index].arguments += e.tool.arguments;
                }
            }
            if (calls_[index].id.empty() && !e.tool.name.empty()) calls_[index].id = e.tool.id = engine::new_tool_call_id();
            out.push_back(std::move(e));
        }
    }
}

backend::Event UpstreamReader::end() {
    if (error_) return backend::Event::fail(*error_);
    backend::Done done;
    done.finish     = finish_;
    done.usage      = usage_;
    done.reasoning  = reasoning_;
    done.tool_calls = calls_;
    return done;
}

std::string upstream_error_message(std::string_view body) {
    const std::string start(body.substr(0, 200));
    auto              j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error")) {
        if (j["error"].is_object()) return text_field(j["error"], "message", start);
        if (j["error"].is_string()) return j["error"].get<std::string>();
    }
    return start;
}

namespace {

class Codec final : public backend::ChatCodec {
  public:
    std::string body(const backend::ChatRequest & request, const std::string & model) const override {
        return upstream_chat_body(request, model);
    }
    class Reader final : public backend::ChatCodec::Reader {
      public:
        std::vector<backend::Event> feed(std::string_view bytes) override { return reader_.feed(bytes); }
        backend::Event              end() override { return reader_.end(); }

      private:
        UpstreamReader reader_;
    };
    std::unique_ptr<backend::ChatCodec::Reader> reader() const override { return std::make_unique<Reader>(); }
    std::string error_message(std::string_view body) const override { return upstream_error_message(body); }
};

}  // namespace

std::shared_ptr<const backend::ChatCodec> chat_codec() {
    static const auto codec = std::make_shared<const Codec>();
    return codec;
}

}  // namespace kiln::api::openai
