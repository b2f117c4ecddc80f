// json_echo (core/json_problem.h): a JSON value from outside as a message echoes it. It must say
// what echo_excerpt(value.dump()) says for every value dump() can write, and stay within the
// excerpt (and off the call stack) for a value nested far deeper than dump() can follow (H16S-1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_problem.h"
#include "core/one_line_text.h"

namespace clap {
namespace {

using json = nlohmann::json;

TEST(JsonEcho, SaysWhatTheExcerptOfDumpSays) {
  const std::vector<json> values = {
      json(5), json(-1.5e300), json(true), json(nullptr), json("text"), json(std::string(500, 'x')),
      json("line\nbreak\x1b[2J"), json(std::string(199, 'a') + "\xc3\xa9" + std::string(50, 'b')),  // é across the cut
      json::array(), json::object(), json::parse(R"([1, [2, [3, {"k": [4, "v"]}]], {}, [], null])"),
      json::parse(R"({"b": 1, "a": {"z": [true, false], "y": "\u00e9"}, "\u0000": 2})"),
      json(std::vector<int>(300, 7)), json::parse(R"({")" + std::string(300, 'k') + R"(": 1})")};
  for (const json& v : values)
    for (const size_t max : {size_t{0}, size_t{1}, size_t{40}, kEchoBytes, size_t{100000}})
      EXPECT_EQ(json_echo(v, max), echo_excerpt(v.dump(), max)) << v.dump() << " at " << max;
}

TEST(JsonEcho, ADeepValueIsCountedNotFollowedDown) {
  const size_t depth = 1000000;  // dump() overflows the stack far sooner (100,000 did)
  const json deep = json::parse(std::string(depth, '[') + std::string(depth, ']'));
  EXPECT_EQ(json_echo(deep), std::string(kEchoBytes, '[') + "... (2000000 bytes)");
  std::string text;
  for (size_t i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1" + std::string(depth, '}');
  EXPECT_EQ(json_echo(json::parse(text), 12), text.substr(0, 12) + "... (" + std::to_string(text.size()) + " bytes)");
}

}  // namespace
}  // namespace clap
