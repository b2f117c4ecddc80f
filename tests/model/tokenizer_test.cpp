#include "model/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "support/golden.h"

namespace clap {
namespace {

using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> golden_texts(const std::string& case_name) {
  json c = json::parse(slurp(test::case_dir(case_name) + "/cases.json"));
  return c.at("texts").get<std::vector<std::string>>();
}

std::string two_digits(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02zu", i);
  return buf;
}

using test::error_of;

// One tokenizer per golden case, loaded once (loading is tested separately).
const Tokenizer& golden_tokenizer(const std::string& case_name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(case_name);
  if (it == cache.end()) it = cache.emplace(case_name, Tokenizer::from_dir(test::case_dir(case_name))).first;
  return it->second;
}

const Tokenizer& roberta() { return golden_tokenizer(test::golden_cases().at(0)); }

// Strings beyond the golden texts that exercise the regex, BPE and special-token paths.
const std::vector<std::string>& extra_texts() {
  static const std::vector<std::string> texts = {
      "hello <mask> world", "a \t <mask>b", "<s>x</s>", "<mask>", "x<mask> <mask>", "<ma sk>",
      "\xC2\xA0<mask>", "\x1C<mask>", "\xC2\x85 x", "a\x1C" "b", "don't we'll they'RE you've I'm",
      "   leading and trailing   ", "\n\n\tmixed\r\n whitespace \u3000 ideographic", "1234567 3.14159 1e-10",
      "ÀÉÎÕÜ ÿ ß ǅ Ω ж ש ع ह ก 한국어 日本語 😀👍🏽 🇩🇪", "tab\tsep\tvalues", "<pad><unk></s><s>",
      "word<unk>word", "x\u200by", "superlongwordwithoutanyspacesatalljusttocheckbpe"};
  return texts;
}

// ---------------------------------------------------------------------------------------------
// Golden parity

TEST(TokenizerGolden, EachTextAloneMatchesReference) {
  for (const std::string& c : test::golden_cases()) {
    SCOPED_TRACE(c);
    const Tokenizer& tok = golden_tokenizer(c);
    const SafeTensors& ex = test::golden_expected(c);
    std::vector<std::string> texts = golden_texts(c);
    ASSERT_EQ(texts.size(), 12u);
    for (size_t i = 0; i < texts.size(); ++i) {
      SCOPED_TRACE("text " + std::to_string(i) + ": " + texts[i]);
      Encoding e = tok.encode(texts[i]);
      EXPECT_EQ(e.ids, test::ints(ex, "text_" + two_digits(i) + "_input_ids"));
      EXPECT_FALSE(e.truncated);
    }
  }
}

TEST(TokenizerGolden, PaddedBatchMatchesReference) {
  for (const std::string& c : test::golden_cases()) {
    SCOPED_TRACE(c);
    const Tokenizer& tok = golden_tokenizer(c);
    const SafeTensors& ex = test::golden_expected(c);
    TokenBatch b = tok.encode_batch(golden_texts(c));
    const TensorView& ids = ex.at("text_input_ids");
    ASSERT_EQ(ids.shape.size(), 2u);
    EXPECT_EQ(b.batch, ids.shape[0]);
    EXPECT_EQ(b.length, ids.shape[1]);
    EXPECT_EQ(b.ids, test::ints(ex, "text_input_ids"));
    EXPECT_EQ(b.attention_mask, test::ints(ex, "text_attention_mask"));
  }
}

TEST(TokenizerGolden, Truncation77MatchesReference) {
  for (const std::string& c : test::golden_cases()) {
    SCOPED_TRACE(c);
    const Tokenizer& tok = golden_tokenizer(c);
    const SafeTensors& ex = test::golden_expected(c);
    std::vector<std::string> texts = golden_texts(c);
    TokenBatch b = tok.encode_batch(texts, 77);
    EXPECT_EQ(b.batch, 12);
    EXPECT_EQ(b.length, 77);
    EXPECT_EQ(b.ids, test::ints(ex, "text_trunc77_input_ids"));
    EXPECT_EQ(b.attention_mask, test::ints(ex, "text_trunc77_attention_mask"));
    for (size_t i = 0; i < texts.size(); ++i) {
      Encoding e = tok.encode(texts[i], 77);
      EXPECT_EQ(e.truncated, i == 8) << "text " << i;
      EXPECT_LE(e.ids.size(), 77u);
      EXPECT_EQ(e.ids.back(), tok.eos_id());
    }
    // Text 8 is 89 tokens: the cut keeps the first 75 word tokens.
    Encoding full = tok.encode(texts[8]), cut = tok.encode(texts[8], 77);
    ASSERT_EQ(full.ids.size(), 89u);
    EXPECT_TRUE(std::equal(cut.ids.begin(), cut.ids.end() - 1, full.ids.begin()));
    EXPECT_FALSE(tok.encode(texts[8], 89).truncated);
    EXPECT_TRUE(tok.encode(texts[8], 88).truncated);
  }
}

TEST(TokenizerGolden, SpecialIdsAndVocabSize) {
  const Tokenizer& tok = roberta();
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.mask_id(), 50264);
  EXPECT_EQ(tok.vocab_size(), 50265u);
  EXPECT_EQ(tok.token_id("Ġthe"), 5);
  EXPECT_EQ(tok.token_id("no such token"), -1);
  EXPECT_EQ(tok.encode("").ids, (std::vector<int64_t>{0, 2}));
}

// ---------------------------------------------------------------------------------------------
// Behaviour beyond the golden texts (expected ids from a line-by-line Python port of the slow
// RobertaTokenizer path run with the `regex` module on the golden vocab/merges).

TEST(TokenizerSpecials, LiteralSpecialTokensAndMaskLstrip) {
  const Tokenizer& tok = roberta();
  using V = std::vector<int64_t>;
  EXPECT_EQ(tok.encode("hello <mask> world").ids, (V{0, 42891, 50264, 232, 2}));
  EXPECT_EQ(tok.encode("a \t <mask>b").ids, (V{0, 102, 50264, 428, 2}));    // all whitespace left of it
  EXPECT_EQ(tok.encode("x<mask> <mask>").ids, (V{0, 1178, 50264, 50264, 2}));
  EXPECT_EQ(tok.encode("<mask>").ids, (V{0, 50264, 2}));
  EXPECT_EQ(tok.encode("\xC2\xA0<mask>").ids, (V{0, 50264, 2}));  // U+00A0 is Python whitespace
  EXPECT_EQ(tok.encode("\x1C<mask>").ids, (V{0, 50264, 2}));      // so is U+001C (str.isspace)
  EXPECT_EQ(tok.encode("<s>x</s>").ids, (V{0, 0, 1178, 2, 2}));   // other specials: no stripping
  EXPECT_EQ(tok.encode("<ma sk>").ids, (V{0, 41552, 1916, 2972, 15698, 2}));
  EXPECT_EQ(tok.encode("<pad><unk></s><s>").ids, (V{0, 1, 3, 2, 0, 2}));
  // A special token counts as one token for truncation.
  Encoding e = tok.encode("<mask> <mask> <mask>", 4);
  EXPECT_EQ(e.ids, (V{0, 50264, 50264, 2}));
  EXPECT_TRUE(e.truncated);
}

TEST(TokenizerSpecials, RegexEdgeCases) {
  const Tokenizer& tok = roberta();
  using V = std::vector<int64_t>;
  EXPECT_EQ(tok.encode("\xC2\x85 x").ids, (V{0, 4056, 5782, 3023, 2}));  // U+0085 is \s for `regex`
  EXPECT_EQ(tok.encode("a\x1C" "b").ids, (V{0, 102, 50136, 428, 2}));       // U+001C is not
}

TEST(TokenizerRobustness, InvalidUtf8IsReplacedNotFatal) {
  const Tokenizer& tok = roberta();
  const std::string fffd = "\xEF\xBF\xBD";
  // Each maximal invalid subpart becomes one U+FFFD, as Python's decode(errors="replace").
  EXPECT_EQ(tok.encode("a\xFF" "b").ids, tok.encode("a" + fffd + "b").ids);
  EXPECT_EQ(tok.encode("x\xE2\x82").ids, tok.encode("x" + fffd).ids);               // truncated sequence
  EXPECT_EQ(tok.encode("\xED\xA0\x80").ids, tok.encode(fffd + fffd + fffd).ids);    // encoded surrogate
  EXPECT_EQ(tok.encode("\xC0\xAF").ids, tok.encode(fffd + fffd).ids);               // overlong
  EXPECT_EQ(tok.encode("\xF4\x90\x80\x80").ids, tok.encode(fffd + fffd + fffd + fffd).ids);  // > U+10FFFF
  EXPECT_EQ(tok.encode("\xF0\x9F\x8E<mask>").ids, tok.encode(fffd + "<mask>").ids);
  // Arbitrary bytes never throw or crash and always give <s> ... </s>.
  uint64_t state = 12345;
  for (int n = 0; n < 300; ++n) {
    std::string s;
    size_t len = state % 40;
    for (size_t i = 0; i < len; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      s += char(state >> 56);
    }
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    Encoding e;
    ASSERT_NO_THROW(e = tok.encode(s));
    ASSERT_GE(e.ids.size(), 2u);
    EXPECT_EQ(e.ids.front(), 0);
    EXPECT_EQ(e.ids.back(), 2);
    for (int64_t id : e.ids) EXPECT_TRUE(id >= 0 && id < 50265);
  }
  EXPECT_EQ(tok.encode(std::string("zero\0byte", 9)).ids, (std::vector<int64_t>{0, 18556, 50108, 47692, 2}));  // NUL: a byte
}

TEST(TokenizerRobustness, DeterministicAcrossCallsAndThreads) {
  std::vector<std::string> texts = golden_texts(test::golden_cases().at(0));
  for (const std::string& s : extra_texts()) texts.push_back(s);
  // A fresh tokenizer (empty cache) must agree with a warmed-up one.
  Tokenizer fresh = Tokenizer::from_dir(test::case_dir(test::golden_cases().at(0)));
  const Tokenizer& warm = roberta();
  std::vector<std::vector<int64_t>> want;
  for (const std::string& t : texts) want.push_back(warm.encode(t).ids);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(fresh.encode(texts[i]).ids, want[i]) << texts[i];
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(warm.encode(texts[i]).ids, want[i]) << texts[i];

  Tokenizer shared = Tokenizer::from_dir(test::case_dir(test::golden_cases().at(0)));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        for (size_t i = 0; i < texts.size(); ++i)
          if (shared.encode(texts[(i + t * 7) % texts.size()]).ids != want[(i + t * 7) % texts.size()]) ++bad[t];
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

TEST(TokenizerRobustness, MaxTokensBelowTwoIsAnError) {
  EXPECT_NE(error_of([] { roberta().encode("x", 1); }).find("max_tokens"), std::string::npos);
  EXPECT_EQ(roberta().encode("hello world", 2).ids, (std::vector<int64_t>{0, 2}));
  EXPECT_TRUE(roberta().encode("hello world", 2).truncated);
  EXPECT_FALSE(roberta().encode("", 2).truncated);
  Tokenizer empty;
  EXPECT_FALSE(empty.loaded());
  EXPECT_NE(error_of([&] { empty.encode("x"); }).find("not loaded"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json and errors

// Writes a Hugging Face tokenizers-format tokenizer.json from the golden vocab/merges.
std::string write_tokenizer_json(const std::string& dir, bool pair_merges) {
  std::string src = test::case_dir(test::golden_cases().at(0));
  json vocab = json::parse(slurp(src + "/vocab.json"));
  json merges = json::array();
  std::istringstream lines(slurp(src + "/merges.txt"));
  std::string line;
  std::getline(lines, line);  // #version
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    if (pair_merges)
      merges.push_back(json::array({line.substr(0, sp), line.substr(sp + 1)}));
    else
      merges.push_back(line);
  }
  json added = json::array();
  for (auto [content, id] : std::vector<std::pair<std::string, int>>{{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}, {"<mask>", 50264}})
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", content == "<mask>"},
                     {"rstrip", false}, {"normalized", content != "<mask>"}, {"special", true}});
  json j = {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added},
            {"normalizer", nullptr},
            {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
            {"post_processor", {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 0}}, {"trim_offsets", true}, {"add_prefix_space", false}}},
            {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                       {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}}}};
  std::ofstream(dir + "/tokenizer.json", std::ios::binary) << j.dump();
  return dir;
}

