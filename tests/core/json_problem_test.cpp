// json_problem (core/json_problem.h): a JSON text the parser refused, in words. A text inside it
// that is not UTF-8 was named by its place only ("column 90: not JSON here (at " ")" for a Latin-1
// é, "(at "ud800")" for a lone surrogate): now it says why and what to do (hostile pass 16, H16S-3).
// Every JSON reader (history exports, a model's config.json and tokenizer.json, a passwords file)
// words its errors through json_problem, so this covers them all.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/json_problem.h"

namespace clap {
namespace {

std::string problem_of(const std::string& text) {
  try {
    [[maybe_unused]] const nlohmann::json parsed = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return json_problem(text, e);
  }
  return "(parsed)";
}

TEST(JsonProblem, ATextThatIsNotUtf8SaysWhyAndHowToMendIt) {
  struct Case {
    std::string text, place, why;
  };
  const Case cases[] = {
      // Latin-1 é: the column is where the sequence broke (the byte after the é), as nlohmann finds it.
      {"{\"artist\": \"Ton\xe9\"}", "column 17: ", "bytes that are not UTF-8 (ill-formed UTF-8"},
      {"{\"artist\": \"\xc0\xaf\"}", "column 13: ", "bytes that are not UTF-8 (ill-formed UTF-8"},       // overlong /
      {R"({"artist": "\ud800"})", "column 19: ", "a lone surrogate"},                                     // high half alone
      {R"({"artist": "\udc00x"})", "column 18: ", "a lone surrogate"},                                    // low half alone
      {std::string("{\"artist\": \"a\0b\"}", 17), "column 14: ", "a raw control character (control character U+0000 (NUL)"},
      {"[1,\n{\"t\": \"tab\there\"}]", "line 2, column 11: ", "a raw control character (control character U+0009 (HT)"},
  };
  for (const Case& c : cases) {
    const std::string p = problem_of(c.text);
    EXPECT_EQ(p.rfind(c.place, 0), 0u) << p;
    EXPECT_NE(p.find(c.why), std::string::npos) << p;
    EXPECT_NE(p.find("save the file as UTF-8"), std::string::npos) << p;
    EXPECT_EQ(p.find("not JSON here"), std::string::npos) << p;
    EXPECT_EQ(p.find("json.exception"), std::string::npos) << p;
  }
  // nlohmann quotes the text after its words ("; last read: '...'"): a text holding "invalid
  // string: " there is not its words, and its bytes (DEL) never reach the one-line message (a
  // fuzz_json_text finding).
  const std::string quoted = std::string("\"") + std::string(30, '\x7f') + "invalid string: \x7f\x7fOq\"\x7f\x7fOq\"";
  const std::string p = problem_of(quoted);
  for (const char c : p) EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) << p;
  EXPECT_EQ(p.find("a text is not valid JSON"), std::string::npos) << p;
  // Other problems keep their words: a text cut short, a wrong token.
  EXPECT_EQ(problem_of(R"({"artist": "cut)"), "column 16: the text ends inside a value (cut short?)");
  EXPECT_EQ(problem_of(R"({"a": nope})"), "column 7: not JSON here (at \"nope\")");
}

}  // namespace
}  // namespace clap
