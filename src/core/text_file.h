// Reading the small text files the program is given (query and label lists, CSVs, model
// configs, tokenizer tables, checkpoint indexes) whole, with a bound on their size: a wrong
// file given by mistake, or /dev/zero, is a clear error naming it, not gigabytes of memory.
#pragma once
#include <cstdint>
#include <string>

namespace clap {

// Larger than any config, query list or tokenizer table (roberta's vocab.json is 0.8 MB).
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{64} << 20;

// The whole file as bytes; `what` names its role in errors ("CSV", "queries"). Throws
// clap::Error naming the file when it is missing, a folder, unreadable or over `max_bytes`
// (read in pieces and stopped there, so an endless stream ends too).
std::string read_text_file(const std::string& path, const std::string& what, uint64_t max_bytes = kMaxTextFileBytes);

}  // namespace clap
