// The indexing pipeline on real encoded files with the real tiny model: formats, windows,
// silence, tags, embeddings (bit-identical to the engine on the same samples), incremental
// runs (unchanged / changed / moved / deleted), bad files, model identity.
#include "index/indexer.h"
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "audio/decode.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "hub/hub.h"
#include "support/golden.h"

namespace clap::index {
namespace {
using namespace clap::store;  // Track, WindowRecord, ModelIdentity...
using namespace clap::hub;    // resolve_model

namespace fs = std::filesystem;

using test::ffmpeg;

std::string tone(double freq, double seconds, int rate, int channels = 1) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "-f lavfi -i \"sine=f=%g:d=%g:sample_rate=%d\" -ac %d", freq, seconds, rate, channels);
  return buf;
}

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

const ClapModel& tiny() {
  static std::unique_ptr<ClapModel> model = ClapModel::load(test::case_dir("tiny-unfused"));
  return *model;
}

int g_model_requests = 0;  // times the pipeline asked for the model

IndexSummary run(const std::string& db, const std::vector<std::string>& roots, IndexSettings s = {},
                 bool rebuild = false, const std::string& model_dir = "") {
  store::SqliteStore store = store::SqliteStore::open(db);
  const ResolvedModel r = resolve_model(model_dir.empty() ? test::case_dir("tiny-unfused") : model_dir);
  const ModelSpec spec = describe_model(r, s.window_s, s.hop_s, s.silence_db);
  ensure_identity(store, spec.identity, rebuild);
  const ModelProvider provider = [&]() -> const ClapModel& {
    ++g_model_requests;
    return tiny();
  };
  IndexSummary sum = index_roots(store, roots, spec, s, provider);
  const auto problems = store.check();
  for (const auto& p : problems) ADD_FAILURE() << "index inconsistent: " << p;
  return sum;
}

Track track_at(const std::string& db, const std::string& path) {
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  auto t = s.track_by_path(path);
  if (!t) throw std::runtime_error("no track " + path);
  return *t;
}

std::vector<float> track_embedding(const std::string& db, int64_t id) {
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  const Embeddings e = s.track_embeddings();
  const int64_t row = e.find(id);
  if (row < 0) return {};
  return std::vector<float>(e.row(row), e.row(row) + e.dim);
}

// ---------------------------------------------------------------------------------------------

