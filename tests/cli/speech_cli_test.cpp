// The speech/music score (index/speech.h; issue 38) through the real CLI, on a SQLite file and on a
// database of a real PostgreSQL server: real files encoded by ffmpeg, indexed by `clapsearch
// index` with the random-weight golden model. The plumbing, not a threshold (the test model
// cannot calibrate the score): every stored score is in [0, 1] and equals the rule computed here
// by hand from the stored track embedding and the prompts' text embeddings; a later pass that
// gives a track more windows gets it a new score from its new embedding; an index run without
// changes keeps every score; `--where 'speech > T'` and `--exclude-rule` choose by it; status and
// the JSON records show it; an index made before the score was stored gets it on the next run.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/speech.h"
#include "model/clap.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Scores = std::map<int64_t, double>;  // track id -> stored speech score

std::string q(const std::string& s) { return test::quoted(s); }
std::string model_dir() { return test::case_dir("tiny-unfused"); }

std::string run(const std::string& db, const std::string& args, int expect = 0) {
  std::string out, err;
  EXPECT_EQ(test::run_cli(args + " --db " + q(db), &out, &err), expect)
      << args << "\n" << err;
  return out;
}

json index_run(const std::string& db, const std::string& music, const std::string& more = "") {
  return json::parse(run(db, "index " + q(music) + " --model " + q(model_dir()) + " --quiet --json " + more));
}

// Every stored score of an ok track (none: -1), read through the Store interface.
Scores stored(const std::string& db) {
  Scores out;
  for (const store::Track& t : store::open_store(db, store::OpenMode::ReadOnly)->tracks())
    if (t.status == store::TrackStatus::Ok) out[t.id] = t.speech;
  return out;
}

std::vector<std::string> all_prompts() {
  std::vector<std::string> prompts = index::speech_prompts();
  prompts.insert(prompts.end(), index::music_prompts().begin(), index::music_prompts().end());
  return prompts;
}

// The rule of index/speech.h written out again: the softmax over the 16 prompts of
// logit_scale_a · cosine, its speech prompts' share; `prompt_embeddings` (16 x dim) default to
// the model's text embeddings of the prompts.
Scores by_hand(const std::string& db, const std::vector<float>* prompt_embeddings = nullptr) {
  static const std::unique_ptr<ClapModel> model = ClapModel::load(model_dir());
  const std::vector<std::string> prompts = all_prompts();
  static const std::vector<float> embedded = model->embed_text(prompts);
  const std::vector<float>& text = prompt_embeddings ? *prompt_embeddings : embedded;
  const double scale = model->logit_scale_audio();
  const Embeddings e = store::open_store(db, store::OpenMode::ReadOnly)->track_embeddings();
  Scores out;
  for (int64_t r = 0; r < e.size(); ++r) {
    std::vector<double> logits;
    for (size_t p = 0; p < prompts.size(); ++p) {
      double dot = 0;
      for (int i = 0; i < e.dim; ++i) dot += double(e.row(r)[i]) * double(text[p * e.dim + i]);
      logits.push_back(scale * dot);
    }
    double speech = 0, all = 0;
    for (size_t p = 0; p < prompts.size(); ++p) {
      const double x = std::exp(logits[p] - logits[0]);  // any shift: the ratio is the same
      all += x;
      if (p < index::speech_prompts().size()) speech += x;
    }
    out[e.ids[r]] = speech / all;
  }
  return out;
}

void expect_scores_by_hand(const std::string& db) {
  const Scores got = stored(db), want = by_hand(db);
  ASSERT_EQ(got.size(), want.size()) << "every ok track has an embedding here";
  for (const auto& [id, score] : want) {
    ASSERT_TRUE(got.count(id)) << id;
    EXPECT_GE(got.at(id), 0.0) << id;
    EXPECT_LE(got.at(id), 1.0) << id;
    EXPECT_NEAR(got.at(id), score, 1e-12) << "track " << id;
  }
}

std::set<std::string> names(const std::string& json_text) {
  std::set<std::string> out;
  for (const json& r : json::parse(json_text)) out.insert(fs::path(r["path"].get<std::string>()).filename().string());
  return out;
}

