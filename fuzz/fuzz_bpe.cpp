// The BPE tokenizer (model/tokenizer.h) with the real roberta-base vocabulary and merges on
// arbitrary bytes as text: invalid UTF-8, literal special tokens, the pre-split regex, the BPE
// merge loop, truncation and batch padding. The tables come from the golden tiny-unfused
// folder (CLAPSEARCH_FUZZ_TOKENIZER_DIR, set by CMake; the environment variable of the same
// name overrides it).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_util.h"
#include "model/tokenizer.h"

namespace {

const clap::Tokenizer& tokenizer() {
  static const clap::Tokenizer tok = [] {
    const char* dir = std::getenv("CLAPSEARCH_FUZZ_TOKENIZER_DIR");
    return clap::Tokenizer::from_dir(dir && *dir ? dir : CLAPSEARCH_FUZZ_TOKENIZER_DIR);
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const clap::Tokenizer& tok = tokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<int64_t> ids = tok.tokenize_ids(text);
  for (int64_t id : ids) FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
  // <s> + the tokens + </s>; cut to 77 keeping </s> last (the model's limit).
  const clap::Encoding full = tok.encode(text);
  FUZZ_CHECK(full.ids.size() == ids.size() + 2 && !full.truncated);
  const clap::Encoding cut = tok.encode(text, 77);
  FUZZ_CHECK(cut.ids.size() == std::min<size_t>(full.ids.size(), 77));
  FUZZ_CHECK(cut.truncated == (full.ids.size() > 77));
  FUZZ_CHECK(cut.ids.front() == tok.bos_id() && cut.ids.back() == tok.eos_id());
  const clap::TokenBatch batch = tok.encode_batch({text, text.substr(0, size / 2)}, 77);
  FUZZ_CHECK(batch.batch == 2 && batch.ids.size() == 2 * static_cast<size_t>(batch.length));
  FUZZ_CHECK(std::vector<int64_t>(batch.ids.begin(), batch.ids.begin() + static_cast<long>(cut.ids.size())) == cut.ids);
  return 0;
}
