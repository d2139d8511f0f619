#include "api/responses.h"

#include "api/json_fields.h"
#include "api/models_api.h"
#include "api/openai.h"

namespace kiln::api::responses {
namespace {

// A part list's text: input_text, output_text, text and refusal parts.
Result<std::string> parts_text(const json & content, const std::string & param) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return bad("'" + param + "' must be a string or a list of content parts", param);
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const json &      part  = content[i];
        const std::string where = param + "[" + std::to_string(i) + "]";
        const std::string type  = text_field(part, "type");
        if (type == "input_text" || type == "output_text" || type == "text" || type == "refusal") {
            const char * field = type == "refusal" ? "refusal" : "text";
            if (!part.contains(field) || !part[field].is_string()) return bad("'" + where + "." + field + "' must be a string", where);
            if (!text.empty()) text += "\n";
            text += part[field].get<std::string>();
        } else if (type == "input_image" || type == "input_file" || type == "input_audio") {
            return bad("'" + where + "': this model takes text only", where);
        } else {
            return bad("'" + where + "' must be an input_text or output_text part", where);
        }
    }
    return text;
}

// input: a string (one user message) or a list of items.
Status add_items(const json & input, std::vector<engine::ChatMessage> & out) {
    if (input.is_string()) {
        out.emplace_back("user", input.get<std::string>());
        return {};
    }
    if (!input.is_array()) return bad("'input' must be a string or a list of items", "input");
    bool last_was_call = false;
    return for_each_message(input, "input", [&](const json & item, const std::string & param, size_t) -> Status {
        const std::string type = text_field(item, "type", item.contains("role") ? "message" : "");
        if (type == "message") {
            KILN_TRY(auto role, get_string(item, "role"));
            std::string r = role.value_or("");
            if (r == "developer") r = "system";
            if (r != "user" && r != "assistant" && r != "system") {
                return bad("'" + param + ".role' must be user, assistant, system or developer", param + ".role");
            }
            auto content = item.find("content");
            if (content == item.end()) return bad("'" + param + ".content' is required", param + ".content");
            KILN_TRY(std::string text, parts_text(*content, param + ".content"));
            out.emplace_back(r, std::move(text));
            last_was_call = false;
        } else if (type == "function_call") {
            engine::ToolCall call;
            KILN_TRY(auto name, get_string(item, "name"));
            KILN_TRY(auto call_id, get_string(item, "call_id"));
            if (!name || !call_id) return bad("'" + param + "' needs name and call_id", param);
            call.name = *name;
            call.id   = *call_id;
            KILN_CHECK(check_tool_name(call.name, param + ".name"));
            KILN_TRY(call.arguments, tool_arguments(item.value("arguments", json()), param + ".arguments"));
            // Calls in a row belong to one assistant turn.
            if (!last_was_call) out.emplace_back("assistant", "");
            out.back().tool_calls.push_back(std::move(call));
            last_was_call = true;
        } else if (type == "function_call_output") {
            KILN_TRY(auto call_id, get_string(item, "call_id"));
            if (!call_id) return bad("'" + param + ".call_id' is required", param + ".call_id");
            auto output = item.find("output");
            if (output == item.end()) return bad("'" + param + ".output' is required", param + ".output");
            engine::ChatMessage result("tool", "");
            KILN_TRY(result.content, parts_text(*output, param + ".output"));
            result.tool_call_id = *call_id;
            for (auto it = out.rbegin(); it != out.rend() && result.tool_name.empty(); ++it) {
                for (const auto & c : it->tool_calls) {
                    if (c.id == *call_id) result.tool_name = c.name;
                }
            }
            out.push_back(std::move(result));
            last_was_call = false;
        } else if (type != "reasoning") {  // earlier thinking is not shown to the model again
            return bad("'" + param + ".type' " + (type.empty() ? "is missing" : "'" + type + "' is not supported") +
                           " (message, function_call, function_call_output)",
                       param + ".type");
        }
        return {};
    });
}