class SpeechCli : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir() + "/speech-" + GetParam();
    fs::remove_all(dir_);
    music_ = dir_ + "/music";
    db_ = GetParam() == "sqlite" ? dir_ + "/library.db" : test::PostgresServer::shared().create_database();
    test::ffmpeg(music_ + "/tone.flac", "-f lavfi -i \"sine=f=440:d=12\"");
    test::ffmpeg(music_ + "/noise.mp3", "-f lavfi -i \"anoisesrc=c=pink:d=14:seed=3\"");
    test::ffmpeg(music_ + "/chirp.ogg", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+400*t)*t):d=11\"");
    // 60 s of changing sound: 11 windows, of which the first pass embeds a few.
    test::ffmpeg(music_ + "/long.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(100+30*t)*t)*0.5:d=60\"");
  }
  std::string dir_, music_, db_;
};

TEST_P(SpeechCli, ScoresAreStoredAsComputedFromTheStoredEmbeddingsAndFilterTracks) {
  // The first pass only: the long track holds some of its windows, and a score from them.
  json sum = index_run(db_, music_, "--first-pass 2 --passes 1");
  EXPECT_EQ(sum["speech_scored"], 4);
  expect_scores_by_hand(db_);
  // The later passes (in PostgreSQL: the next pass's jobs, which --passes 1 left queued) give it
  // every window: its embedding changes, and so its score is computed again.
  sum = index_run(db_, music_);
  EXPECT_EQ(sum["speech_scored"], 1);  // the long track alone
  expect_scores_by_hand(db_);
  // A run without changes keeps every score and computes none.
  const Scores before = stored(db_);
  sum = index_run(db_, music_);
  EXPECT_EQ(sum["speech_scored"], 0);
  EXPECT_EQ(stored(db_), before);
  // A changed file is embedded again and scored from its new embedding.
  test::ffmpeg(music_ + "/tone.flac", "-f lavfi -i \"sine=f=660:d=12\"");
  sum = index_run(db_, music_);
  EXPECT_EQ(sum["indexed"], 1);
  EXPECT_EQ(sum["speech_scored"], 1);
  expect_scores_by_hand(db_);

  // --where and --exclude-rule choose by the stored score: the tracks above the median.
  const Scores scores = stored(db_);
  std::vector<double> sorted;
  for (const auto& [id, s] : scores) sorted.push_back(s);
  std::sort(sorted.begin(), sorted.end());
  const double median = (sorted[1] + sorted[2]) / 2;
  ASSERT_LT(sorted[1], sorted[2]) << "four different scores";
  std::set<std::string> above, below;
  for (const store::Track& t : store::open_store(db_, store::OpenMode::ReadOnly)->tracks())
    (t.speech > median ? above : below).insert(fs::path(t.path).filename().string());
  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%.17g", median);  // round-trips: the filter compares with `median` itself
  const std::string t = threshold;
  EXPECT_EQ(names(run(db_, "search 'someone talking' -k 0 --json --where 'speech > " + t + "'")), above);
  EXPECT_EQ(names(run(db_, "--exclude-rule 'speech > " + t + "' search 'someone talking' -k 0 --json")), below);
  std::set<std::string> below_but_seed = below;
  below_but_seed.erase("noise.mp3");  // the query track is never its own result
  EXPECT_EQ(names(run(db_, "similar " + q(music_ + "/noise.mp3") + " -k 0 --json --where 'speech <= " + t + "'")), below_but_seed);

  // The records carry it: the JSON of a query, the track list of the server, status.
  for (const json& r : json::parse(run(db_, "search 'music' -k 0 --json"))) {
    const int64_t id = r["track_id"];
    // JSON numbers are printed at float precision (service::json_num).
    EXPECT_EQ(static_cast<float>(r["speech"].get<double>()), static_cast<float>(scores.at(id))) << r.dump();
  }
  const json st = json::parse(run(db_, "status --json"));
  EXPECT_EQ(st["speech"]["scored"], 4);
  EXPECT_EQ(st["speech"]["above_half"].get<int64_t>(),
            std::count_if(sorted.begin(), sorted.end(), [](double s) { return s > 0.5; }));
  EXPECT_NE(run(db_, "status").find("speech    4 of 4 tracks scored"), std::string::npos);
}

