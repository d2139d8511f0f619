#include "api/json_fields.h"

#include <limits>

#include <cctype>
#include <cmath>

namespace kiln::api {
namespace {

Error field_error(const char * name, const std::string & what) {
    return make_error(ErrorCode::invalid_request, std::string("'") + name + "' " + what, name);
}

std::string range_text(double lo, double hi) {
    auto fmt = [](double v) {
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    };
    return "between " + fmt(lo) + " and " + fmt(hi);
}

}  // namespace

Result<json> parse_object(std::string_view body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return make_error(ErrorCode::invalid_request, "the request body is not valid JSON");
    if (!j.is_object()) return make_error(ErrorCode::invalid_request, "the request body must be a JSON object");
    return j;
}

Result<std::optional<double>> get_number(const json & obj, const char * name, double lo, double hi) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<double>();
    if (!it->is_number()) return field_error(name, "must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) return field_error(name, "must be " + range_text(lo, hi));
    return std::optional<double>(v);
}

Result<std::optional<int64_t>> get_int(const json & obj, const char * name, int64_t lo, int64_t hi) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
    int64_t v = 0;
    if (it->is_number_integer()) {
        v = it->get<int64_t>();
    } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>() &&
               std::fabs(it->get<double>()) < 9e15) {
        v = static_cast<int64_t>(it->get<double>());
    } else {
        return field_error(name, "must be an integer");
    }
    if (v < lo || v > hi) {
        return field_error(name, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return std::optional<int64_t>(v);
}

Result<std::optional<bool>> get_bool(const json & obj, const char * name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<bool>();
    if (!it->is_boolean()) return field_error(name, "must be true or false");
    return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::string>> get_string(const json & obj, const char * name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<std::string>();
    if (!it->is_string()) return field_error(name, "must be a string");
    return std::optional<std::string>(it->get<std::string>());
}

std::string text_field(const json & obj, const char * key, std::string absent) {
    if (!obj.is_object()) return absent;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return absent;
    return it->is_string() ? it->get<std::string>() : dump(*it);
}

Result<std::vector<std::string>> get_string_list(const json & obj, const char * name) {
    std::vector<std::string> out;
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return out;
    if (it->is_string()) {
        out.push_back(it->get<std::string>());
        return out;
    }
    if (!it->is_array()) return field_error(name, "must be a string or an array of strings");
    for (const auto & v : *it) {
        if (!v.is_string()) return field_error(name, "must be a string or an array of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

Result<std::vector<std::string>> get_stop_list(const json & obj, const char * name) {
    KILN_TRY(auto list, get_string_list(obj, name));
    if (list.size() > kMaxStops) {
        return field_error(name, "holds " + std::to_string(list.size()) + " stop strings; the limit is " + std::to_string(kMaxStops));
    }
    for (const auto & s : list) {
        if (s.empty() || s.size() > kMaxStopBytes) {
            return field_error(name, "must hold stop strings of 1 to " + std::to_string(kMaxStopBytes) + " bytes");
        }
    }
    return list;
}

Status check_message_count(const json & list, const char * name) {
    if (list.is_array() && list.size() > kMaxMessages) {
        return field_error(name, "holds " + std::to_string(list.size()) + " messages; the limit is " + std::to_string(kMaxMessages));
    }
    return {};
}

Status for_each_message(const json & list, const char * name,
                        const std::function<Status(const json &, const std::string &, size_t)> & f) {
    KILN_CHECK(check_message_count(list, name));
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string param = std::string(name) + "[" + std::to_string(i) + "]";
        if (!list[i].is_object()) return make_error(ErrorCode::invalid_request, "'" + param + "' must be an object", param);
        KILN_CHECK(f(list[i], param, i));
    }
    return {};
}

Status get_sampling(const json & obj, engine::SamplingParams & s) {
    for (const auto & f : engine::sampling_fields()) {
        if (f.integer) {
            KILN_TRY(auto v, get_int(obj, f.name, static_cast<int64_t>(f.lo), static_cast<int64_t>(f.hi)));
            if (v) engine::set_sampling(s, f, static_cast<double>(*v));
        } else {
            KILN_TRY(auto v, get_number(obj, f.name, f.lo, f.hi));
            if (v) engine::set_sampling(s, f, *v);
        }
    }
    KILN_TRY(auto seed, get_int(obj, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
    if (seed) {
        s.seed = static_cast<uint32_t>(*seed);
        s.set |= engine::SamplingParams::seed_set;
    }
    return {};
}

std::string dump(const json & j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Error bad(const std::string & msg, const std::string & param) {
    return make_error(ErrorCode::invalid_request, msg, param);
}

Status check_tool_name(const std::string & tool, const std::string & param) {
    bool ok = !tool.empty() && tool.size() <= 64;
    for (unsigned char c : tool) ok = ok && (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':');
    if (!ok) {
        return make_error(ErrorCode::invalid_request,
                          "'" + param + "' must be 1 to 64 letters, digits, '_', '-', '.' or ':' (got '" + tool.substr(0, 80) + "')",
                          param);
    }
    return {};
}

Result<std::string> get_tool_name(const json & obj, const char * key, const std::string & param) {
    KILN_TRY(auto name, get_string(obj, key));
    if (!name) return bad("'" + param + "' is required", param);
    KILN_CHECK(check_tool_name(*name, param));
    return *name;
}

Result<std::vector<engine::ChatTool>> get_function_tools(const json & obj, const char * name) {
    std::vector<engine::ChatTool> tools;
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return tools;
    if (!it->is_array()) return field_error(name, "must be an array of tools");
    if (it->size() > kMaxTools) {
        return field_error(name, "holds " + std::to_string(it->size()) + " tools; the limit is " + std::to_string(kMaxTools));
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const json &      t     = (*it)[i];
        const std::string param = std::string(name) + "[" + std::to_string(i) + "]";
        if (!t.is_object() || text_field(t, "type", "function") != "function" || !t.contains("function") || !t["function"].is_object()) {
            return make_error(ErrorCode::invalid_request,
                              "'" + param + "' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param);
        }
        const json & f = t["function"];
        if (!f.contains("name") || !f["name"].is_string()) {
            return make_error(ErrorCode::invalid_request, "'" + param + ".function.name' is required", param + ".function.name");
        }
        engine::ChatTool tool;
        tool.name = f["name"].get<std::string>();
        KILN_CHECK(check_tool_name(tool.name, param + ".function.name"));
        if (auto d = f.find("description"); d != f.end() && !d->is_null()) {
            if (!d->is_string()) {
                return make_error(ErrorCode::invalid_request, "'" + param + ".function.description' must be a string",
                                  param + ".function.description");
            }
            tool.description = d->get<std::string>();
        }
        if (auto p = f.find("parameters"); p != f.end() && !p->is_null()) {
            if (!p->is_object()) {
                return make_error(ErrorCode::invalid_request, "'" + param + ".function.parameters' must be a JSON schema object",
                                  param + ".function.parameters");
            }
            tool.parameters = p->dump();
        }
        for (const auto & other : tools) {
            if (other.name == tool.name) {
                return make_error(ErrorCode::invalid_request, "'" + param + "' repeats the tool name '" + tool.name + "'",
                                  param + ".function.name");
            }
        }
        tools.push_back(std::move(tool));
    }
    return tools;
}

Status get_tool_choice(const json & obj, engine::ChatOptions & options) {
    KILN_TRY(auto parallel, get_bool(obj, "parallel_tool_calls"));
    options.parallel_tool_calls = parallel.value_or(true);
    auto it = obj.find("tool_choice");
    if (it == obj.end() || it->is_null()) return {};
    if (it->is_string()) {
        const std::string c = it->get<std::string>();
        if (c == "auto") options.tool_choice = engine::ToolChoice::automatic;
        else if (c == "none") options.tool_choice = engine::ToolChoice::none;
        else if (c == "required") options.tool_choice = engine::ToolChoice::required;
        else return field_error("tool_choice", "must be auto, none, required or {\"type\": \"function\", ...} (got '" + c.substr(0, 40) + "')");
        if (options.tool_choice == engine::ToolChoice::required && options.tools.empty()) {
            return field_error("tool_choice", "is 'required' but no tools were given");
        }
        return {};
    }
    const json * fn = it->is_object() ? &*it : nullptr;
    if (fn && fn->contains("function") && (*fn)["function"].is_object()) fn = &(*fn)["function"];
    if (!fn || !fn->contains("name") || !(*fn)["name"].is_string()) {
        return field_error("tool_choice", "must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    const std::string want = (*fn)["name"].get<std::string>();
    for (auto & t : options.tools) {
        if (t.name != want) continue;
        engine::ChatTool keep = std::move(t);
        options.tools         = {std::move(keep)};
        options.tool_choice   = engine::ToolChoice::required;
        return {};
    }
    return field_error("tool_choice", "names the function '" + want.substr(0, 64) + "', which is not in 'tools'");
}

Result<std::string> tool_arguments(const json & value, const std::string & param) {
    if (value.is_null()) return std::string("{}");
    if (value.is_object()) return value.dump();
    // Taken as the text it is, JSON or not: a call the length limit cut off
    // (which kiln itself hands out) must come back in a history unrefused.
    if (value.is_string()) {
        std::string text = value.get<std::string>();
        return text.empty() ? std::string("{}") : text;
    }
    return make_error(ErrorCode::invalid_request, "'" + param + "' must be a JSON object or a string", param);
}

Result<engine::ToolCall> get_tool_call(const json & c, const std::string & param) {
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object() || !c["function"].contains("name") ||
        !c["function"]["name"].is_string()) {
        return make_error(ErrorCode::invalid_request,
                          "'" + param + "' must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}", param);
    }
    engine::ToolCall call;
    call.name = c["function"]["name"].get<std::string>();
    KILN_CHECK(check_tool_name(call.name, param + ".function.name"));
    KILN_TRY(call.arguments, tool_arguments(c["function"].value("arguments", json()), param + ".function.arguments"));
    if (auto id = c.find("id"); id != c.end() && id->is_string()) call.id = id->get<std::string>();
    return call;
}

}  // namespace kiln::api
