#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json_number.h"

using kiln::json_count;
using kiln::json_count_field;
using json = nlohmann::json;

TEST(JsonCount, WholeNumbersOfEveryJsonKind) {
    EXPECT_EQ(json_count(json::parse("0")), 0u);
    EXPECT_EQ(json_count(json::parse("42")), 42u);
    EXPECT_EQ(json_count(json::parse("18446744073709551615")), UINT64_MAX);
    EXPECT_EQ(json_count(json::parse("7.9")), 7u);
    EXPECT_EQ(json_count(json::parse("1e3")), 1000u);
}

TEST(JsonCount, RefusesWhatDoesNotFit) {
    // A float past uint64_t, or a negative one, would be undefined behaviour
    // in a plain cast (found by fuzz_hf: "size": 2222222222222222222222222210).
    EXPECT_FALSE(json_count(json::parse("2222222222222222222222222210")));
    EXPECT_FALSE(json_count(json::parse("1.8446744073709552e19")));
    EXPECT_FALSE(json_count(json::parse("-1")));
    EXPECT_FALSE(json_count(json::parse("-0.5")));
    EXPECT_FALSE(json_count(json::parse("\"12\"")));
    EXPECT_FALSE(json_count(json::parse("null")));
    EXPECT_FALSE(json_count(json::parse("[1]")));
}

TEST(JsonCount, FieldFallsBackOrClampsToItsType) {
    const auto obj = json::parse(R"({"n": 5, "big": 1e30, "neg": -3, "wide": 4294967296, "s": "x"})");
    EXPECT_EQ(json_count_field<int32_t>(obj, "n", -1), 5);
    EXPECT_EQ(json_count_field<int32_t>(obj, "missing", -1), -1);
    EXPECT_EQ(json_count_field<int32_t>(obj, "big", -1), -1);
    EXPECT_EQ(json_count_field<int32_t>(obj, "neg", -1), -1);
    EXPECT_EQ(json_count_field<int32_t>(obj, "s", -1), -1);
    EXPECT_EQ(json_count_field<int32_t>(obj, "wide", -1), INT32_MAX);
    EXPECT_EQ(json_count_field<uint64_t>(obj, "wide", 0), 4294967296u);
}
