// Whole numbers from JSON that another program wrote (an upstream server,
// the Hugging Face API). nlohmann's get<int>() and value(key, 0) convert a
// float such as 1e30 or -1.5 with a plain cast, which is undefined behaviour
// when the value does not fit; these read what fits and refuse the rest.
// Templated on the JSON type, so that core needs no JSON library.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace kiln {

// A non-negative whole number (a float's fraction dropped), or nothing for
// negative, non-finite, too large or non-numeric values.
template <class Json> std::optional<uint64_t> json_count(const Json & v) {
    if (v.is_number_unsigned()) return v.template get<uint64_t>();
    if (v.is_number_integer()) {
        const int64_t i = v.template get<int64_t>();
        return i >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(i)) : std::nullopt;
    }
    if (v.is_number_float()) {
        const double d = v.template get<double>();
        if (std::isfinite(d) && d >= 0 && d < 18446744073709551616.0) return static_cast<uint64_t>(d);
    }
    return std::nullopt;
}

// obj[key] as a count of type Int: `fallback` when it is absent or not a
// count, Int's largest value when it is larger.
template <class Int, class Json> Int json_count_field(const Json & obj, const char * key, Int fallback) {
    const auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    const auto v = json_count(*it);
    if (!v) return fallback;
    constexpr auto max = static_cast<uint64_t>(std::numeric_limits<Int>::max());
    return *v > max ? std::numeric_limits<Int>::max() : static_cast<Int>(*v);
}

}  // namespace kiln
