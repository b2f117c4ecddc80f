// Progressive indexing (index/passes.h) on real encoded files with the real tiny model: the
// pass layout, a first pass that makes every track searchable, and later passes (in any batch
// composition, with any number of decoders, stopped after any pass) that end in the index a
// one-shot run makes, bit for bit.
#include "index/passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "audio/decode.h"
#include "index/indexer.h"
#include "hub/hub.h"
#include "store/sqlite_store.h"
#include "support/golden.h"
#include "support/index_state.h"

namespace clap::index {
namespace {

namespace fs = std::filesystem;

TEST(Passes, FirstPassIsEvenlySpacedAndLaterPassesBisectTheGaps) {
  EXPECT_EQ(window_passes(11, 4, 99), (std::vector<int>{2, 1, 2, 3, 1, 2, 1, 2, 3, 1, 2}));
  // By default the second pass is the last: it takes every window the first left.
  EXPECT_EQ(window_passes(11, 4), (std::vector<int>{2, 1, 2, 2, 1, 2, 1, 2, 2, 1, 2}));
  EXPECT_EQ(window_passes(47, 4, 3), [] {
    std::vector<int> p = window_passes(47, 4, 99);
    for (int& x : p) x = std::min(x, 3);
    return p;
  }());
  EXPECT_EQ(window_passes(3, 4), (std::vector<int>{1, 1, 1}));   // no more windows than the first pass
  EXPECT_EQ(window_passes(50, 0), std::vector<int>(50, 1));      // --first-pass 0: all at once
  EXPECT_TRUE(window_passes(0, 4).empty());
  for (int n : {5, 6, 7, 12, 47, 100, 721}) {
    for (int k : {1, 2, 3, 4, 8}) {
      const std::vector<int> p = window_passes(n, k, 99);
      ASSERT_EQ(static_cast<int>(p.size()), n);
      EXPECT_EQ(std::count(p.begin(), p.end(), 1), std::min(n, k)) << n << " " << k;
      for (int x : p) EXPECT_GE(x, 1);
      // Each pass at most doubles what is there (plus one): a track reaches every level in about
      // log2(n / k) passes, and no gap between windows present is left wider than needed.
      const int last = *std::max_element(p.begin(), p.end());
      int have = 0;
      for (int level = 1; level <= last; ++level) {
        const int added = static_cast<int>(std::count(p.begin(), p.end(), level));
        EXPECT_GT(added, 0) << n << " " << k << " pass " << level;
        if (level > 1) {
          EXPECT_LE(added, have + 1);
        }
        have += added;
      }
    }
  }
}

const ClapModel& tiny() {
  static std::unique_ptr<ClapModel> model = ClapModel::load(test::case_dir("tiny-unfused"));
  return *model;
}

// Tracks that need several passes (62 s and 47 s), one with digital silence in its middle, one
// no longer than the first pass, a quiet one (judged against its own level) and a silent one.
const std::string& library() {
  static const std::string dir = test::shared_fixture("progressive-library", [](const std::string& d) {
    test::ffmpeg(d + "/a.flac", "-f lavfi -i \"sine=f=300:d=62:sample_rate=22050\" -c:a flac");
    test::ffmpeg(d + "/b.mp3", "-f lavfi -i \"anoisesrc=seed=11:d=47:c=pink:r=44100:a=0.3\" -c:a libmp3lame -b:a 128k");
    test::ffmpeg(d + "/c.flac",
                 "-f lavfi -i \"aevalsrc=if(lt(t\\,8)+gt(t\\,33)\\,0.5*sin(2*PI*440*t)\\,0):s=32000:d=55\" -c:a flac");
    test::ffmpeg(d + "/d.wav", "-f lavfi -i \"sine=f=900:d=12:sample_rate=16000\" -c:a pcm_s16le");
    test::ffmpeg(d + "/e.flac", "-f lavfi -i \"aevalsrc=0.0002*sin(2*PI*220*t):s=22050:d=31\" -c:a flac");
    test::ffmpeg(d + "/f.wav", "-f lavfi -i anullsrc=r=16000:cl=mono -t 20 -c:a pcm_s16le");
  });
  return dir;
}

IndexSummary run(const std::string& db, IndexSettings s, const std::string& root = library()) {
  store::SqliteStore store = store::SqliteStore::open(db);
  const hub::ResolvedModel r = hub::resolve_model(test::case_dir("tiny-unfused"));
  const ModelSpec spec = describe_model(r, s.window_s, s.hop_s, s.silence_db);
  ensure_identity(store, spec.identity, false);
  IndexSummary sum = index_roots(store, {root}, spec, s, [&]() -> const ClapModel& { return tiny(); });
  for (const auto& p : store.check()) ADD_FAILURE() << "index inconsistent: " << p;
  return sum;
}

// last_pass 99: the bisection's every level a pass of its own (the default folds them into pass
// 2), so the runs below cross more passes than a user's.
IndexSettings settings(int first_pass, int max_passes, int batch = 8, int decoders = 1) {
  IndexSettings s;
  s.last_pass = 99;
  s.first_pass = first_pass;
  s.max_passes = max_passes;
  s.batch = batch;
  s.decode_threads = decoders;
  return s;
}

// The one-shot index (--first-pass 0: every window at once, as before progressive indexing).
const std::map<std::string, test::TrackState>& one_shot() {
  static const auto state = [] {
    const std::string db = test::temp_dir() + "/one-shot.db";
    run(db, settings(0, 0));
    return test::index_state(db);
  }();
  return state;
}

TEST(Progressive, FirstPassMakesEveryTrackSearchable) {
  const std::string db = test::temp_dir() + "/first.db";
  const IndexSummary sum = run(db, settings(4, 1));
  EXPECT_EQ(sum.found, 6);
  EXPECT_EQ(sum.indexed, 5);
  EXPECT_EQ(sum.errors, 1);  // f.wav: silent throughout
  EXPECT_EQ(sum.silent, 1);
  EXPECT_EQ(sum.last_pass, 0);
  const auto full = one_shot();
  const auto first = test::index_state(db);
  ASSERT_EQ(first.size(), full.size());
  int64_t expected_windows = 0, total = 0, complete = 0, ok = 0;
  for (const auto& [path, f] : full) {
    const test::TrackState& p = first.at(path);
    EXPECT_EQ(p.track.window_total, f.track.window_total) << path;
    // A file decoded whole in the first pass has its fingerprint from it; one cut as spans (most
    // here: FLAC, WAV, MP3, Opus, AAC at any rate) gets it from the second pass, which decodes it whole.
    EXPECT_TRUE(p.fingerprint.empty() || p.fingerprint == f.fingerprint) << path;
    if (f.track.status != store::TrackStatus::Ok) {
      EXPECT_EQ(test::index_state_diff({{path, p}}, {{path, f}}), "");
      continue;
    }
    ++ok;
    int silent = 0;
    bool quiet = true;
    for (const auto& w : f.windows) {
      silent += w.silent;
      quiet = quiet && w.loudness_dbfs < IndexSettings{}.silence_db;
    }
    const int active = static_cast<int>(f.windows.size()) - silent;
    EXPECT_GT(active, 0) << path;
    // Cut as spans (no fingerprint yet): its 4 windows laid out over all of them, a silent one met
    // recorded. A quiet track's spans are all below the threshold, and only its whole decode tells:
    // that second decode indexes it whole. Else decoded whole: 4 of its active windows, and every
    // silent one recorded.
    const bool spans = p.fingerprint.empty();
    const int want = spans ? std::min(f.track.window_total, 4) : quiet ? f.track.window_total : silent + std::min(active, 4);
    EXPECT_EQ(p.track.window_count, want) << path;
    expected_windows += want;
    total += f.track.window_total;
    complete += want == f.track.window_total;
    EXPECT_FALSE(p.embedding.empty()) << path << ": not searchable after the first pass";
    // Every window present is the full index's window, bit for bit.
    std::set<int> idx;
    for (const auto& w : p.windows) {
      idx.insert(w.idx);
      EXPECT_EQ(test::index_state_diff({{path + "#" + std::to_string(w.idx), {p.track, {w}, {}, {}}}},
                                       {{path + "#" + std::to_string(w.idx), {p.track, {f.windows.at(static_cast<size_t>(w.idx))}, {}, {}}}}),
                "");
    }
    for (const auto& w : f.windows)
      if (w.silent && !spans) {
        EXPECT_TRUE(idx.count(w.idx)) << path << ": silent window " << w.idx << " not recorded in pass 1";
      }
  }
  EXPECT_LT(complete, ok) << "no track needs a second pass: the library tests nothing";
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  const store::Counts c = s.counts();
  EXPECT_EQ(c.ok, ok);
  EXPECT_EQ(c.ok_windows, expected_windows);
  EXPECT_EQ(c.window_total, total);
  EXPECT_EQ(c.complete_tracks, complete);
  EXPECT_EQ(s.track_embeddings().size(), ok);
  EXPECT_EQ(static_cast<int64_t>(s.partial_tracks().size()), ok - complete);
}

// A file over 16 M samples at the model's rate (349.5 s at 48 kHz), more than a decode's samples
// are kept for: this 6-minute FLAC (22.05 kHz: resampled) has its first pass cut as spans
// (audio::decode_spans: only those windows and their pre-roll), the one-shot index's windows bit
// for bit. (One not cut as spans has them held as its level scan passes them: DecodeCount.*.)
const std::string& long_library() {
  static const std::string dir = test::shared_fixture("progressive-long", [](const std::string& d) {
    test::ffmpeg(d + "/long.flac", "-f lavfi -i \"sine=f=350:d=362:sample_rate=22050\" -c:a flac");
  });
  return dir;
}

TEST(Progressive, AFileTooLongToKeepIsDecodedAgainForItsFirstPass) {
  const std::string& lib = long_library();
  const std::string first_db = test::temp_dir() + "/long-first.db", full_db = test::temp_dir() + "/long-full.db";
  run(first_db, settings(4, 1), lib);
  run(full_db, settings(0, 0), lib);
  const auto first = test::index_state(first_db), full = test::index_state(full_db);
  ASSERT_EQ(first.size(), 1u);
  const auto& [path, f] = *full.begin();
  const test::TrackState& p = first.at(path);
  EXPECT_EQ(f.track.window_total, 72);  // 362 s: 71 windows every 5 s and the last part
  EXPECT_EQ(p.track.window_count, 4);
  for (const auto& w : p.windows)
    EXPECT_EQ(test::index_state_diff({{"#" + std::to_string(w.idx), {p.track, {w}, {}, {}}}},
                                     {{"#" + std::to_string(w.idx), {p.track, {f.windows.at(static_cast<size_t>(w.idx))}, {}, {}}}}),
              "");
}

// A progressive index with the defaults decodes a file whole once: its first pass reads its
// length off the packets and decodes only its windows (audio::decode_spans), the second pass
// decodes it for every window left, and the index ends as the one-shot index, bit for bit. At
// 48 kHz, and at 44.1 kHz, resampled in blocks the span decoder computes as the whole decode does
// (before blocks, a 44.1 kHz file was decoded whole twice in its first pass, three times in all).
// AAC too (and Opus, cut the same way: AFirstPassAtTheModelsRateDecodesOnlyItsWindows): decoded
// block by block in every decode (audio/packet_decoder.h); before, their spans were refused, and a
// file this long was decoded whole three times (scan, cut, second pass).
TEST(Progressive, NoFileIsDecodedWholeMoreThanTwice) {
  struct Case {
    int rate;
    const char* name;
    const char* codec;
  };
  for (const Case& c : {Case{48000, "long.flac", "-c:a flac"}, Case{44100, "long.flac", "-c:a flac"},
                        Case{44100, "long.m4a", "-c:a aac -b:a 128k"}}) {
    const int rate = c.rate;
    const std::string r = std::to_string(rate);
    const std::string lib = test::shared_fixture("progressive-long-" + r + "-" + c.name, [&](const std::string& d) {
      test::ffmpeg(d + "/" + c.name, "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*(300+200*sin(2*PI*t/40))*t):s=" + r +
                                         ":d=362\" " + c.codec);
    });
    const std::string db = test::temp_dir() + "/twice-" + r + c.name + ".db",
                      full_db = test::temp_dir() + "/twice-full-" + r + c.name + ".db";
    IndexSettings s;
    s.decode_threads = 1;
    IndexSettings first_pass_only = s;
    first_pass_only.max_passes = 1;
    const audio::DecodeCounts before = audio::decode_counts();
    const IndexSummary first = run(db, first_pass_only, lib);
    const audio::DecodeCounts middle = audio::decode_counts();
    const IndexSummary rest = run(db, s, lib);
    const audio::DecodeCounts after = audio::decode_counts();
    EXPECT_EQ(first.indexed, 1) << c.name << rate;
    EXPECT_EQ(rest.last_pass, kLastPass) << c.name << rate;
    EXPECT_EQ(middle.whole - before.whole, 0) << c.name << rate;  // no level scan
    EXPECT_EQ(middle.spans - before.spans, 1) << c.name << rate;  // its windows, on their own
    EXPECT_EQ(after.whole - middle.whole, 1) << c.name << rate;   // the second pass: every window left
    EXPECT_EQ(after.spans - middle.spans, 0) << c.name << rate;
    run(full_db, settings(0, 0), lib);
    EXPECT_EQ(test::index_state_diff(test::index_state(db), test::index_state(full_db)), "") << c.name << rate;
  }
}

// S6-1: the spans are placed by the packets' timestamps, the whole decode's windows by its
// samples; an MP3 with 20 KB of noise in its middle loses 1.4 s of samples in a whole decode
// where its timestamps lose none, so a first pass cut as spans stores windows after the damage
// 66,000 samples off the one-shot index's (and the length the packets give). The second pass,
// which decodes the file whole, finds its length and levels unlike the first pass's and indexes
// the track afresh from that decode: the index ends as the one-shot index, and the file was
// decoded twice (its spans, then once whole).
TEST(Progressive, ADamagedFileFarBeforeASpanGivesTheOneShotWindows) {
  const std::string lib = test::shared_fixture("progressive-damaged-mp3-240s", [](const std::string& d) {
    const std::string mp3 = d + "/damaged.mp3";
    test::ffmpeg(mp3, "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*(300+200*sin(2*PI*t/40))*t):s=48000:d=240\" -c:a libmp3lame -b:a 128k");
    std::fstream f(mp3, std::ios::in | std::ios::out | std::ios::binary);
    // At 84 s: between the first pass's windows at 35-45 s and 115-125 s (their pre-roll included).
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(mp3) * 35 / 100));
    uint32_t x = 12345;  // the same noise every run
    for (int i = 0; i < 20000; ++i) {
      x = (x * 1103515245u + 12345u) & 0x7fffffffu;
      f.put(static_cast<char>((x >> 16) & 0xff));
    }
  });
  IndexSettings first;  // the default passes: the first, then every window left
  first.first_pass = 3;
  first.decode_threads = 1;
  first.max_passes = 1;
  IndexSettings rest = first;
  rest.max_passes = 0;
  const std::string db = test::temp_dir() + "/damaged.db", full_db = test::temp_dir() + "/damaged-full.db";
  run(full_db, settings(0, 0), lib);
  const auto full = test::index_state(full_db);
  ASSERT_EQ(full.size(), 1u);
  const auto& [path, f] = *full.begin();
  const audio::DecodeCounts before = audio::decode_counts();
  run(db, first, lib);
  const audio::DecodeCounts middle = audio::decode_counts();
  EXPECT_EQ(middle.whole - before.whole, 0);
  EXPECT_EQ(middle.spans - before.spans, 1);
  {
    const test::TrackState& p = test::index_state(db).at(path);
    ASSERT_EQ(p.track.window_count, 3);
    EXPECT_NE(p.track.duration_s, f.track.duration_s) << "the first pass is not off the one-shot index: the fixture tests nothing";
  }
  run(db, rest, lib);
  const audio::DecodeCounts after = audio::decode_counts();
  EXPECT_EQ(after.whole - middle.whole, 1);
  EXPECT_EQ(after.spans - middle.spans, 0);
  EXPECT_EQ(test::index_state_diff(test::index_state(db), full), "");
}

