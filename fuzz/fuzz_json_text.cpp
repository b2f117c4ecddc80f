// JSON from outside (a history export's listen, a model's config, a request's body) as the
// messages about it read it (core/json_problem.h), on arbitrary bytes:
//   - a text nlohmann refuses is named in words: json_problem's sentence is one line (no control
//     character), is not nlohmann's "[json.exception...]", and is bounded whatever the text's length;
//   - a value it takes is echoed by json_echo exactly as echo_excerpt(value.dump()) would echo it
//     (what the header promises, without dump()'s recursion or its whole text): checked where
//     dump() is safe (a few hundred levels), and bounded at any depth.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_problem.h"
#include "core/one_line_text.h"
#include "fuzz_util.h"

namespace {

// Levels of nesting of a JSON text, read without parsing it (strings skipped).
size_t nesting(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    const std::string problem = clap::json_problem(text, e);
    FUZZ_CHECK(!problem.empty());
    FUZZ_CHECK(problem.rfind("[json.exception", 0) != 0);  // its words, not nlohmann's tag (the text itself may be echoed)
    for (const char c : problem) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    FUZZ_CHECK(problem.size() <= 1024);
    return 0;
  }
  for (const size_t max_bytes : {size_t{1}, size_t{16}, clap::kEchoBytes}) {
    const std::string echo = clap::json_echo(value, max_bytes);
    FUZZ_CHECK(echo.size() <= max_bytes * 4 + 64);  // the excerpt (escaped) and "... (N bytes)"
    if (nesting(text) <= 200) FUZZ_CHECK(echo == clap::echo_excerpt(value.dump(), max_bytes));
  }
  return 0;
}
