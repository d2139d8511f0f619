#include "api/ollama_chat.h"

#include <algorithm>
#include <limits>

#include "api/json_fields.h"
#include "api/models_api.h"
#include "store/modelfile.h"

namespace kiln::api::ollama {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

// options: {num_ctx, num_predict, temperature, top_k, top_p, min_p,
// repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, seed,
// stop, num_keep}. Unknown options are ignored, as Ollama does.
Status parse_options(const json & j, backend::GenerateParams & p, int32_t & n_ctx) {
    auto it = j.find("options");
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_object()) return bad("'options' must be an object", "options");
    const json &             o = *it;
    engine::SamplingParams & s = p.sampling;
    KILN_TRY(auto num_ctx, get_int(o, "num_ctx", 1, 1 << 24));
    if (num_ctx) n_ctx = static_cast<int32_t>(*num_ctx);
    KILN_TRY(auto num_predict, get_int(o, "num_predict", -2, kMaxOutputTokens));
    if (num_predict) p.max_tokens = *num_predict < 0 ? -1 : static_cast<int32_t>(*num_predict);  // -1 / -2: no limit
    KILN_CHECK(get_sampling(o, s));
    KILN_TRY(auto stop, get_stop_list(o, "stop"));
    for (auto & st : stop) p.stop.push_back(std::move(st));
    return {};
}

// What generate and chat share: model, stream, keep_alive, options, and the
// fields not taken yet.
Status parse_common(const json & j, GenerateCall & call, backend::GenerateParams & params) {
    KILN_TRY(auto model, get_string(j, "model"));
    if (!model || model->empty()) return bad("'model' is required", "model");
    call.model = *model;
    KILN_TRY(auto stream, get_bool(j, "stream"));
    call.stream = stream.value_or(true);
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    KILN_CHECK(parse_options(j, params, call.n_ctx));
    if (auto f = j.find("format"); f != j.end() && !f->is_null() && !(f->is_string() && f->get<std::string>().empty())) {
        if (f->is_string() && f->get<std::string>() == "json") {
            params.json_schema = R"({"type":"object"})";
        } else if (f->is_object()) {
            params.json_schema = f->dump();
        } else {
            return bad("'format' must be \"json\" or a JSON schema object", "format");
        }
    }
    return {};
}

// Tools and think, for the chat template. `think` is a boolean, or (for
// models that take an effort) "low" | "medium" | "high", which think.
Status parse_chat_options(const json & j, backend::ChatRequest & request) {
    KILN_TRY(request.options.tools, get_function_tools(j, "tools"));
    // Extension: OpenAI's tool_choice and parallel_tool_calls (Ollama has
    // neither; its default is auto).
    KILN_CHECK(get_tool_choice(j, request.options));
    if (auto t = j.find("think"); t != j.end() && !t->is_null()) {
        if (t->is_boolean()) {
            request.options.think = t->get<bool>();
        } else if (t->is_string() && (*t == "low" || *t == "medium" || *t == "high")) {
            request.options.think = true;
        } else {
            return bad("'think' must be true, false, \"low\", \"medium\" or \"high\"", "think");
        }
        request.must_think = *request.options.think;
    }
    return {};
}

// An assistant message's tool_calls ({function: {name, arguments}}) and
// thinking; a tool message's tool_name.
Status message_extras(const json & m, const std::string & param, engine::ChatMessage & msg) {
    if (msg.role == "tool") {
        KILN_TRY(auto name, get_string(m, "tool_name"));
        msg.tool_name = name.value_or("");
        return {};
    }
    if (msg.role != "assistant") return {};
    KILN_TRY(auto thinking, get_string(m, "thinking"));
    msg.reasoning = thinking.value_or("");
    auto tc = m.find("tool_calls");
    if (tc == m.end() || tc->is_null()) return {};
    if (!tc->is_array()) return bad("'" + param + ".tool_calls' must be an array", param + ".tool_calls");
    for (size_t k = 0; k < tc->size(); ++k) {
        const json &      c  = (*tc)[k];
        KILN_TRY(auto call, get_tool_call(c, param + ".tool_calls[" + std::to_string(k) + "]"));
        msg.tool_calls.push_back(std::move(call));
    }
    return {};
}

}  // namespace

