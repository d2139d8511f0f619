// Typed reads of optional request fields with errors that name the field.
// Shared by the API adapters; JSON stays inside api/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "engine/chat_template.h"
#include "engine/sampling_params.h"

namespace kiln::api {

using json = nlohmann::json;

// Parses a request body that must be a JSON object.
Result<json> parse_object(std::string_view body);

// Each returns the field's value, nullopt when absent or null, or an Error
// (invalid_request, param = name) when present with the wrong type or range.
Result<std::optional<double>>      get_number(const json & obj, const char * name, double lo, double hi);
Result<std::optional<int64_t>>     get_int(const json & obj, const char * name, int64_t lo, int64_t hi);
Result<std::optional<bool>>        get_bool(const json & obj, const char * name);
Result<std::optional<std::string>> get_string(const json & obj, const char * name);
// The sampling fields of engine::sampling_fields() present in `obj`, and
// "seed"; each given one is marked in params.set.
Status get_sampling(const json & obj, engine::SamplingParams & params);
// Request limits every family shares; each breach is a 400 that says the limit.
constexpr size_t  kMaxStops       = 16;       // stop strings per request
constexpr size_t  kMaxStopBytes   = 512;      // bytes per stop string
constexpr size_t  kMaxMessages    = 4096;     // messages per chat
constexpr int64_t kMaxOutputTokens = 1 << 20;  // max_tokens and the like
// obj[key] as text, never throwing: the string itself; `absent` when obj is
// not an object or has no (or a null) key; the value's JSON otherwise. For a
// tagged object's "type" (a number matches no known tag, so the caller's
// "must be one of" error names it) and for bodies we don't own (an
// upstream's error message). nlohmann's value(key, "") throws on a non-string.
std::string text_field(const json & obj, const char * key, std::string absent = "");
// Stop strings: a string or a list, at most kMaxStops of 1 to kMaxStopBytes bytes.
Result<std::vector<std::string>> get_stop_list(const json & obj, const char * name);
// Whether a messages list is within kMaxMessages (an error naming `name` if not).
Status check_message_count(const json & list, const char * name);
// Each entry of a messages list (or input items) within kMaxMessages, which
// must be an object: f(entry, "name[i]", i); the first error ends it.
Status for_each_message(const json & list, const char * name,
                        const std::function<Status(const json &, const std::string &, size_t)> & f);
// A string or an array of strings (as OpenAI's "stop").
Result<std::vector<std::string>>   get_string_list(const json & obj, const char * name);

// Function tools, in the form OpenAI and Ollama share:
// [{"type": "function", "function": {"name", "description", "parameters"}}],
// at most kMaxTools. Absent or empty: none.
constexpr size_t kMaxTools = 128;
Result<std::vector<engine::ChatTool>> get_function_tools(const json & obj, const char * name);
// Compact JSON text. Model text may carry invalid UTF-8 (a random model can
// emit any byte), on which nlohmann::json would throw: it is replaced.
std::string dump(const json & j);

// An invalid_request error naming the request field `param`.
Error bad(const std::string & msg, const std::string & param);

// A tool's name: 1 to 64 letters, digits, '_', '-', '.' or ':'.
Status check_tool_name(const std::string & tool, const std::string & param);
// obj[key], required, as a tool's name; errors name `param`.
Result<std::string> get_tool_name(const json & obj, const char * key, const std::string & param);
// OpenAI's "tool_choice": "auto", "none", "required", or
// {"type": "function", "function": {"name"}}, which leaves only that tool
// and requires it. Also reads "parallel_tool_calls" (default true).
Status get_tool_choice(const json & obj, engine::ChatOptions & options);
// A call as an assistant message carries it, in the form OpenAI and Ollama
// share: {id, type: "function", function: {name, arguments}}.
Result<engine::ToolCall> get_tool_call(const json & call, const std::string & param);
// A tool call's arguments as text: a string as it is (OpenAI; JSON or not,
// since a call cut off by the length limit is not) or an object (Ollama,
// Anthropic's input) as JSON. Empty or null: "{}".
Result<std::string> tool_arguments(const json & value, const std::string & param);

}  // namespace kiln::api