TEST(Indexer, FormatsWindowsSilenceTagsAndEmbeddings) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  ffmpeg(lib + "/a.mp3", tone(440, 3, 44100, 2) +
                             " -c:a libmp3lame -b:a 128k -metadata title='Blue Train' -metadata artist='John Coltrane' "
                             "-metadata album='Blue Train LP' -metadata genre=Jazz -metadata date=1957 -metadata track=3/12");
  // 25 s, stereo 32 kHz: sound in 0-4 s and 21-25 s, digital silence between. Windows (10 s every
  // 5 s): [0,10) sound, [5,15) silent, [10,20) silent, [15,25) sound.
  ffmpeg(lib + "/long/b.flac",
         "-f lavfi -i \"aevalsrc=if(lt(t\\,4)+gt(t\\,21)\\,0.5*sin(2*PI*330*t)\\,0)|if(lt(t\\,4)+gt(t\\,21)\\,0.4*sin(2*PI*"
         "500*t)\\,0):s=32000:d=25\" -c:a flac");
  ffmpeg(lib + "/c.ogg", "-f lavfi -i \"anoisesrc=seed=11:d=2:c=pink:r=22050:a=0.3\" -c:a libvorbis -metadata title=Noise");
  ffmpeg(lib + "/d.opus", tone(880, 2, 48000, 2) + " -c:a libopus -b:a 96k");
  ffmpeg(lib + "/e.m4a", tone(1200, 2, 44100) + " -c:a aac -metadata artist=Someone");
  ffmpeg(lib + "/f.wav", tone(200, 2, 8000) + " -c:a pcm_s16le");
  ffmpeg(lib + "/silent.wav", "-f lavfi -i anullsrc=r=16000:cl=mono -t 3 -c:a pcm_s16le");

  const IndexSummary sum = run(db, {lib});
  EXPECT_EQ(sum.found, 7);
  EXPECT_EQ(sum.indexed, 6);
  EXPECT_EQ(sum.errors, 1);
  EXPECT_EQ(sum.silent, 1);
  EXPECT_EQ(sum.ok_files, 6);
  EXPECT_EQ(sum.windows, 10);
  EXPECT_EQ(sum.silent_windows, 3);
  EXPECT_EQ(sum.embedded_windows, 7);
  EXPECT_GT(sum.model_seconds, 0);
  std::printf("[ summary ] %.1f s audio in %.2f s wall, model %.2f s, decode %.2f s, db %.3f s, outside model %.0f%%\n",
              sum.audio_seconds, sum.wall_seconds, sum.model_seconds, sum.decode_seconds, sum.db_seconds,
              100 * sum.outside_model_fraction());

  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  const Counts c = store.counts();
  EXPECT_EQ(c.tracks, 7);
  EXPECT_EQ(c.ok, 6);
  EXPECT_EQ(c.errors, 1);
  EXPECT_EQ(c.silent_tracks, 1);
  EXPECT_EQ(c.windows, 10);
  EXPECT_EQ(c.silent_windows, 3);
  EXPECT_EQ(store.roots(), std::vector<std::string>{lib});

  const Track a = *store.track_by_path(lib + "/a.mp3");
  EXPECT_EQ(a.title, "Blue Train");
  EXPECT_EQ(a.artist, "John Coltrane");
  EXPECT_EQ(a.album, "Blue Train LP");
  EXPECT_EQ(a.genre, "Jazz");
  EXPECT_EQ(a.date, "1957");
  EXPECT_EQ(a.track_no, 3);
  EXPECT_NEAR(a.duration_s, 3.0, 0.05);
  EXPECT_EQ(a.window_count, 1);
  EXPECT_EQ(a.content_hash.size(), 64u);
  EXPECT_EQ(store.track_by_path(lib + "/c.ogg")->title, "Noise");
  EXPECT_EQ(store.track_by_path(lib + "/e.m4a")->artist, "Someone");

  const Track b = *store.track_by_path(lib + "/long/b.flac");
  EXPECT_NEAR(b.duration_s, 25.0, 0.01);
  const auto bw = store.windows(b.id);
  ASSERT_EQ(bw.size(), 4u);
  EXPECT_EQ((std::vector<bool>{bw[0].silent, bw[1].silent, bw[2].silent, bw[3].silent}),
            (std::vector<bool>{false, true, true, false}));
  EXPECT_DOUBLE_EQ(bw[3].start_s, 15);
  EXPECT_DOUBLE_EQ(bw[3].end_s, 25);

  const Track s = *store.track_by_path(lib + "/silent.wav");
  EXPECT_EQ(s.status, TrackStatus::Error);
  EXPECT_TRUE(s.silent);
  EXPECT_NE(s.error.find("silent"), std::string::npos) << s.error;
  EXPECT_EQ(s.window_count, 1);
  EXPECT_TRUE(store.windows(s.id)[0].silent);

  // Every window: the same decoded samples through the engine give bit-identical embeddings
  // (here all clips in one call, so also a different batch grouping than the pipeline's).
  const ClapModel& model = tiny();
  const int dim = model.embedding_dim();
  std::vector<std::vector<float>> decoded;
  std::vector<std::span<const float>> clips;
  struct Ref {
    int64_t track;
    int idx;
  };
  std::vector<Ref> refs;
  std::vector<Track> tracks = store.tracks();
  decoded.reserve(tracks.size());
  for (const Track& t : tracks) {
    decoded.push_back(audio::decode_file(t.path, 48000));
    const auto& x = decoded.back();
    const auto plan = audio::plan_windows(int64_t(x.size()), 480000, 240000);
    const auto stored = store.windows(t.id);
    ASSERT_EQ(stored.size(), plan.size()) << t.path;
    for (size_t k = 0; k < plan.size(); ++k) {
      const double db = audio::rms_dbfs(x.data() + plan[k].start, size_t(plan[k].end - plan[k].start));
      EXPECT_EQ(stored[k].loudness_dbfs, db) << t.path << " window " << k;
      EXPECT_EQ(stored[k].silent, db < -60) << t.path << " window " << k;
      EXPECT_DOUBLE_EQ(stored[k].start_s, plan[k].start / 48000.0);
      EXPECT_DOUBLE_EQ(stored[k].end_s, plan[k].end / 48000.0);
      if (stored[k].silent) {
        EXPECT_TRUE(stored[k].embedding.empty());
        continue;
      }
      clips.emplace_back(x.data() + plan[k].start, size_t(plan[k].end - plan[k].start));
      refs.push_back({t.id, int(k)});
    }
  }
  ASSERT_EQ(clips.size(), 7u);
  const std::vector<float> ref = model.embed_audio(clips, 3);
  std::map<int64_t, std::vector<float>> sums;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto w = store.windows(refs[i].track)[size_t(refs[i].idx)].embedding;
    ASSERT_EQ(w.size(), size_t(dim));
    EXPECT_EQ(std::memcmp(w.data(), ref.data() + i * dim, dim * sizeof(float)), 0)
        << "window " << refs[i].idx << " of track " << refs[i].track << " differs from embed_audio";
    auto& sum_row = sums[refs[i].track];
    sum_row.resize(dim, 0.0f);
    for (int d = 0; d < dim; ++d) sum_row[d] += ref[i * dim + d];
  }
  // Track embedding: L2-normalised mean of the non-silent windows; none for the silent track.
  const Embeddings te = store.track_embeddings();
  EXPECT_EQ(te.size(), 6);
  EXPECT_EQ(te.find(s.id), -1);
  for (auto& [id, row] : sums) {
    l2_normalize_rows(row.data(), 1, dim);
    const int64_t r = te.find(id);
    ASSERT_GE(r, 0);
    for (int d = 0; d < dim; ++d) ASSERT_NEAR(te.row(r)[d], row[d], 1e-6f) << "track " << id;
  }
  const WindowTable wt = store.window_embeddings();
  EXPECT_EQ(wt.size(), 7);
}

