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
    EXPECT_EQ(p.fingerprint, f.fingerprint) << path;  // the first pass has the fingerprint
    if (f.track.status != store::TrackStatus::Ok) {
      EXPECT_EQ(test::index_state_diff({{path, p}}, {{path, f}}), "");
      continue;
    }
    ++ok;
    int silent = 0;
    for (const auto& w : f.windows) silent += w.silent;
    const int active = static_cast<int>(f.windows.size()) - silent;
    EXPECT_GT(active, 0) << path;
    const int want = silent + std::min(active, 4);
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
      if (w.silent) {
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

// The first pass cuts its windows from the samples its level scan decoded when a file is at
// most 16 M samples long at the model's rate (349.5 s at 48 kHz); a longer file is decoded
// again for them, as spans (audio::decode_spans: only those windows and their pre-roll). Both
// ways give the one-shot index's windows, bit for bit: the 62 s tracks above take the first way,
// this 6-minute one (22.05 kHz: resampled) the second.
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

// A progressive index with the defaults decodes no file whole more than twice (its first pass,
// then the second for every window left): these 6-minute ones, too long to keep their samples
// between the first pass's level scan and its cut, have their first-pass windows decoded on their
// own (audio::decode_spans) instead of a third whole decode, and the index ends as the one-shot
// index, bit for bit. At 48 kHz, and at 44.1 kHz, resampled in blocks the span decoder computes
// as the whole decode does (before blocks, such a file was decoded whole a third time).
TEST(Progressive, NoFileIsDecodedWholeMoreThanTwice) {
  for (const int rate : {48000, 44100}) {
    const std::string r = std::to_string(rate);
    const std::string lib = test::shared_fixture("progressive-long-" + r, [&](const std::string& d) {
      test::ffmpeg(d + "/long.flac",
                   "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*(300+200*sin(2*PI*t/40))*t):s=" + r + ":d=362\" -c:a flac");
    });
    const std::string db = test::temp_dir() + "/twice-" + r + ".db", full_db = test::temp_dir() + "/twice-full-" + r + ".db";
    IndexSettings s;
    s.decode_threads = 1;
    IndexSettings first_pass_only = s;
    first_pass_only.max_passes = 1;
    const audio::DecodeCounts before = audio::decode_counts();
    const IndexSummary first = run(db, first_pass_only, lib);
    const audio::DecodeCounts middle = audio::decode_counts();
    const IndexSummary rest = run(db, s, lib);
    const audio::DecodeCounts after = audio::decode_counts();
    EXPECT_EQ(first.indexed, 1) << rate;
    EXPECT_EQ(rest.last_pass, kLastPass) << rate;
    EXPECT_EQ(middle.whole - before.whole, 1) << rate;  // the first pass's level scan
    EXPECT_EQ(middle.spans - before.spans, 1) << rate;  // its 4 windows, on their own
    EXPECT_EQ(after.whole - middle.whole, 1) << rate;   // the second pass: every window left
    EXPECT_EQ(after.spans - middle.spans, 0) << rate;
    run(full_db, settings(0, 0), lib);
    EXPECT_EQ(test::index_state_diff(test::index_state(db), test::index_state(full_db)), "") << rate;
  }
}

// S6-1: the spans are placed by the packets' timestamps, the whole decode's windows by its
// samples; an MP3 with 20 KB of noise in its middle loses 1.4 s of samples in a whole decode
// where its timestamps lose none, so the first pass's windows after the damage were 66,000
// samples off the one-shot index's (window cosines 0.99997, not the same bits). Such a file is
// now decoded whole again for its first pass.
TEST(Progressive, ADamagedFileFarBeforeASpanGivesTheOneShotWindows) {
  const std::string lib = test::shared_fixture("progressive-damaged-mp3", [](const std::string& d) {
    const std::string mp3 = d + "/damaged.mp3";
    test::ffmpeg(mp3, "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*(300+200*sin(2*PI*t/40))*t):s=48000:d=362\" -c:a libmp3lame -b:a 128k");
    std::fstream f(mp3, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(mp3) / 2));
    uint32_t x = 12345;  // the same noise every run
    for (int i = 0; i < 20000; ++i) {
      x = (x * 1103515245u + 12345u) & 0x7fffffffu;
      f.put(static_cast<char>((x >> 16) & 0xff));
    }
  });
  const std::string first_db = test::temp_dir() + "/damaged-first.db", full_db = test::temp_dir() + "/damaged-full.db";
  run(first_db, settings(4, 1), lib);
  run(full_db, settings(0, 0), lib);
  const auto first = test::index_state(first_db), full = test::index_state(full_db);
  ASSERT_EQ(first.size(), 1u);
  const auto& [path, f] = *full.begin();
  const test::TrackState& p = first.at(path);
  ASSERT_EQ(p.track.window_count, 4);
  for (const auto& w : p.windows)
    EXPECT_EQ(test::index_state_diff({{"#" + std::to_string(w.idx), {p.track, {w}, {}, {}}}},
                                     {{"#" + std::to_string(w.idx), {p.track, {f.windows.at(static_cast<size_t>(w.idx))}, {}, {}}}}),
              "");
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

}  // namespace
}  // namespace clap::index
