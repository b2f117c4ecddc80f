// What is wrong with a JSON text nlohmann's parser refused, in words (no "[json.exception...]").
#pragma once
#include <exception>
#include <string>
#include <string_view>

namespace clap {

// What is wrong with `text` (one line or a whole file) that nlohmann's parser refused with `e`,
// in words: "column 12: NaN is not a JSON number (JSON has no NaN or infinity)", "column 40: the
// text ends inside a value (cut short?)", "line 1, column 1: not JSON here (at "root")". Shown
// raw, nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 12: syntax
// error while parsing value - invalid literal; last read: ..." reads as a crash (hostile passes
// 9 and 10: `history import`, a model's --config).
std::string json_problem(std::string_view text, const std::exception& e);

}  // namespace clap