TEST(TokenizerJson, TokenizerJsonOnlyFolderGivesIdenticalIds) {
  std::vector<std::string> texts = golden_texts(test::golden_cases().at(0));
  for (const std::string& s : extra_texts()) texts.push_back(s);
  for (bool pairs : {false, true}) {
    SCOPED_TRACE(pairs ? "[a, b] merges" : "\"a b\" merges");
    std::string dir = test::temp_dir() + (pairs ? "/pairs" : "/strings");
    std::filesystem::create_directories(dir);
    write_tokenizer_json(dir, pairs);
    Tokenizer tok = Tokenizer::from_dir(dir);
    EXPECT_EQ(tok.vocab_size(), 50265u);
    EXPECT_EQ(tok.mask_id(), 50264);
    for (const std::string& t : texts) EXPECT_EQ(tok.encode(t).ids, roberta().encode(t).ids) << t;
    EXPECT_EQ(tok.encode_batch(texts, 77).ids, roberta().encode_batch(texts, 77).ids);
  }
}

TEST(TokenizerErrors, MissingFilesAreNamed) {
  std::string dir = test::temp_dir();
  std::string msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/vocab.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;

  std::ofstream(dir + "/vocab.json") << R"({"<s>":0,"<pad>":1,"</s>":2,"<unk>":3})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/merges.txt"), std::string::npos) << msg;

  msg = error_of([&] { Tokenizer::from_dir(dir + "/nope"); });
  EXPECT_NE(msg.find(dir + "/nope"), std::string::npos) << msg;
}