// Files at the model's rate (48 kHz) in every container the span decoder cuts, and some it does
// not: their first pass reads the length off the packets and decodes only its windows (and
// their pre-roll), without a whole decode; the others fall back to one whole decode. c.wav has
// digital silence at 10-21 s that no first-pass window touches (its silent window is found by
// the second pass); g.flac's silence covers a first-pass window, recorded silent by the first pass
// (its other windows are loud: the track is not quiet, so a window below the threshold is silent).
const std::string& library_48k() {
  static const std::string dir = test::shared_fixture("progressive-48k", [](const std::string& d) {
    const std::string noise = "-f lavfi -i \"anoisesrc=seed=5:d=62:c=pink:r=48000:a=0.3\" ";
    test::ffmpeg(d + "/a.flac", noise + "-c:a flac");
    test::ffmpeg(d + "/b.mp3", noise + "-c:a libmp3lame -b:a 192k");
    test::ffmpeg(d + "/c.wav",
                 "-f lavfi -i \"aevalsrc=if(between(t\\,10\\,21)\\,0\\,0.5*sin(2*PI*440*t)):s=48000:d=62\" -c:a pcm_s16le");
    test::ffmpeg(d + "/d.mp3", noise + "-c:a libmp3lame -q:a 4 -write_xing 0");  // VBR without a TOC
    test::ffmpeg(d + "/e.opus", noise + "-c:a libopus -b:a 96k");
    test::ffmpeg(d + "/f.m4a", noise + "-c:a aac -b:a 128k");
    test::ffmpeg(d + "/g.flac", "-f lavfi -i \"aevalsrc=if(between(t\\,14\\,36)\\,0\\,0.5*sin(2*PI*440*t)):s=48000:d=62\" -c:a flac");
  });
  return dir;
}