Result<GenerateCall> parse_generate(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    GenerateCall call;
    backend::GenerateParams params;
    KILN_CHECK(parse_common(j, call, params));
    KILN_TRY(auto prompt, get_string(j, "prompt"));
    KILN_TRY(auto system, get_string(j, "system"));
    KILN_TRY(auto raw, get_bool(j, "raw"));
    call.raw = raw.value_or(false);
    // template: a Jinja chat template for this request; Ollama's Go
    // templates cannot run here.
    KILN_TRY(auto tmpl, get_string(j, "template"));
    if (tmpl && !tmpl->empty() && store::is_go_template(*tmpl)) {
        return bad("'template' is an Ollama Go template, which kiln does not run: give a Jinja chat template "
                   "(as in a GGUF's tokenizer.chat_template), or leave it out for the model's",
                   "template");
    }
    KILN_TRY(auto suffix, get_string(j, "suffix"));
    // context: the tokens an earlier answer returned, continued by this prompt.
    std::vector<int32_t> context;
    if (auto c = j.find("context"); c != j.end() && !c->is_null()) {
        if (!c->is_array() || !std::all_of(c->begin(), c->end(), [](const json & t) { return t.is_number_integer(); })) {
            return bad("'context' must be the list of token ids an earlier answer returned", "context");
        }
        for (const auto & t : *c) context.push_back(t.get<int32_t>());
    }
    if (suffix && !suffix->empty() && !context.empty()) return bad("'suffix' cannot continue a 'context'", "suffix");
    params.return_context = true;
    if (auto im = j.find("images"); im != j.end() && !im->is_null() && !(im->is_array() && im->empty())) {
        return bad("model '" + call.model + "' takes text only", "images");
    }
    call.load_only = prompt.value_or("").empty() && context.empty();
    if (call.load_only) return call;
    if (suffix && !suffix->empty()) {
        call.raw               = true;  // fill in the middle: no chat template
        call.completion.suffix = *suffix;
    }
    if (call.raw) {
        call.completion.model   = call.model;
        call.completion.prompt  = prompt.value_or("");
        call.completion.context = std::move(context);
        call.completion.params  = std::move(params);
    } else {
        call.messages.context       = std::move(context);
        call.messages.chat_template = tmpl.value_or("");
        call.messages.model         = call.model;
        if (system && !system->empty()) call.messages.messages.push_back({"system", *system});
        call.messages.messages.push_back({"user", prompt.value_or("")});  // a context alone continues it
        call.messages.params = std::move(params);
        KILN_CHECK(parse_chat_options(j, call.messages));
    }
    return call;
}

Result<GenerateCall> parse_chat(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    GenerateCall call;
    call.chat = true;
    backend::GenerateParams params;
    KILN_CHECK(parse_common(j, call, params));
    auto it = j.find("messages");
    if (it != j.end() && !it->is_null() && !it->is_array()) return bad("'messages' must be an array", "messages");
    if (it == j.end() || it->is_null() || it->empty()) {
        call.load_only = true;
        return call;
    }
    const Status listed = for_each_message(*it, "messages", [&](const json & m, const std::string & param, size_t) -> Status {
        KILN_TRY(auto role, get_string(m, "role"));
        if (!role) return bad("'" + param + ".role' is required", param + ".role");
        if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool") {
            return bad("'" + param + ".role' must be system, user, assistant or tool (got '" + *role + "')", param + ".role");
        }
        KILN_TRY(auto content, get_string(m, "content"));
        if (auto im = m.find("images"); im != m.end() && !im->is_null() && !(im->is_array() && im->empty())) {
            return bad("model '" + call.model + "' takes text only", param + ".images");
        }
        engine::ChatMessage msg(*role, content.value_or(""));
        KILN_CHECK(message_extras(m, param, msg));
        call.messages.messages.push_back(std::move(msg));
        return {};
    });
    KILN_CHECK(listed);
    call.messages.model  = call.model;
    call.messages.params = std::move(params);
    KILN_CHECK(parse_chat_options(j, call.messages));
    return call;
}

