#include "engine/chat_output.h"

#include <random>

#include "engine/chat_format.h"

namespace kiln::engine {

std::string new_tool_call_id() {
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof kAlnum - 2);
    std::string id = "call_";
    for (int i = 0; i < 24; ++i) id += kAlnum[pick(rng)];
    return id;
}

// What has been handed out so far: deltas only ever extend it, so a parser
// that revises its reading of a partial answer never makes a client take
// text back.
struct ChatOutput::State {
    std::string              content;
    std::string              reasoning;
    std::vector<std::string> args;  // per started tool call: its arguments given out
};

ChatOutput::ChatOutput(std::shared_ptr<const ChatFormat> format)
    : format_(std::move(format)), state_(std::make_unique<State>()) {}

ChatOutput::~ChatOutput() = default;

std::vector<AnswerDelta> ChatOutput::push(std::string_view text) {
    if (text.empty()) return {};
    text_.append(text);
    return update(true);
}

std::vector<AnswerDelta> ChatOutput::finish() { return update(false); }

namespace {

// What `now` adds to `given`, when it still starts with it; else nothing
// (until it does again).
std::string extend(std::string & given, const std::string & now) {
    if (now.size() <= given.size() || now.compare(0, given.size(), given) != 0) return {};
    std::string more = now.substr(given.size());
    given            = now;
    return more;
}

}  // namespace

std::vector<AnswerDelta> ChatOutput::update(bool partial) {
    common_chat_msg msg;
    try {
        msg = common_chat_parse(text_, partial, format_->params);
    } catch (const std::exception &) {
        // An answer the format cannot read (a model that broke off a tool
        // call, say). While streaming: wait for more. At the end: what a
        // lenient reading finds, else all of it as text.
        if (partial) return {};
        try {
            msg = common_chat_parse(text_, true, format_->params);
        } catch (const std::exception &) {
            msg         = {};
            msg.content = text_;
        }
    }
    ParsedAnswer next;
    next.content   = std::move(msg.content);
    next.reasoning = std::move(msg.reasoning_content);
    for (size_t i = 0; i < msg.tool_calls.size(); ++i) {
        auto & c = msg.tool_calls[i];
        ToolCall t{c.id, std::move(c.name), std::move(c.arguments)};
        // Ids are ours, and stay put while the call streams.
        if (i < answer_.tool_calls.size() && !answer_.tool_calls[i].id.empty()) t.id = answer_.tool_calls[i].id;
        if (t.id.empty()) t.id = new_tool_call_id();
        next.tool_calls.push_back(std::move(t));
    }

    std::vector<AnswerDelta> out;
    if (auto r = extend(state_->reasoning, next.reasoning); !r.empty()) {
        out.emplace_back().reasoning = std::move(r);
    }
    if (auto c = extend(state_->content, next.content); !c.empty()) out.emplace_back().content = std::move(c);
    for (size_t i = 0; i < next.tool_calls.size(); ++i) {
        const ToolCall & t = next.tool_calls[i];
        // A call starts once its name is whole: a later call follows it, or
        // its arguments began, or the answer ended.
        const bool name_final = i + 1 < next.tool_calls.size() || !t.arguments.empty() || !partial;
        if (t.name.empty()) break;
        if (i == state_->args.size()) {
            if (!name_final) break;
            state_->args.emplace_back();
            auto & d     = out.emplace_back();
            d.tool_index = static_cast<int32_t>(i);
            d.tool_id    = t.id;
            d.tool_name  = t.name;
        }
        if (auto a = extend(state_->args[i], t.arguments); !a.empty()) {
            auto & d          = out.emplace_back();
            d.tool_index      = static_cast<int32_t>(i);
            d.tool_arguments  = std::move(a);
        }
    }
    answer_ = std::move(next);
    return out;
}

}  // namespace kiln::engine