TEST(Indexer, IncrementalUnchangedChangedMovedDeleted) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  ffmpeg(lib + "/x.wav", tone(300, 3, 22050));
  ffmpeg(lib + "/y.flac", tone(600, 12, 44100, 2) + " -c:a flac");
  ffmpeg(lib + "/z.ogg", tone(900, 2, 44100) + " -c:a libvorbis");
  IndexSummary s = run(db, {lib});
  EXPECT_EQ(s.indexed, 3);
  EXPECT_EQ(s.windows, 4);
  const Track x0 = track_at(db, lib + "/x.wav"), y0 = track_at(db, lib + "/y.flac"), z0 = track_at(db, lib + "/z.ogg");
  const std::vector<float> xe = track_embedding(db, x0.id), ze = track_embedding(db, z0.id);
  ASSERT_FALSE(xe.empty());

  // No change: nothing decoded, the model never requested, nothing written.
  const int64_t generation = store::SqliteStore::open_readonly(db).generation();
  const int requests = g_model_requests;
  s = run(db, {lib});
  EXPECT_EQ(s.unchanged, 3);
  EXPECT_EQ(s.indexed + s.moved + s.pruned + s.errors, 0);
  EXPECT_EQ(s.embedded_windows, 0);
  EXPECT_EQ(s.decode_seconds, 0);
  EXPECT_EQ(g_model_requests, requests);
  EXPECT_EQ(store::SqliteStore::open_readonly(db).generation(), generation);

  // Touched (new mtime): embedded again, same id.
  {
    struct timespec times[2] = {{0, UTIME_OMIT}, {0, 0}};
    times[1].tv_sec = time(nullptr) + 100;
    ASSERT_EQ(utimensat(AT_FDCWD, (lib + "/y.flac").c_str(), times, 0), 0);
  }
  s = run(db, {lib});
  EXPECT_EQ(s.indexed, 1);
  EXPECT_EQ(s.unchanged, 2);
  EXPECT_EQ(s.embedded_windows, 2);
  EXPECT_EQ(track_at(db, lib + "/y.flac").id, y0.id);
  EXPECT_NE(track_at(db, lib + "/y.flac").mtime_ns, y0.mtime_ns);

  // Modified content: embedded again, new embedding.
  ffmpeg(lib + "/z.ogg", "-f lavfi -i \"anoisesrc=seed=12:d=2:c=white:r=44100:a=0.5\" -c:a libvorbis");
  s = run(db, {lib});
  EXPECT_EQ(s.indexed, 1);
  EXPECT_EQ(s.unchanged, 2);
  const Track z1 = track_at(db, lib + "/z.ogg");
  EXPECT_EQ(z1.id, z0.id);
  EXPECT_NE(z1.content_hash, z0.content_hash);
  EXPECT_NE(track_embedding(db, z1.id), ze);

  // Moved and renamed: recognised by content, embeddings kept, nothing decoded.
  const auto windows_before = store::SqliteStore::open_readonly(db).windows(x0.id);
  fs::create_directories(lib + "/sub");
  fs::rename(lib + "/x.wav", lib + "/sub/renamed.wav");
  s = run(db, {lib});
  EXPECT_EQ(s.moved, 1);
  EXPECT_EQ(s.indexed, 0);
  EXPECT_EQ(s.pruned, 0);
  EXPECT_EQ(s.embedded_windows, 0);
  const Track x1 = track_at(db, lib + "/sub/renamed.wav");
  EXPECT_EQ(x1.id, x0.id);
  EXPECT_EQ(x1.content_hash, x0.content_hash);
  EXPECT_EQ(track_embedding(db, x1.id), xe);
  const auto windows_after = store::SqliteStore::open_readonly(db).windows(x1.id);
  ASSERT_EQ(windows_after.size(), windows_before.size());
  for (size_t i = 0; i < windows_after.size(); ++i) {
    EXPECT_EQ(windows_after[i].id, windows_before[i].id);
    EXPECT_EQ(windows_after[i].embedding, windows_before[i].embedding);
  }
  EXPECT_FALSE(store::SqliteStore::open_readonly(db).track_by_path(lib + "/x.wav"));

  // Deleted: pruned with its windows.
  fs::remove(lib + "/y.flac");
  s = run(db, {lib});
  EXPECT_EQ(s.pruned, 1);
  EXPECT_EQ(s.unchanged, 2);
  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  EXPECT_FALSE(store.track_by_path(lib + "/y.flac"));
  EXPECT_EQ(store.counts().tracks, 2);
  EXPECT_EQ(store.counts().windows, 2);
  EXPECT_TRUE(store.windows(y0.id).empty());
}

