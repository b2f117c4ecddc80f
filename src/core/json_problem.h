// What is wrong with a JSON text nlohmann's parser refused, in words (no "[json.exception...]"),
// and a JSON value from outside as a message echoes it.
#pragma once
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/one_line_text.h"

namespace clap {

// What is wrong with `text` (one line or a whole file) that nlohmann's parser refused with `e`,
// in words: "column 12: NaN is not a JSON number (JSON has no NaN or infinity)", "column 40: the
// text ends inside a value (cut short?)", "line 1, column 1: not JSON here (at "root")". Shown
// raw, nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 12: syntax
// error while parsing value - invalid literal; last read: ..." reads as a crash (hostile passes
// 9 and 10: `history import`, a model's --config).
std::string json_problem(std::string_view text, const std::exception& e);

// A JSON value given from outside (a listen's "listened_at" that is no time) as a message echoes
// it: echo_excerpt of its compact text, what echo_excerpt(value.dump()) gives, but written without
// recursion and without keeping more than the excerpt. nlohmann's dump() recurses once per level
// of nesting: a listen whose "listened_at" was 100,000 nested arrays (200 KB of one line, which
// the parser reads without recursing) overflowed the stack and killed `history import`
// (hostile pass 16, H16S-1).
std::string json_echo(const nlohmann::json& value, size_t max_bytes = kEchoBytes);

}  // namespace clap