// tools: [{type: "function", name, description, parameters, strict}] (the
// Responses form, not nested in "function"); other tool types run at OpenAI.
Status parse_tools(const json & j, engine::ChatOptions & o) {
    json chat = json::object();  // the same request in chat completions' shape
    if (auto t = j.find("tools"); t != j.end() && !t->is_null()) {
        if (!t->is_array()) return bad("'tools' must be a list of tools", "tools");
        json tools = json::array();
        for (size_t i = 0; i < t->size(); ++i) {
            const json & tool = (*t)[i];
            if (!tool.is_object() || text_field(tool, "type") != "function") {
                return bad("'tools[" + std::to_string(i) + "]' must be a function tool (built-in tools run at OpenAI)",
                           "tools[" + std::to_string(i) + "].type");
            }
            json fn = tool;
            fn.erase("type");
            fn.erase("strict");
            tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
        }
        chat["tools"] = std::move(tools);
    }
    for (const char * k : {"tool_choice", "parallel_tool_calls"}) {
        if (j.contains(k)) chat[k] = j[k];
    }
    KILN_TRY(o.tools, get_function_tools(chat, "tools"));
    return get_tool_choice(chat, o);
}

}  // namespace

Status get_conversation_fields(const json & j, Conversation & call) {
    backend::GenerateParams & p = call.request.params;
    KILN_CHECK(get_sampling(j, p.sampling));
    KILN_TRY(auto max_tokens, get_int(j, "max_output_tokens", 1, kMaxOutputTokens));
    if (max_tokens) p.max_tokens = static_cast<int32_t>(*max_tokens);
    KILN_TRY(auto stream, get_bool(j, "stream"));
    call.stream = stream.value_or(false);
    KILN_TRY(auto store, get_bool(j, "store"));
    call.store = store.value_or(true);
    KILN_TRY(auto previous, get_string(j, "previous_response_id"));
    call.previous_response_id = previous.value_or("");
    return {};
}

Result<ResponsesCall> parse(std::string_view body) {
    KILN_TRY(json j, parse_object(body));
    ResponsesCall             call;
    backend::GenerateParams & p = call.request.params;
    KILN_TRY(auto model, get_string(j, "model"));
    call.request.model = model.value_or("");
    KILN_TRY(call.keep_alive, get_keep_alive(j));
    KILN_CHECK(get_conversation_fields(j, call));
    KILN_TRY(auto instructions, get_string(j, "instructions"));

    auto input = j.find("input");
    if (input == j.end() || input->is_null()) return bad("'input' is required", "input");
    KILN_CHECK(add_items(*input, call.input));
    if (call.input.empty()) return bad("'input' must not be empty", "input");
    if (instructions && !instructions->empty()) call.request.messages.emplace_back("system", *instructions);
    call.request.messages.insert(call.request.messages.end(), call.input.begin(), call.input.end());

    KILN_CHECK(parse_tools(j, call.request.options));
    if (auto text = j.find("text"); text != j.end() && text->is_object() && text->contains("format")) {
        const json & f = (*text)["format"];
        const std::string type = text_field(f, "type");
        if (type == "json_object") {
            p.json_schema = R"({"type":"object"})";
        } else if (type == "json_schema") {
            if (!f.contains("schema") || !f["schema"].is_object()) {
                return bad("'text.format.schema' must be a JSON schema object", "text.format.schema");
            }
            p.json_schema = f["schema"].dump();
        } else if (type != "text") {
            return bad("'text.format.type' must be text, json_object or json_schema", "text.format.type");
        }
    }
    if (auto r = j.find("reasoning"); r != j.end() && r->is_object()) {
        KILN_TRY(auto effort, get_string(*r, "effort"));
        if (effort) call.request.options.think = *effort != "none";
    }
    call.echo = json::object();
    for (const char * k : {"instructions", "max_output_tokens", "temperature", "top_p", "tools", "tool_choice",
                           "parallel_tool_calls", "text", "reasoning", "metadata", "user"}) {
        if (j.contains(k)) call.echo[k] = j[k];
    }
    call.echo["store"] = call.store;
    return call;
}

std::string new_response_id() { return openai::new_id("resp_"); }

engine::ChatMessage assistant_turn(const std::string & text, const backend::Done & done) {
    engine::ChatMessage m("assistant", text);
    m.tool_calls = done.tool_calls;
    m.reasoning  = done.reasoning;
    return m;
}

std::string deleted_object(const std::string & id) { return dump(json{{"id", id}, {"object", "response"}, {"deleted", true}}); }