const std::map<std::string, test::TrackState>& one_shot_48k() {
  static const auto state = [] {
    const std::string db = test::temp_dir() + "/one-shot-48k.db";
    run(db, settings(0, 0), library_48k());
    return test::index_state(db);
  }();
  return state;
}

// The first pass of the files the span decoder cuts is no whole decode: one span decode each
// (their 4 windows, bit for bit the one-shot index's, a silent one met recorded as such), and no
// fingerprint yet; Opus and AAC, refused before they were decoded block by block, were decoded
// whole. The second pass decodes every file once more and the
// index ends as the one-shot index, bit for bit (the silent window and fingerprints included):
// no file is decoded more than twice.
TEST(Progressive, AFirstPassAtTheModelsRateDecodesOnlyItsWindows) {
  const std::string db = test::temp_dir() + "/first-48k.db";
  const auto& full = one_shot_48k();
  IndexSettings s;
  s.first_pass = 4;
  s.decode_threads = 1;
  IndexSettings first_only = s;
  first_only.max_passes = 1;
  const audio::DecodeCounts before = audio::decode_counts();
  const IndexSummary first = run(db, first_only, library_48k());
  const audio::DecodeCounts middle = audio::decode_counts();
  EXPECT_EQ(first.indexed, 7);
  EXPECT_EQ(middle.spans - before.spans, 7);  // a-g cut (g's silent window recorded as such)
  EXPECT_EQ(middle.whole - before.whole, 0);
  const auto state = test::index_state(db);
  for (const char* name : {"a.flac", "b.mp3", "c.wav", "d.mp3", "e.opus", "f.m4a"}) {
    const std::string path = library_48k() + "/" + name;
    const test::TrackState& p = state.at(path);
    const test::TrackState& f = full.at(path);
    EXPECT_EQ(p.track.window_total, f.track.window_total) << name;
    EXPECT_EQ(p.track.window_count, 4) << name;
    EXPECT_DOUBLE_EQ(p.track.duration_s, f.track.duration_s) << name;
    EXPECT_TRUE(p.fingerprint.empty()) << name << ": made by the second pass";
    EXPECT_FALSE(p.embedding.empty()) << name;
    for (const auto& w : p.windows) {
      EXPECT_FALSE(w.silent) << name;
      EXPECT_EQ(test::index_state_diff({{path + "#" + std::to_string(w.idx), {p.track, {w}, {}, {}}}},
                                       {{path + "#" + std::to_string(w.idx), {p.track, {f.windows.at(static_cast<size_t>(w.idx))}, {}, {}}}}),
                "");
    }
  }
  EXPECT_TRUE(full.at(library_48k() + "/c.wav").windows.at(2).silent) << "the fixture has no silent window to find";
  {
    const std::string path = library_48k() + "/g.flac";
    const test::TrackState& p = state.at(path);
    EXPECT_EQ(p.track.window_count, 4);
    EXPECT_TRUE(p.fingerprint.empty());
    int silent = 0;
    for (const auto& w : p.windows) {
      silent += w.silent;
      EXPECT_EQ(test::index_state_diff({{path + "#" + std::to_string(w.idx), {p.track, {w}, {}, {}}}},
                                       {{path + "#" + std::to_string(w.idx), {p.track, {full.at(path).windows.at(static_cast<size_t>(w.idx))}, {}, {}}}}),
                "");
    }
    EXPECT_EQ(silent, 1) << "the fixture's silence covers no first-pass window";
  }
  const IndexSummary rest = run(db, s, library_48k());
  const audio::DecodeCounts after = audio::decode_counts();
  EXPECT_EQ(rest.last_pass, kLastPass);
  EXPECT_EQ(after.whole - middle.whole, 7);  // one decode of each file for every window left
  EXPECT_EQ(after.spans - middle.spans, 0);
  EXPECT_EQ(test::index_state_diff(test::index_state(db), full), "");
}

