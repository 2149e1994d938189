// JsonDepth: the nesting that parsers of untrusted JSON check before parsing.
#include "kernels/core/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth {
namespace {

TEST(JsonDepth, CountsArraysAndObjectsNotBracketsInStrings) {
  EXPECT_EQ(JsonDepth(""), 0);
  EXPECT_EQ(JsonDepth("3"), 0);
  EXPECT_EQ(JsonDepth("[]"), 1);
  EXPECT_EQ(JsonDepth(R"({"a": [1, {"b": []}], "c": {}})"), 4);
  EXPECT_EQ(JsonDepth("[[]][[[]]]"), 3);  // the deepest, not the total
  EXPECT_EQ(JsonDepth(R"(["[[[[", "{{"])"), 1);
  EXPECT_EQ(JsonDepth(R"(["\"[[[", "\\", [2]])"), 2);  // escaped quote, escaped backslash
  EXPECT_EQ(JsonDepth(std::string(1000000, '[') + std::string(1000000, ']')), 1000000);
  EXPECT_EQ(JsonDepth("]]]][["), 0);  // malformed: some number, the parser refuses it
}

TEST(JsonDepth, CheckRefusesPastTheLimitOnly) {
  const auto nest = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_TRUE(CheckJsonDepth(nest(kMaxJsonDepth), "x").ok());
  const Status s = CheckJsonDepth(nest(kMaxJsonDepth + 1), "config.json");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "config.json: nests JSON deeper than 64 levels");
}

}  // namespace
}  // namespace hearth