// Quiet is not silent (issue 11): a whole track far below -60 dBFS that still carries signal
// is indexed, judged against its own loudest window; only (near) digital silence is silent.
TEST(Indexer, AQuietTrackIsIndexedAndOnlyDigitalSilenceIsSilent) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  // A quiet piece: 25 s at about -70 dBFS RMS, with a pause at -105 dBFS in 8-22 s. As float
  // WAV, so that the levels are exact (16-bit would round -105 dBFS to zero).
  ffmpeg(lib + "/quiet.wav",
         "-f lavfi -i \"aevalsrc=if(between(t\\,8\\,22)\\,0.0000056\\,0.00045)*sin(2*PI*330*t):s=16000:d=25\" "
         "-c:a pcm_f32le");
  ffmpeg(lib + "/hiss.wav", "-f lavfi -i \"sine=f=440:d=3:sample_rate=16000,volume=-100dB\" -c:a pcm_f32le");
  ffmpeg(lib + "/zero.wav", "-f lavfi -i anullsrc=r=16000:cl=mono -t 3 -c:a pcm_s16le");
  const IndexSummary sum = run(db, {lib});
  EXPECT_EQ(sum.indexed, 1);
  EXPECT_EQ(sum.silent, 2);  // -100 dBFS peak and exact zeros: silence
  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  const Track q = *store.track_by_path(lib + "/quiet.wav");
  EXPECT_EQ(q.status, TrackStatus::Ok) << q.error;
  const auto w = store.windows(q.id);
  ASSERT_EQ(w.size(), 4u);  // [0,10) [5,15) [10,20) [15,25)
  // Loudest window about -70 dBFS: the threshold is 30 dB below it. [10,20) lies almost all in
  // the -105 dBFS pause: silent; the others carry the quiet signal.
  EXPECT_LT(w[0].loudness_dbfs, -60);
  EXPECT_FALSE(w[0].silent);
  EXPECT_FALSE(w[1].silent);
  EXPECT_TRUE(w[2].silent) << w[2].loudness_dbfs;
  EXPECT_FALSE(w[3].silent);
  EXPECT_FALSE(w[0].embedding.empty());
  EXPECT_TRUE(w[2].embedding.empty());
  for (const char* name : {"/hiss.wav", "/zero.wav"}) {
    const Track t = *store.track_by_path(lib + name);
    EXPECT_TRUE(t.silent) << name;
  }
}