// With every level of the bisection a pass of its own (and two decoders), the passes after a
// first pass cut as spans still end in the one-shot index.
TEST(Progressive, AFirstPassCutAsSpansEndsInTheOneShotIndexAfterAnyPasses) {
  const std::string db = test::temp_dir() + "/passes-48k.db";
  run(db, settings(3, 1, 3, 2), library_48k());
  run(db, settings(3, 2, 3, 2), library_48k());
  run(db, settings(3, 0, 3, 2), library_48k());
  EXPECT_EQ(test::index_state_diff(test::index_state(db), one_shot_48k()), "");
}

TEST(Progressive, LaterPassesEndInTheOneShotIndexBitForBit) {
  // Another batch composition and two decoders, stopped after pass 1 and after pass 2.
  const std::string db = test::temp_dir() + "/passes.db";
  run(db, settings(4, 1, 3, 2));
  const IndexSummary second = run(db, settings(4, 2, 3, 2));
  EXPECT_EQ(second.indexed, 0);
  EXPECT_EQ(second.unchanged, 6);
  EXPECT_EQ(second.last_pass, 2);
  EXPECT_GT(second.deepened, 0);
  {
    store::SqliteStore s = store::SqliteStore::open_readonly(db);
    EXPECT_FALSE(s.partial_tracks().empty()) << "every track complete after pass 2: the library tests nothing";
  }
  const IndexSummary rest = run(db, settings(4, 0, 3, 2));
  EXPECT_GE(rest.last_pass, 3);
  EXPECT_EQ(test::index_state_diff(test::index_state(db), one_shot()), "");
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  EXPECT_TRUE(s.partial_tracks().empty());
  const store::Counts c = s.counts();
  EXPECT_EQ(c.ok_windows, c.window_total);
  EXPECT_EQ(c.complete_tracks, c.ok);
  // Nothing left to do.
  const IndexSummary again = run(db, settings(4, 0));
  EXPECT_EQ(again.embedded_windows, 0);
  EXPECT_EQ(again.last_pass, 0);
}