TEST(TokenizerErrors, MalformedFilesAreNamed) {
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\nĠ t\n";
  std::ofstream(dir + "/vocab.json") << "{not json";
  std::string msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/vocab.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;

  std::ofstream(dir + "/vocab.json") << R"({"<s>":0,"</s>":2,"<unk>":3})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find("<pad>"), std::string::npos) << msg;

  std::ofstream(dir + "/vocab.json") << R"({"<s>":0,"<pad>":"one","</s>":2,"<unk>":3})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find("<pad>"), std::string::npos) << msg;

  std::ofstream(dir + "/vocab.json") << R"({"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"Ġ":4,"t":5,"Ġt":6})";
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\nĠ t\nthree tokens here\n";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/merges.txt: line 3"), std::string::npos) << msg;

  // A tiny valid tokenizer works, and unknown symbols map to <unk>.
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\nĠ t\n";
  Tokenizer tok = Tokenizer::from_dir(dir);
  EXPECT_EQ(tok.encode(" t").ids, (std::vector<int64_t>{0, 6, 2}));
  EXPECT_EQ(tok.encode("t x").ids, (std::vector<int64_t>{0, 5, 4, 3, 2}));  // "Ġ" known, "x" not
  EXPECT_EQ(tok.mask_id(), -1);
  EXPECT_EQ(tok.encode("<mask>").ids.size(), 8u);  // not special without a <mask> entry

  std::ofstream(dir + "/tokenizer.json") << R"({"model":{"type":"Unigram","vocab":[]}})";
  std::filesystem::remove(dir + "/merges.txt");
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Unigram"), std::string::npos) << msg;

  // L21's siblings in tokenizer.json: a model.type that is not a text, and an added token whose
  // fields have the wrong types, were skipped without a word (a special token lost).
  std::ofstream(dir + "/tokenizer.json") << R"({"model":{"type":5,"vocab":{"a":0},"merges":[]}})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/tokenizer.json: model.type is 5"), std::string::npos) << msg;
  // 100,000 nested lists: named by its first 200 bytes and its length, not followed down (dump()
  // recursed once a level and overflowed the stack: hostile pass 16, H16S-1).
  std::ofstream(dir + "/tokenizer.json", std::ios::trunc)
      << R"({"model":{"type":)" << std::string(100000, '[') << std::string(100000, ']') << R"(,"vocab":{"a":0},"merges":[]}})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/tokenizer.json: model.type is " + std::string(200, '[') + "... (200000 bytes), expected"),
            std::string::npos)
      << msg.substr(0, 400);
  std::ofstream(dir + "/tokenizer.json", std::ios::trunc)
      << R"({"added_tokens":[{"id":"4","content":"<mask>"}],"model":{"type":"BPE","vocab":{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3},"merges":[]}})";
  msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(dir + "/tokenizer.json: added_tokens[0] is not"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------
// Speed: measured and printed, not asserted.

// A measurement, not a check: run by hand with --gtest_also_run_disabled_tests.
TEST(TokenizerSpeed, DISABLED_LoadAndEncodeTimes) {
  std::string dir = test::case_dir(test::golden_cases().at(0));
  using clock = std::chrono::steady_clock;
  double best_load = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = clock::now();
    Tokenizer tok = Tokenizer::from_dir(dir);
    best_load = std::min(best_load, std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::string json_dir = test::temp_dir();
  write_tokenizer_json(json_dir, false);
  auto t0 = clock::now();
  Tokenizer from_json = Tokenizer::from_dir(json_dir);
  double json_load = std::chrono::duration<double, std::milli>(clock::now() - t0).count();

  std::vector<std::string> texts = golden_texts(test::golden_cases().at(0));
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  Tokenizer cold = Tokenizer::from_dir(dir);
  t0 = clock::now();
  size_t tokens = 0;
  for (const auto& t : texts) tokens += cold.encode(t).ids.size();
  double cold_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  const int reps = 2000;
  t0 = clock::now();
  for (int r = 0; r < reps; ++r)
    for (const auto& t : texts) tokens += cold.encode(t).ids.size();
  double warm_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("[ speed    ] load vocab.json+merges.txt %.1f ms (best of 3), tokenizer.json %.1f ms\n", best_load, json_load);
  std::printf("[ speed    ] 12 golden texts cold cache %.3f ms; warm %.2f us/text, %.1f MB/s\n", cold_ms,
              warm_s * 1e6 / (reps * texts.size()), bytes * double(reps) / warm_s / 1e6);
  EXPECT_GT(tokens, 0u);
}

}  // namespace
}  // namespace clap
