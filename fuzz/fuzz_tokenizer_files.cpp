// The tokenizer's files on arbitrary bytes: vocab.json + merges.txt (one input holds both,
// split at the first line "#==merges==#"), and the same bytes as a tokenizer.json. A tokenizer
// that loads then encodes a few texts, so tables that load but cannot be used are caught too.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "model/tokenizer.h"

namespace {

void exercise(const clap::Tokenizer& tok) {
  for (const char* text : {"", "a", "female vocalist", "<s><mask> hello</s> 123 \xF0\x9F\x8E\xB5", "\xff\xfe"}) {
    const clap::Encoding e = tok.encode(text, 16);
    FUZZ_CHECK(e.ids.size() >= 2 && e.ids.size() <= 16);
    FUZZ_CHECK(e.ids.front() == tok.bos_id() && e.ids.back() == tok.eos_id());
    for (int64_t id : e.ids) FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile vocab_file("vocab.json"), merges_file("merges.txt"), tokenizer_file("tokenizer.json");
  std::string rest(reinterpret_cast<const char*>(data), size);
  const std::string vocab = clap::fuzz::take_part(rest, "\n#==merges==#\n");
  try {
    exercise(clap::Tokenizer::from_files(vocab_file.write(vocab), merges_file.write(rest)));
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for damaged files.
  }
  try {
    exercise(clap::Tokenizer::from_tokenizer_json(tokenizer_file.write(data, size)));
  } catch (const clap::Error&) {
  }
  return 0;
}
