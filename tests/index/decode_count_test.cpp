// Issue 56: no file is decoded more than twice over a whole progressive index (its first pass,
// `index --passes 1`, and the rest, `index`), a decode of spans counting as one: whatever the
// file's format and rate, whether the span decoder cuts it, whether its first pass finds a window
// below the silence threshold, whether it is quiet, longer than the first pass keeps in memory,
// damaged where the spans do not look, rewritten or moved between the passes, too short for a
// fingerprint (audio::decode_counts counts each path's decodes). The index ends as the one-shot
// index (`--first-pass 0`) of the files' content, bit for bit, and a run after it decodes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "audio/decode.h"
#include "audio/windows.h"
#include "index/indexer.h"
#include "index/passes.h"
#include "hub/hub.h"
#include "service/indexing.h"
#include "service/precision_choice.h"
#include "store/sqlite_store.h"
#include "support/golden.h"
#include "support/index_state.h"
#include "support/tiny_index.h"

namespace clap::index {
namespace {

namespace fs = std::filesystem;

IndexSummary run(const std::string& db, const IndexSettings& s, const std::string& root) {
  store::SqliteStore store = store::SqliteStore::open(db);
  IndexSummary sum = test::index_with_tiny(store, {root}, s);
  for (const auto& p : store.check()) ADD_FAILURE() << "index inconsistent: " << p;
  return sum;
}

// 20 KB of the same noise written over `path` at `fraction` of its length (S6-1's damage).
void damage(const std::string& path, int percent) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) * static_cast<uintmax_t>(percent) / 100));
  uint32_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    x = (x * 1103515245u + 12345u) & 0x7fffffffu;
    f.put(static_cast<char>((x >> 16) & 0xff));
  }
}

// Every file in a folder of its own. The long ones are over 16 M samples at 48 kHz (349.5 s):
// more than a pass keeps of a decode in memory (pipeline_internal.h kFirstPassKeptSamples).
const std::string& library() {
  static const std::string dir = test::shared_fixture("decode-count-library", [](const std::string& d) {
    const std::string noise = "-f lavfi -i \"anoisesrc=seed=5:d=62:c=pink:r=48000:a=0.3\" ";
    const std::string sweep = "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*(300+200*sin(2*PI*t/40))*t):s=48000:d=";
    test::ffmpeg(d + "/flac/a.flac", noise + "-c:a flac");
    test::ffmpeg(d + "/wav/a.wav", noise + "-c:a pcm_s16le");
    test::ffmpeg(d + "/mp3-44k/a.mp3", "-f lavfi -i \"anoisesrc=seed=5:d=62:c=pink:r=44100:a=0.3\" -c:a libmp3lame -b:a 128k");
    test::ffmpeg(d + "/mp3-vbr-no-toc/a.mp3", noise + "-c:a libmp3lame -q:a 4 -write_xing 0");
    test::ffmpeg(d + "/opus/a.opus", noise + "-c:a libopus -b:a 96k");
    test::ffmpeg(d + "/aac/a.m4a", noise + "-c:a aac -b:a 128k");
    test::ffmpeg(d + "/vorbis/a.ogg", noise + "-c:a libvorbis -q:a 3");
    // Digital silence over one of its first-pass windows (14-36 s), loud elsewhere.
    test::ffmpeg(d + "/silent-window/a.flac",
                 "-f lavfi -i \"aevalsrc=if(between(t\\,28\\,42)\\,0\\,0.5*sin(2*PI*440*t)):s=48000:d=62\" -c:a flac");
    // Every window below the silence threshold but not silence: judged against its own level.
    test::ffmpeg(d + "/quiet/a.flac", "-f lavfi -i \"aevalsrc=0.0002*sin(2*PI*220*t):s=48000:d=62\" -c:a flac");
    // Long, in a format the span decoder does not cut (decoded whole in its first pass).
    test::ffmpeg(d + "/long-wavpack/a.wv", sweep + "362\" -c:a wavpack");
    // Long and damaged at 35 % (126 s, between two first-pass windows): its first pass, cut as
    // spans, is off a whole decode, and the second pass indexes it afresh.
    test::ffmpeg(d + "/long-damaged/a.mp3", sweep + "362\" -c:a libmp3lame -b:a 128k");
    damage(d + "/long-damaged/a.mp3", 35);
    // Two contents of one size: the tone is rewritten with the quiet noise between the passes.
    test::ffmpeg(d + "/rewritten/a.wav", "-f lavfi -i \"sine=f=440:d=62:sample_rate=48000\" -c:a pcm_s16le");
    test::ffmpeg(d + "/rewritten-new/a.wav", "-f lavfi -i \"anoisesrc=seed=7:d=62:c=pink:r=48000:a=0.0003\" -c:a pcm_s16le");
    test::ffmpeg(d + "/moved/a.flac", "-f lavfi -i \"anoisesrc=seed=9:d=62:c=pink:r=48000:a=0.3\" -c:a flac");
    // Too short for a fingerprint (under 2.7 s): it was decoded again for one in every run.
    test::ffmpeg(d + "/short/a.flac", "-f lavfi -i \"anoisesrc=seed=3:d=2:c=pink:r=48000:a=0.3\" -c:a flac");
    // Quiet and long (kept to a few windows, for the model's time): digital silence, 20 s at
    // -129 dB, then a -77 dB tone; no window loud in what a decode keeps (pipeline_internal.h
    // kFirstPassKeptSamples), so judged provisionally; the -129 dB windows are embedded, then silent
    // against the tone (24-bit, so that they are not rounded to silence).
    const std::string quiet_long =
        "-f lavfi -i \"aevalsrc=if(lt(t\\,300)\\,0\\,if(lt(t\\,320)\\,0.0000005\\,0.0002))*sin(2*PI*220*t):s=48000:d=362\" ";
    // Its first pass's spans are all below the threshold, so it is decoded whole then, and judged
    // against its own level past what a decode keeps (it was decoded a third time).
    test::ffmpeg(d + "/quiet-long/a.flac", quiet_long + "-c:a flac -sample_fmt s32");
    // Long, and rewritten between the passes with that content at the same size: the second pass
    // indexes it afresh, a quiet track (it was decoded twice there). 16 kHz: fewer bytes, the same
    // 48 kHz samples to the model.
    test::ffmpeg(d + "/rewritten-quiet-long/a.wav", sweep + "362\" -ar 16000 -c:a pcm_s24le");
    test::ffmpeg(d + "/rewritten-quiet-long-new/a.wav", quiet_long + "-ar 16000 -c:a pcm_s24le");
    // Long, not cut as spans, in a container that gives no duration (WavPack written to a pipe):
    // no layout to hold its first pass's windows by (it was decoded again for them). Silent but
    // for its last 62 s (7 windows: more than a first pass takes).
    test::ffmpeg(d + "/long-no-duration/a.wv",
                 "-f lavfi -i \"aevalsrc=if(lt(t\\,300)\\,0\\,0.3*sin(2*PI*440*t)):s=48000:d=362\" -c:a wavpack -f wv pipe:1 >");
  });
  return dir;
}