TEST(Progressive, OneRunWithTheDefaultsEqualsTheOneShotIndex) {
  const std::string db = test::temp_dir() + "/default.db";
  const IndexSummary sum = run(db, IndexSettings{});
  EXPECT_EQ(sum.indexed, 5);
  EXPECT_EQ(sum.last_pass, kLastPass);
  EXPECT_EQ(test::index_state_diff(test::index_state(db), one_shot()), "");
}

// A file changed between passes is indexed again from its first pass; one gone is left as it is.
TEST(Progressive, AFileChangedOrGoneBetweenPassesLosesNothing) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/changed.db";
  fs::create_directories(lib);
  for (const char* name : {"a.flac", "b.mp3", "c.flac"}) fs::copy_file(library() + "/" + name, lib + "/" + name);
  run(db, settings(4, 1), lib);
  fs::copy_file(library() + "/d.wav", lib + "/a.flac", fs::copy_options::overwrite_existing);  // changed
  fs::rename(lib + "/b.mp3", lib + "/b.away");  // gone (one of three: pruned, not held)
  const IndexSummary sum = run(db, settings(4, 0), lib);
  EXPECT_EQ(sum.indexed, 1);
  EXPECT_EQ(sum.pruned, 1);
  const auto state = test::index_state(db);
  EXPECT_EQ(state.at(lib + "/a.flac").track.window_total, one_shot().at(library() + "/d.wav").track.window_total);
  EXPECT_EQ(state.at(lib + "/c.flac").track.window_count, one_shot().at(library() + "/c.flac").track.window_total);
  EXPECT_FALSE(state.count(lib + "/b.mp3"));
}

