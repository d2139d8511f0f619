#include "api/json_fields.h"

#include <limits>

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

}  // namespace kiln::api