namespace {

json usage_json(const backend::Usage & u) {
    return {{"input_tokens", u.prompt_tokens},
            {"input_tokens_details", {{"cached_tokens", u.cached_tokens}}},
            {"output_tokens", u.completion_tokens},
            {"output_tokens_details", {{"reasoning_tokens", 0}}},
            {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

// The response object around `output`; status from the done event (or
// in_progress without one).
json response_json(const json & echo, const Meta & m, json output, const backend::Done * done) {
    json r = {{"id", m.id},
              {"object", "response"},
              {"created_at", m.created_at},
              {"model", m.model},
              {"status", "in_progress"},
              {"error", nullptr},
              {"incomplete_details", nullptr},
              {"instructions", nullptr},
              {"max_output_tokens", nullptr},
              {"metadata", json::object()},
              {"output", std::move(output)},
              {"parallel_tool_calls", true},
              {"previous_response_id", m.previous_response_id.empty() ? json(nullptr) : json(m.previous_response_id)},
              {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
              {"temperature", nullptr},
              {"text", {{"format", {{"type", "text"}}}}},
              {"tool_choice", "auto"},
              {"tools", json::array()},
              {"top_p", nullptr},
              {"truncation", "disabled"},
              {"usage", nullptr},
              {"user", nullptr}};
    for (const auto & [k, v] : echo.items()) r[k] = v;
    if (done) {
        const bool cut = done->finish == backend::FinishReason::length;
        r["status"]    = cut ? "incomplete" : "completed";
        if (cut) r["incomplete_details"] = {{"reason", "max_output_tokens"}};
        r["usage"] = usage_json(done->usage);
    }
    return r;
}

json text_part(const std::string & text) {
    return {{"type", "output_text"}, {"text", text}, {"annotations", json::array()}, {"logprobs", json::array()}};
}

std::string item_id(const char * prefix) { return openai::new_id(prefix); }

// A call the length limit cut off has arguments that are not JSON yet.
const char * call_status(const std::string & arguments) {
    return json::accept(arguments) ? "completed" : "incomplete";
}

}  // namespace

std::string response_object(const ResponsesCall & call, const Meta & m, const std::string & text,
                            const backend::Done & done) {
    json output = json::array();
    if (!done.reasoning.empty()) {
        output.push_back({{"type", "reasoning"}, {"id", item_id("rs_")}, {"summary", json::array()},
                          {"content", json::array({{{"type", "reasoning_text"}, {"text", done.reasoning}}})}});
    }
    if (!text.empty() || done.tool_calls.empty()) {
        output.push_back({{"type", "message"}, {"id", item_id("msg_")}, {"status", "completed"}, {"role", "assistant"},
                          {"content", json::array({text_part(text)})}});
    }
    for (const auto & c : done.tool_calls) {
        output.push_back({{"type", "function_call"}, {"id", item_id("fc_")}, {"call_id", c.id}, {"name", c.name},
                          {"arguments", c.arguments}, {"status", call_status(c.arguments)}});
    }
    return dump(response_json(call.echo, m, std::move(output), &done));
}

Stream::Stream(const ResponsesCall & call, Meta meta) : echo_(call.echo), meta_(std::move(meta)) {}

std::string Stream::event(const char * type, json body) {
    body["type"]            = type;
    body["sequence_number"] = sequence_++;
    return std::string("event: ") + type + "\ndata: " + dump(body) + "\n\n";
}

std::string Stream::start() {
    const json r = response_json(echo_, meta_, json::array(), nullptr);
    std::string out = event("response.created", {{"response", r}});  // in order: each takes the next number
    return out + event("response.in_progress", {{"response", r}});
}

std::string Stream::open(Item kind, json item) {
    std::string out = close();
    open_           = kind;
    item_           = std::move(item);
    const int index = static_cast<int>(output_.size());
    json added      = item_;
    if (kind == Item::message || kind == Item::reasoning) added["content"] = json::array();
    out += event("response.output_item.added", {{"output_index", index}, {"item", added}});
    if (kind == Item::message) {
        out += event("response.content_part.added",
                     {{"item_id", item_["id"]}, {"output_index", index}, {"content_index", 0}, {"part", text_part("")}});
    } else if (kind == Item::reasoning) {
        out += event("response.content_part.added", {{"item_id", item_["id"]}, {"output_index", index}, {"content_index", 0},
                                                     {"part", {{"type", "reasoning_text"}, {"text", ""}}}});
    }
    return out;
}

std::string Stream::close() {
    if (open_ == Item::none) return {};
    const int   index = static_cast<int>(output_.size());
    const json  id    = item_["id"];
    std::string out;
    if (open_ == Item::message || open_ == Item::reasoning) {
        const bool        message = open_ == Item::message;
        const std::string text    = item_["content"][0]["text"];
        out += event(message ? "response.output_text.done" : "response.reasoning_text.done",
                     {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"text", text}});
        out += event("response.content_part.done",
                     {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", item_["content"][0]}});
    } else {
        out += event("response.function_call_arguments.done",
                     {{"item_id", id}, {"output_index", index}, {"arguments", item_["arguments"]}});
    }
    if (open_ == Item::call) item_["status"] = call_status(item_["arguments"].get<std::string>());
    else if (item_.contains("status")) item_["status"] = "completed";
    out += event("response.output_item.done", {{"output_index", index}, {"item", item_}});
    output_.push_back(std::move(item_));
    item_ = json();
    open_ = Item::none;
    return out;
}

std::string Stream::delta(const backend::Delta & ev) {
    std::string out;
    if (!ev.reasoning.empty()) {
        if (open_ != Item::reasoning) {
            out += open(Item::reasoning, {{"type", "reasoning"}, {"id", item_id("rs_")}, {"summary", json::array()},
                                          {"content", json::array({{{"type", "reasoning_text"}, {"text", ""}}})}});
        }
        item_["content"][0]["text"] = item_["content"][0]["text"].get<std::string>() + ev.reasoning;
        return out + event("response.reasoning_text.delta", {{"item_id", item_["id"]}, {"output_index", static_cast<int>(output_.size())},
                                                             {"content_index", 0}, {"delta", ev.reasoning}});
    }
    if (ev.tool_index >= 0) {
        if (!ev.tool.name.empty()) {
            out += open(Item::call, {{"type", "function_call"}, {"id", item_id("fc_")}, {"call_id", ev.tool.id},
                                     {"name", ev.tool.name}, {"arguments", ""}, {"status", "in_progress"}});
        }
        if (open_ != Item::call || ev.tool.arguments.empty()) return out;
        item_["arguments"] = item_["arguments"].get<std::string>() + ev.tool.arguments;
        return out + event("response.function_call_arguments.delta",
                           {{"item_id", item_["id"]}, {"output_index", static_cast<int>(output_.size())}, {"delta", ev.tool.arguments}});
    }
    if (ev.text.empty()) return {};
    if (open_ != Item::message) {
        out += open(Item::message, {{"type", "message"}, {"id", item_id("msg_")}, {"status", "in_progress"},
                                    {"role", "assistant"}, {"content", json::array({text_part("")})}});
    }
    item_["content"][0]["text"] = item_["content"][0]["text"].get<std::string>() + ev.text;
    return out + event("response.output_text.delta", {{"item_id", item_["id"]}, {"output_index", static_cast<int>(output_.size())},
                                                      {"content_index", 0}, {"delta", ev.text}, {"logprobs", json::array()}});
}

std::string Stream::end(const backend::Done & done) {
    std::string out;
    // Every answer has a message, if nothing else.
    if (output_.empty() && open_ == Item::none) {
        out += open(Item::message, {{"type", "message"}, {"id", item_id("msg_")}, {"status", "in_progress"},
                                    {"role", "assistant"}, {"content", json::array({text_part("")})}});
    }
    out += close();
    json r       = response_json(echo_, meta_, output_, &done);
    final_       = dump(r);
    const char * type = r["status"] == "completed" ? "response.completed" : "response.incomplete";
    return out + event(type, {{"response", std::move(r)}});
}

std::string Stream::error(const Error & e) {
    const auto r = openai::error_response(e);
    json       body = json::parse(r.body, nullptr, false);
    json       err  = body.is_object() && body.contains("error") ? body["error"] : json::object();
    return event("error", {{"code", err.value("code", json(nullptr))}, {"message", e.message}, {"param", err.value("param", json(nullptr))}});
}

}  // namespace kiln::api::responses
