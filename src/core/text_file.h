// Reading the small text files the program is given (query and label lists, CSVs, model
// configs, tokenizer tables, checkpoint indexes, the settings file) whole, with a bound on their
// size: a wrong file given by mistake, or /dev/zero, is a clear error naming it, not gigabytes
// of memory.
#pragma once
#include <cstdint>
#include <string>

namespace clap {

// Larger than any config, query list or tokenizer table (roberta's vocab.json is 0.8 MB).
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{64} << 20;

// What may be read. A file at a name the program derives (a model folder's configs, a cache
// file) or one a service reads unattended (the settings file) must be a regular file: a FIFO
// put there would block the open forever, a device read without end. A list the user names
// (--queries, --seeds-from) may also be a pipe or device (`--queries <(make-list)`): read
// until its end, within the size bound; "-" names standard input there.
enum class TextSource { RegularFile, FileOrStream };

// The whole file as bytes; `what` names its role in errors ("CSV", "queries"). Throws
// clap::Error naming the file when it is missing, a folder, not a regular file (RegularFile),
// unreadable or over `max_bytes` (read in pieces and stopped there, so an endless stream ends too).
std::string read_text_file(const std::string& path, const std::string& what, uint64_t max_bytes = kMaxTextFileBytes,
                           TextSource source = TextSource::RegularFile);

}  // namespace clap