struct Case {
  std::string name;
  std::function<void(const std::string& dir)> between;  // what happens to the file between the passes
  std::string file = "a";                                 // its name after `between`
};

TEST(DecodeCount, NoFileIsDecodedMoreThanTwiceOverAProgressiveIndex) {
  const std::string lib = library();
  const std::vector<Case> cases = {
      {"flac", {}},
      {"wav", {}},
      {"mp3-44k", {}},
      {"mp3-vbr-no-toc", {}},
      {"opus", {}},
      {"aac", {}},
      {"vorbis", {}},
      {"silent-window", {}},
      {"quiet", {}},
      {"long-wavpack", {}},
      {"long-damaged", {}},
      {"rewritten",
       [&](const std::string& dir) {
         const auto kept = fs::last_write_time(dir + "/a.wav");
         fs::copy_file(lib + "/rewritten-new/a.wav", dir + "/a.wav", fs::copy_options::overwrite_existing);
         fs::last_write_time(dir + "/a.wav", kept);
       }},
      {"moved", [](const std::string& dir) { fs::rename(dir + "/a.flac", dir + "/b.flac"); }, "b"},
      {"short", {}},
      {"quiet-long", {}},
      {"rewritten-quiet-long",
       [&](const std::string& dir) {
         const auto kept = fs::last_write_time(dir + "/a.wav");
         fs::copy_file(lib + "/rewritten-quiet-long-new/a.wav", dir + "/a.wav", fs::copy_options::overwrite_existing);
         fs::last_write_time(dir + "/a.wav", kept);
       }},
      {"long-no-duration", {}},
  };
  // The library: every case in a folder of its own.
  const std::string root = test::temp_dir() + "/library", db = test::temp_dir() + "/progressive.db",
                    full_db = test::temp_dir() + "/one-shot.db";
  std::map<std::string, std::string> ext;  // by case
  for (const Case& c : cases) {
    for (const auto& e : fs::directory_iterator(lib + "/" + c.name)) ext[c.name] = e.path().extension().string();
    fs::create_directories(root + "/" + c.name);
    fs::copy_file(lib + "/" + c.name + "/a" + ext[c.name], root + "/" + c.name + "/a" + ext[c.name]);
  }
  IndexSettings rest;
  rest.decode_threads = 1;
  rest.hop_s = 10;  // half the windows of the default hop: the same decodes, half the model's work
  IndexSettings first = rest;
  first.max_passes = 1;
  IndexSettings one_shot = rest;
  one_shot.first_pass = 0;
  audio::count_decodes_by_path(true);
  const auto decodes = [&](const Case& c) {
    int64_t n = 0;
    for (const std::string& name : {std::string("a"), c.file}) {
      const audio::DecodeCounts d = audio::decode_counts(root + "/" + c.name + "/" + name + ext[c.name]);
      n += d.whole + d.spans;
      if (name == c.file) break;  // the same path
    }
    return n;
  };
  const IndexSummary one = run(db, first, root);
  EXPECT_EQ(one.indexed, static_cast<int64_t>(cases.size()));
  std::map<std::string, int64_t> first_pass;
  for (const Case& c : cases) first_pass[c.name] = decodes(c);
  for (const Case& c : cases)
    if (c.between) c.between(root + "/" + c.name);
  const IndexSummary two = run(db, rest, root);
  EXPECT_EQ(one.errors + two.errors, 0);
  EXPECT_EQ(two.last_pass, kLastPass);
  std::map<std::string, int64_t> after;
  for (const Case& c : cases) {
    after[c.name] = decodes(c);
    EXPECT_LE(after[c.name], 2) << c.name << ": " << first_pass[c.name] << " in the first pass, " << after[c.name] - first_pass[c.name]
                                << " after";
  }
  // A later run has nothing to decode.
  run(db, rest, root);
  for (const Case& c : cases) EXPECT_EQ(decodes(c), after[c.name]) << c.name << ": decoded by a run after the index was complete";
  audio::count_decodes_by_path(false);
  // The index ends as the one-shot index of what the files hold now.
  run(full_db, one_shot, root);
  const auto state = test::index_state(db);
  EXPECT_EQ(test::index_state_diff(state, test::index_state(full_db)), "");
  ASSERT_EQ(state.size(), cases.size());
  for (const auto& [path, t] : state) EXPECT_EQ(t.track.window_count, t.track.window_total) << path;
  // The quiet long tracks, judged provisionally, as a quiet track is judged (audio/windows.h):
  // silent exactly when more than 30 dB below the loudest window.
  for (const std::string name : {"quiet-long", "rewritten-quiet-long"}) {
    const auto& t = state.at(root + "/" + name + "/a" + ext[name]);
    double loudest = -1e300;
    for (const store::WindowRecord& w : t.windows) loudest = std::max(loudest, w.loudness_dbfs);
    ASSERT_LT(loudest, -60) << name;
    int sounding = 0;
    for (const store::WindowRecord& w : t.windows) {
      EXPECT_EQ(w.silent, w.loudness_dbfs < loudest - audio::kQuietRangeDb) << name << " window " << w.idx;
      EXPECT_EQ(w.embedding.empty(), w.silent) << name << " window " << w.idx;
      sounding += !w.silent;
    }
    EXPECT_GT(sounding, 0) << name;
    EXPECT_LT(sounding, 8) << name;  // the tone's; the -129 dB windows are silent
  }
}