TEST(Indexer, PruneOnlyUnderTheIndexedRoots) {
  const std::string dir = test::temp_dir(), db = dir + "/index.db";
  ffmpeg(dir + "/one/a.wav", tone(300, 1, 16000));
  ffmpeg(dir + "/one/a2.wav", tone(350, 1, 16000));
  ffmpeg(dir + "/two/b.wav", tone(500, 1, 16000));
  EXPECT_EQ(run(db, {dir + "/one"}).indexed, 2);
  EXPECT_EQ(run(db, {dir + "/two"}).indexed, 1);  // a second folder adds to the library
  fs::remove(dir + "/one/a.wav");
  IndexSummary s = run(db, {dir + "/two"});  // /one is not re-indexed: its missing file stays
  EXPECT_EQ(s.pruned, 0);
  EXPECT_EQ(store::SqliteStore::open_readonly(db).counts().tracks, 3);
  s = run(db, {dir + "/one"});
  EXPECT_EQ(s.pruned, 1);  // one of two: a deletion, not a vanished folder
  EXPECT_EQ(s.held, 0);
  EXPECT_EQ(store::SqliteStore::open_readonly(db).counts().tracks, 2);
  EXPECT_EQ(store::SqliteStore::open_readonly(db).roots(), (std::vector<std::string>{dir + "/one", dir + "/two"}));
}

TEST(Indexer, BadFilesAreRecordedAndTheRunGoesOn) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  ffmpeg(lib + "/good.wav", tone(440, 2, 44100));
  ffmpeg(lib + "/good2.flac", tone(550, 2, 44100) + " -c:a flac");
  std::mt19937 rng(7);
  std::string noise(200000, '\0');
  for (char& ch : noise) ch = char(rng());
  write_file(lib + "/random.mp3", noise);
  {
    std::ifstream in(lib + "/good2.flac", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    write_file(lib + "/truncated.flac", bytes.substr(0, 60));  // cut inside the header
  }
  write_file(lib + "/empty.wav", "");
  write_file(lib + "/text.ogg", "This is a text file, not audio.\nSecond line.\n");
  fs::create_directories(lib + "/folder.mp3");  // a folder with an audio name: walked, not a track
  const bool root = geteuid() == 0;
  if (root) {
    std::printf("[ note ] running as root: the unreadable-file case (chmod 000) is skipped, root reads anything\n");
  } else {
    ffmpeg(lib + "/unreadable.wav", tone(440, 1, 44100));
    fs::permissions(lib + "/unreadable.wav", fs::perms::none);
  }
  const int expected_errors = root ? 4 : 5;
  IndexSummary s = run(db, {lib});
  EXPECT_EQ(s.indexed, 2);
  EXPECT_EQ(s.errors, expected_errors);
  EXPECT_EQ(s.ok_files, 2);
  ASSERT_EQ(s.new_errors.size(), size_t(expected_errors));
  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  const auto errors = store.errors();
  ASSERT_EQ(errors.size(), size_t(expected_errors));
  for (const auto& e : errors) {
    std::printf("[ error ] %s: %s\n", fs::path(e.path).filename().c_str(), e.reason.c_str());
    EXPECT_FALSE(e.reason.empty());
    EXPECT_EQ(e.reason.find(e.path), std::string::npos) << "reason repeats the path: " << e.reason;
  }
  EXPECT_NE(store.track_by_path(lib + "/empty.wav")->error.find("empty"), std::string::npos);
  if (!root) {
    EXPECT_NE(store.track_by_path(lib + "/unreadable.wav")->error.find("ermission"), std::string::npos);
  }
  EXPECT_FALSE(store.track_by_path(lib + "/folder.mp3"));

  // Unchanged bad files are not retried; --retry-errors tries them again.
  s = run(db, {lib});
  EXPECT_EQ(s.unchanged, 2 + expected_errors);
  EXPECT_EQ(s.errors, 0);
  IndexSettings retry;
  retry.retry_errors = true;
  s = run(db, {lib}, retry);
  EXPECT_EQ(s.errors, expected_errors);
  EXPECT_EQ(s.unchanged, 2);
  if (!root) fs::permissions(lib + "/unreadable.wav", fs::perms::owner_all);
}