namespace {

json head(const std::string & model) {
    return json{{"model", model}, {"created_at", rfc3339(std::chrono::system_clock::now())}};
}

void put_text(json & j, const GenerateCall & call, const std::string & text, const std::string & thinking = {}) {
    if (call.chat) {
        j["message"] = {{"role", "assistant"}, {"content", text}};
        if (!thinking.empty()) j["message"]["thinking"] = thinking;
    } else {
        j["response"] = text;
        if (!thinking.empty()) j["thinking"] = thinking;
    }
}

// Ollama's tool calls carry their arguments as an object; a call cut off
// by the token limit (arguments that do not parse) is left out.
json tool_calls_json(const std::vector<engine::ToolCall> & calls) {
    json out = json::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        json args = json::parse(calls[i].arguments, nullptr, false);
        if (!args.is_object()) continue;
        out.push_back({{"id", calls[i].id}, {"function", {{"index", i}, {"name", calls[i].name}, {"arguments", std::move(args)}}}});
    }
    return out;
}

int64_t ns(std::chrono::steady_clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

}  // namespace

std::string delta_line(const GenerateCall & call, const std::string & model, const std::string & text) {
    json j = head(model);
    put_text(j, call, text);
    j["done"] = false;
    return dump(j) + "\n";
}

std::string event_line(const GenerateCall & call, const std::string & model, const backend::Delta & ev) {
    if (ev.tool_index >= 0) return {};
    json j = head(model);
    put_text(j, call, ev.text, ev.reasoning);
    j["done"] = false;
    return dump(j) + "\n";
}

std::string final_object(const GenerateCall & call, const std::string & model, const std::string & text,
                         const backend::Done & done, const Durations & d) {
    std::string calls_line;
    json        j = head(model);
    // Whole: the thinking and tool calls go with the text. Streamed: the
    // thinking went out as it came, and the calls go in a line of their own.
    put_text(j, call, text, call.stream ? std::string() : done.reasoning);
    if (!done.tool_calls.empty() && call.chat) {
        if (call.stream) {
            json line = head(model);
            put_text(line, call, "");
            line["message"]["tool_calls"] = tool_calls_json(done.tool_calls);
            line["done"]                  = false;
            calls_line                    = dump(line) + "\n";
        } else {
            j["message"]["tool_calls"] = tool_calls_json(done.tool_calls);
        }
    }
    j["done"]                 = true;
    j["done_reason"]          = done.finish == backend::FinishReason::length ? "length" : "stop";
    j["total_duration"]       = ns(d.total);
    j["load_duration"]        = ns(d.load);
    j["prompt_eval_count"]    = done.usage.prompt_tokens;
    j["prompt_eval_duration"] = static_cast<int64_t>(done.timings.prompt_ms * 1e6);
    j["eval_count"]           = done.usage.completion_tokens;
    j["eval_duration"]        = static_cast<int64_t>(done.timings.generation_ms * 1e6);
    if (!call.chat) j["context"] = done.context;
    return calls_line + dump(j) + (call.stream ? "\n" : "");
}

std::string load_object(const GenerateCall & call, const std::string & model, bool unloaded) {
    json j = head(model);
    put_text(j, call, "");
    j["done"]        = true;
    j["done_reason"] = unloaded ? "unload" : "load";
    return dump(j) + (call.stream ? "\n" : "");
}

}  // namespace kiln::api::ollama