// The prompts are embedded once per model and kept in the index's text cache (under the key text
// queries use); later runs score from the cached embeddings without running the text tower. To
// see which embeddings a run used, the cached ones are replaced by others (speech prompts u,
// music prompts -u, u a unit vector) before a changed file is scored: its score is the rule's
// with those.
TEST_P(SpeechCli, PromptEmbeddingsAreCachedOnceAndScoredFrom) {
  index_run(db_, music_);
  const std::vector<std::string> prompts = all_prompts();
  std::string key;
  {
    const auto store = store::open_store(db_, store::OpenMode::ReadWrite);
    ASSERT_TRUE(store->model());
    key = store->model()->model_key();
    const std::unique_ptr<ClapModel> model = ClapModel::load(model_dir());
    const std::vector<float> embedded = model->embed_text(prompts);
    const int dim = model->embedding_dim();
    for (size_t p = 0; p < prompts.size(); ++p) {
      const auto cached = store->cached_text(key, prompts[p]);
      ASSERT_TRUE(cached) << "prompt not cached: " << prompts[p];
      EXPECT_EQ(*cached, std::vector<float>(embedded.begin() + p * dim, embedded.begin() + (p + 1) * dim)) << prompts[p];
    }
    std::vector<float> u(static_cast<size_t>(dim), 0.0f);
    for (int i = 0; i < dim; ++i) u[i] = (i % 3 == 0 ? 1.0f : -0.5f);
    double norm = 0;
    for (float v : u) norm += double(v) * v;
    for (float& v : u) v = static_cast<float>(v / std::sqrt(norm));
    std::vector<float> minus(u);
    for (float& v : minus) v = -v;
    std::vector<store::CachedText> replaced;
    for (size_t p = 0; p < prompts.size(); ++p)
      replaced.push_back({key, prompts[p], p < index::speech_prompts().size() ? u : minus});
    store->put_cached_texts(replaced);
  }
  test::ffmpeg(music_ + "/tone.flac", "-f lavfi -i \"sine=f=660:d=12\"");
  EXPECT_EQ(index_run(db_, music_)["speech_scored"], 1);
  std::vector<float> fake;
  {
    const auto store = store::open_store(db_, store::OpenMode::ReadOnly);
    for (const std::string& p : prompts) {
      const auto cached = store->cached_text(key, p);
      ASSERT_TRUE(cached);
      fake.insert(fake.end(), cached->begin(), cached->end());
    }
  }
  const Scores want = by_hand(db_, &fake), got = stored(db_);
  int64_t tone = -1;
  for (const store::Track& t : store::open_store(db_, store::OpenMode::ReadOnly)->tracks())
    if (fs::path(t.path).filename() == "tone.flac") tone = t.id;
  ASSERT_TRUE(want.count(tone) && got.count(tone));
  EXPECT_NEAR(got.at(tone), want.at(tone), 1e-12) << "the changed track is scored from the cached prompt embeddings";
}

INSTANTIATE_TEST_SUITE_P(Stores, SpeechCli, ::testing::Values("sqlite", "postgres"));

// An index made before the score was stored (SQLite schema 6: no speech column) opens, migrates,
// and gets every score on its next index run, computed from the stored embeddings: nothing is
// decoded or embedded again.
TEST(SpeechCliUpgrade, AnIndexFromBeforeTheScoreGetsItOnTheNextRun) {
  const std::string dir = test::temp_dir() + "/speech-upgrade", music = dir + "/music", db = dir + "/library.db";
  fs::remove_all(dir);
  test::ffmpeg(music + "/tone.flac", "-f lavfi -i \"sine=f=440:d=12\"");
  test::ffmpeg(music + "/noise.mp3", "-f lavfi -i \"anoisesrc=c=pink:d=14:seed=3\"");
  index_run(db, music);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h,
                         "ALTER TABLE tracks DROP COLUMN speech; DROP TABLE packet_hashes; DROP TABLE kept_track_ids; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; "
                         "DROP TABLE plays; DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; "
                         "UPDATE schema_version SET version = 6",
                         nullptr, nullptr, &err),
            SQLITE_OK)
      << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
  const json sum = index_run(db, music);
  EXPECT_EQ(sum["indexed"], 0);
  EXPECT_EQ(sum["embedded_windows"], 0);
  EXPECT_EQ(sum["speech_scored"], 2);
  expect_scores_by_hand(db);
  EXPECT_EQ(json::parse(run(db, "status --json"))["schema_version"], store::SqliteStore::current_schema_version());
}

}  // namespace
}  // namespace clap
