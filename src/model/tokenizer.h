// Byte-level BPE tokenizer, identical to Hugging Face's slow `RobertaTokenizer`
// (transformers 4.38, add_prefix_space=False) as used by ClapProcessor:
//
//   1. Invalid UTF-8 in the input is replaced by U+FFFD (one per maximal invalid subpart, like
//      Python's bytes.decode("utf-8", errors="replace")); the reference only ever sees valid text.
//   2. Special tokens written literally in the text ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
//      are split out and map to their ids (leftmost match, longest first). "<mask>" has
//      lstrip=True: whitespace (Python str.isspace) directly to its left is dropped.
//   3. The rest goes through the GPT-2 pre-tokenizer regex
//      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      (PCRE2, UTF+UCP; \s spelled out as Unicode White_Space, which is what the `regex`
//      module uses), each piece's UTF-8 bytes are mapped through bytes_to_unicode, merged with
//      BPE (lowest merge rank first, all occurrences left to right) and looked up in the vocab
//      (unknown -> <unk>).
//   4. <s> ... </s> around it; optional truncation keeps </s> last.
//
// Files: vocab.json is {token: id}; merges.txt has one "left right" pair per line, ranked by
// line order, after an optional "#version" first line (the reference always drops line 1 and
// silently skips malformed lines; here a line with one or 3+ fields is an error). <s>, <pad>,
// </s> and <unk> must be in the vocab; <mask> is optional.
//
// \p{L} / \p{N} come from PCRE2's Unicode tables (10.42: Unicode 14); letters assigned in
// later Unicode versions may be classified differently from a newer `regex` module.
//
// A Tokenizer is immutable after loading (copies share the same tables) and safe to use
// from several threads; repeated words are served from a shared, mutex-protected cache.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clap {

struct Encoding {
  std::vector<int64_t> ids;  // <s> ... </s>
  bool truncated = false;    // cut to max_tokens
};

struct TokenBatch {  // batch x length, row-major, right-padded with the pad id
  int batch = 0, length = 0;
  std::vector<int64_t> ids, attention_mask;  // mask: 1 real token, 0 padding
};

class Tokenizer {
 public:
  Tokenizer() = default;  // empty: loaded() is false and encoding throws

  // From a Hugging Face snapshot folder: vocab.json + merges.txt; if those are absent but
  // tokenizer.json exists, model.vocab / model.merges from it (merges as "a b" strings or
  // ["a","b"] pairs). Throws clap::Error naming the file and the reason.
  static Tokenizer from_dir(const std::string& dir);
  static Tokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);
  static Tokenizer from_tokenizer_json(const std::string& tokenizer_json);

  // <s> + BPE(text) + </s>. If that is longer than max_tokens (which counts the two specials
  // and must be >= 2), it is cut to max_tokens keeping </s> last, and `truncated` is set.
  Encoding encode(const std::string& text, size_t max_tokens = SIZE_MAX) const;
  // Every text encoded as above, right-padded with <pad> to the longest (attention mask 0).
  TokenBatch encode_batch(const std::vector<std::string>& texts, size_t max_tokens = SIZE_MAX) const;
  // The token ids of `text` without <s>/</s> and without truncation.
  std::vector<int64_t> tokenize_ids(const std::string& text) const;

  int64_t pad_id() const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t mask_id() const;  // -1 if the vocab has no <mask>
  // Largest id + 1 (= the number of entries for a dense vocab; 50265 for roberta-base).
  size_t vocab_size() const;
  // The id of a vocab entry (in its byte-level spelling, e.g. "Ġthe"), or -1.
  int64_t token_id(const std::string& token) const;
  bool loaded() const { return impl_ != nullptr; }

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace clap