TEST(Indexer, OtherModelOrWindowsRefusedUntilRebuild) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  ffmpeg(lib + "/a.wav", tone(440, 12, 44100));
  EXPECT_EQ(run(db, {lib}).indexed, 1);
  IndexSettings five;
  five.window_s = 5;
  five.hop_s = 2.5;
  try {
    run(db, {lib}, five);
    FAIL() << "different windows accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("window 10 s vs 5 s"), std::string::npos) << m;
    EXPECT_NE(m.find("--rebuild"), std::string::npos) << m;
  }
  try {
    run(db, {lib}, {}, false, test::case_dir("tiny-fused"));
    FAIL() << "different model accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tiny-fused"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store::SqliteStore::open_readonly(db).counts().windows, 2);  // untouched

  const IndexSummary s = run(db, {lib}, five, /*rebuild=*/true);
  EXPECT_EQ(s.indexed, 1);
  EXPECT_EQ(s.unchanged, 0);
  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  EXPECT_DOUBLE_EQ(store.model()->window_s, 5);
  EXPECT_DOUBLE_EQ(store.model()->hop_s, 2.5);
  // 12 s with 5 s windows every 2.5 s: starts 0, 2.5, 5, 7.5 (reaches the end).
  EXPECT_EQ(store.counts().windows, 4);
  // A window longer than the model's input is refused.
  IndexSettings long_window;
  long_window.window_s = 11;
  EXPECT_THROW(run(db, {lib}, long_window, true), Error);
}

TEST(Indexer, ManyShortFilesBatchAcrossFilesWithTwoDecoders) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  for (int i = 0; i < 6; ++i) ffmpeg(lib + "/t" + std::to_string(i) + ".wav", tone(200 + 150 * i, 0.5 + 0.3 * i, 16000));
  IndexSettings s;
  s.decode_threads = 2;
  s.batch = 4;
  const IndexSummary sum = run(db, {lib}, s);
  EXPECT_EQ(sum.indexed, 6);
  EXPECT_EQ(sum.embedded_windows, 6);
  // Same embeddings as one file at a time.
  store::SqliteStore store = store::SqliteStore::open_readonly(db);
  for (const Track& t : store.tracks()) {
    const auto x = audio::decode_file(t.path, 48000);
    const auto ref = tiny().embed_audio({std::span<const float>(x)}, 1);
    const auto w = store.windows(t.id);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].embedding, ref) << t.path;
  }
}

// Track ids follow the files' order, not the order their decodes end: with four decoders
// (files of very different lengths, one undecodable, so later files finish first) every
// index of the library gives each path the id one decoder gives it, and every window the same
// id too, whatever the batch size.
TEST(Indexer, SeveralDecodersWriteTracksInTheOrderOfTheFiles) {
  const std::string lib = test::temp_dir() + "/order";
  fs::create_directories(lib);
  ffmpeg(lib + "/a-long.wav", tone(220, 40, 16000));
  for (int i = 0; i < 5; ++i) ffmpeg(lib + "/b" + std::to_string(i) + ".wav", tone(300 + 90 * i, 0.6, 16000));
  write_file(lib + "/c-broken.mp3", "not audio at all");
  ffmpeg(lib + "/d-long.wav", tone(500, 25, 16000));
  ffmpeg(lib + "/e-short.wav", tone(900, 1, 16000));
  auto ids = [&](int decoders, int batch, const std::string& name) {
    const std::string db = test::temp_dir() + "/order-" + name + ".db";
    IndexSettings s;
    s.decode_threads = decoders;
    s.batch = batch;
    s.first_pass = 0;
    run(db, {lib}, s);
    std::map<std::string, std::pair<int64_t, std::vector<int64_t>>> out;  // path -> track id, window ids
    store::SqliteStore store = store::SqliteStore::open_readonly(db);
    for (const Track& t : store.tracks()) {
      std::vector<int64_t> windows;
      for (const WindowRecord& w : store.windows(t.id)) windows.push_back(w.id);
      out[t.path] = {t.id, windows};
    }
    return out;
  };
  const auto one = ids(1, 8, "one");
  ASSERT_EQ(one.size(), 9u);
  EXPECT_EQ(ids(4, 8, "four"), one);
  EXPECT_EQ(ids(4, 3, "four-small-batches"), one);
  EXPECT_EQ(ids(2, 1, "two-single-windows"), one);
}

}  // namespace
}  // namespace clap::index