// R6-9: a file rewritten between its first pass and a later one with its size and modification
// time kept (a copy that keeps its times, `touch -r`) was taken as the file the first pass read:
// the later pass added the new content's windows to the old content's. Its change time moved, so
// its content is hashed again, found changed, and the track indexed afresh: it ends as the
// one-shot index of the new content, and the old content's windows are gone.
TEST(Progressive, AFileRewrittenBetweenPassesWithItsTimesKeptIsIndexedAfresh) {
  const std::string lib = test::temp_dir() + "/rewritten", db = test::temp_dir() + "/rewritten.db";
  const std::string other = test::temp_dir() + "/rewritten-new", other_db = test::temp_dir() + "/rewritten-new.db";
  fs::create_directories(lib);
  fs::create_directories(other);
  // Two contents of one size (16-bit PCM of one length): a tone, then noise.
  test::ffmpeg(lib + "/x.wav", "-f lavfi -i \"sine=f=440:d=62:sample_rate=44100\" -c:a pcm_s16le");
  test::ffmpeg(other + "/x.wav", "-f lavfi -i \"anoisesrc=seed=7:d=62:c=pink:r=44100:a=0.3\" -c:a pcm_s16le");
  ASSERT_EQ(fs::file_size(lib + "/x.wav"), fs::file_size(other + "/x.wav"));
  run(db, settings(4, 1), lib);
  const auto kept_time = fs::last_write_time(lib + "/x.wav");
  fs::copy_file(other + "/x.wav", lib + "/x.wav", fs::copy_options::overwrite_existing);
  fs::last_write_time(lib + "/x.wav", kept_time);
  run(db, settings(4, 0), lib);
  run(other_db, settings(0, 0), other);
  std::map<std::string, test::TrackState> expected;
  expected[lib + "/x.wav"] = test::index_state(other_db).at(other + "/x.wav");
  EXPECT_EQ(test::index_state_diff(test::index_state(db), expected), "");
}

}  // namespace
}  // namespace clap::index