// `--precision auto` on an index's first run measures on a sample of the library before any file's
// first pass (service/precision_choice.h): the sample's decode of a file is its first pass's
// (index/precut.h), so those files too are decoded at most twice in all, the sample's decodes are
// counted with the run's, the first pass still holds a few windows of each track (the progressive
// contract), and the index ends as the one-shot index made with the precision chosen given
// explicitly. A one-shot run (--first-pass 0) samples the same windows (the same record, bit for
// bit) and decodes each file at most twice too. Before, each sampled file was decoded three times
// over the progressive index (the sample whole, the first pass, the rest).
TEST(DecodeCount, NoSampledFileIsDecodedMoreThanTwiceOnAPrecisionAutoFirstRun) {
  const std::string lib = library();
  // Every file but the WavPack one is sampled (fewer than 16, and they give enough windows): the
  // span decoder does not cut WavPack, whose first pass decodes it whole and whose second pass
  // decodes it again, so the sample passes over it.
  const std::vector<std::string> names = {"flac",  "opus",  "aac",         "mp3-vbr-no-toc", "silent-window",
                                          "quiet", "short", "long-wavpack", "long-damaged"};
  const std::string root = test::temp_dir() + "/auto-library";
  std::map<std::string, std::string> path;  // by case
  for (const std::string& name : names) {
    for (const auto& e : fs::directory_iterator(lib + "/" + name))
      if (e.path().filename().string()[0] != '.') path[name] = root + "/" + name + "/" + e.path().filename().string();
    fs::create_directories(root + "/" + name);
    fs::copy_file(lib + "/" + name + "/" + fs::path(path[name]).filename().string(), path[name]);
  }
  service::IndexRequest r;
  r.dirs = {root};
  r.db = test::temp_dir() + "/auto-progressive.db";
  r.model = test::case_dir("tiny-unfused");
  r.quiet = true;
  r.decoders = 1;
  r.hop_s = 10;
  r.max_passes = 1;
  audio::count_decodes_by_path(true);
  const auto decodes = [&](const std::string& name) {
    const audio::DecodeCounts d = audio::decode_counts(path[name]);
    return d.whole + d.spans;
  };
  const service::IndexRun first = service::run_index(r);
  ASSERT_TRUE(first.precision_choice);
  EXPECT_TRUE(first.precision_choice->measured) << first.precision_choice->reason;
  EXPECT_EQ(first.precision_choice->tracks, static_cast<int>(names.size()) - 1);
  EXPECT_EQ(first.summary.indexed, static_cast<int64_t>(names.size()));
  std::map<std::string, int64_t> first_pass;
  int64_t total = 0;
  for (const std::string& name : names) total += first_pass[name] = decodes(name);
  // The run's report counts the sample's decodes: every decode of these files is the run's.
  EXPECT_EQ(first.summary.whole_decodes + first.summary.span_decodes, total);
  // The first pass is a first pass: the long tracks cut as spans hold their 3 windows, no more.
  {
    const auto state = test::index_state(r.db);
    for (const std::string name : {"flac", "opus", "aac", "mp3-vbr-no-toc", "long-damaged"})
      EXPECT_EQ(state.at(path[name]).track.window_count, kDefaultFirstPass) << name;
  }
  r.max_passes = 0;
  const service::IndexRun rest = service::run_index(r);
  EXPECT_EQ(first.summary.errors + rest.summary.errors, 0);
  std::map<std::string, int64_t> after;
  for (const std::string& name : names) {
    after[name] = decodes(name);
    EXPECT_LE(after[name], 2) << name << ": " << first_pass[name] << " by the sample and the first pass, "
                              << after[name] - first_pass[name] << " after";
  }
  service::run_index(r);
  for (const std::string& name : names) EXPECT_EQ(decodes(name), after[name]) << name << ": decoded by a run after the index was complete";

  // A one-shot index with --precision auto: the same sample (the default first pass's windows),
  // so the same record; each file decoded at most twice (the sample's spans, the whole decode).
  service::IndexRequest auto_one_shot = r;
  auto_one_shot.db = test::temp_dir() + "/auto-one-shot.db";
  auto_one_shot.first_pass = 0;
  const service::IndexRun one = service::run_index(auto_one_shot);
  ASSERT_TRUE(one.precision_choice);
  EXPECT_EQ(service::precision_choice_json(*one.precision_choice), service::precision_choice_json(*first.precision_choice));
  for (const std::string& name : names) EXPECT_LE(decodes(name) - after[name], 2) << name << ": in the one-shot run";
  audio::count_decodes_by_path(false);

  // The index ends as the one-shot index at the precision chosen, given explicitly.
  service::IndexRequest given = auto_one_shot;
  given.db = test::temp_dir() + "/given-one-shot.db";
  given.precision = first.precision_choice->chosen;
  const service::IndexRun explicit_run = service::run_index(given);
  EXPECT_FALSE(explicit_run.precision_choice);
  const auto state = test::index_state(r.db);
  EXPECT_EQ(test::index_state_diff(state, test::index_state(given.db)), "");
  EXPECT_EQ(test::index_state_diff(test::index_state(auto_one_shot.db), test::index_state(given.db)), "");
  ASSERT_EQ(state.size(), names.size());
  for (const auto& [p, t] : state) EXPECT_EQ(t.track.window_count, t.track.window_total) << p;
}

}  // namespace
}  // namespace clap::index
