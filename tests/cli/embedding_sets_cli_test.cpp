// Changing models without downtime (issue 37): `index --model NEW` builds NEW's embedding set
// beside the active one while every query keeps reading the active set; the switch is one
// transaction; `clapsearch models` lists, activates and drops sets; an index of the previous
// schema migrates in place.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/postgres.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }
const std::string kOld = "tiny-unfused", kNew = "tiny-fused";

// A library of `files` generated tracks indexed into a SQLite file, or (backend "postgres") a new
// database of the test's PostgreSQL server.
struct Library {
  std::string root = test::temp_dir() + "/sets";
  std::string lib = root + "/lib", db;
  explicit Library(int files = 4, const std::string& backend = "sqlite")
      : db(backend == "postgres" ? test::PostgresServer::shared().create_database() : root + "/library.db") {
    // 20 s each: 3 windows of 10 s (hop 5) per track.
    for (int i = 0; i < files; ++i)
      test::ffmpeg(lib + "/t" + std::to_string(i) + ".wav",
                   "-f lavfi -i sine=f=" + std::to_string(300 + 150 * i) + ":d=20:sample_rate=16000");
  }
  bool postgres() const { return store::is_server_location(db); }
  int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) const {
    return test::run_cli(args + " --db " + q(db), out, err, "HF_HOME=" + q(root + "/hf"));
  }
  nlohmann::json json(const std::string& args) const {
    std::string out, err;
    EXPECT_EQ(cli(args, &out, &err), 0) << args << ": " << err;
    return nlohmann::json::parse(out);
  }
  // What every query reads: the window and track embeddings of the tracks and windows tables.
  std::string searched_bytes() const {
    const auto s = store::open_store(db, store::OpenMode::ReadOnly);
    std::string bytes;
    const auto add = [&](int64_t id, const float* v, size_t n) {
      bytes += std::to_string(id) + ":";
      bytes.append(reinterpret_cast<const char*>(v), n * sizeof(float));
    };
    for (int64_t id : s->track_ids())
      for (const store::WindowRecord& w : s->windows(id)) add(w.id, w.embedding.data(), w.embedding.size());
    const Embeddings tracks = s->track_embeddings();
    for (size_t i = 0; i < tracks.ids.size(); ++i) add(tracks.ids[i], tracks.row(i), static_cast<size_t>(tracks.dim));
    return bytes;
  }
  int64_t count(const std::string& sql) const {
    if (postgres()) return store::pg::Connection(db).query(sql).int64(0, 0);
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    const int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
  }
  void expect_sound() const {
    for (const auto& p : store::open_store(db, store::OpenMode::ReadOnly)->check()) ADD_FAILURE() << p;
  }
};

// The tests that run on both stores: the same commands, the same answers.
class EmbeddingSetsBothStores : public ::testing::TestWithParam<std::string> {};

std::string model_of(const nlohmann::json& status) { return status["model"]["id"]; }

TEST_P(EmbeddingSetsBothStores, NewModelBuiltBesideSwitchedWhenCompleteAndDropped) {
  Library l(4, GetParam());
  const std::string old_model = test::case_dir(kOld), new_model = test::case_dir(kNew);
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(old_model) + " --first-pass 0 --json -q")["indexed"], 4);
  const std::string old_id = model_of(l.json("status --json"));
  const std::string before = l.searched_bytes();

  // A partly built set (its first pass only) is listed, never queried, and not activated.
  nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(new_model) + " --first-pass 1 --passes 1 --json -q");
  EXPECT_FALSE(run["embedding_set"]["complete"]);
  EXPECT_FALSE(run["embedding_set"]["active"]);
  EXPECT_EQ(run["embedding_set"]["covered_windows"], 4);  // one window of each track
  EXPECT_EQ(run["embedding_set"]["windows"], 12);
  EXPECT_EQ(l.searched_bytes(), before);
  EXPECT_EQ(model_of(l.json("status --json")), old_id);
  nlohmann::json sets = l.json("models --json");
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets[0]["active"]);
  EXPECT_EQ(sets[0]["covered_windows"], 12);
  EXPECT_FALSE(sets[1]["active"]);
  EXPECT_EQ(sets[1]["covered_tracks"], 0);
  const int64_t new_set = sets[1]["id"];
  std::string out, err;
  EXPECT_EQ(l.cli("models --activate " + std::to_string(new_set), &out, &err), 1);
  EXPECT_NE(err.find("holds 4 of the 12 windows"), std::string::npos) << err;
  EXPECT_EQ(l.cli("search 'a low tone' --json", &out, &err), 0) << err;
  EXPECT_EQ(l.searched_bytes(), before);
  // status shows both sets.
  const nlohmann::json st = l.json("status --json");
  ASSERT_EQ(st["embedding_sets"].size(), 2u);
  EXPECT_NEAR(st["embedding_sets"][1]["fraction"].get<double>(), 4.0 / 12.0, 1e-7);  // printed as a float32
  ASSERT_EQ(l.cli("status", &out, &err), 0) << err;
  EXPECT_NE(out.find("4 of 12 windows (33.3%), 0 of 4 tracks"), std::string::npos) << out;
  EXPECT_NE(out.find("[active]"), std::string::npos) << out;

  // --switch-when never: the set completes, the active set stays.
  run = l.json("index " + q(l.lib) + " --model " + q(new_model) + " --switch-when never --json -q");
  EXPECT_NEAR(run["audio_seconds"].get<double>(), 4 * 20.0, 0.1);  // every track's set completed in this run
  EXPECT_TRUE(run["embedding_set"]["complete"]);
  EXPECT_FALSE(run["embedding_set"]["active"]);
  EXPECT_EQ(l.searched_bytes(), before);
  EXPECT_EQ(model_of(l.json("status --json")), old_id);

  // The default (complete): the next run switches, in one transaction, and queries use NEW.
  run = l.json("index " + q(l.lib) + " --model " + q(new_model) + " --json -q");
  EXPECT_TRUE(run["embedding_set"]["active"]);
  EXPECT_EQ(run["unchanged"], 4);  // the rest of the run found nothing new
  const std::string new_id = model_of(l.json("status --json"));
  EXPECT_NE(new_id, old_id);
  EXPECT_NE(l.searched_bytes(), before);
  EXPECT_EQ(l.cli("search 'a low tone' --json", &out, &err), 0) << err;  // no --model: the active set's model
  sets = l.json("models --json");
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_FALSE(sets[0]["active"]);
  EXPECT_TRUE(sets[0]["complete"]);  // the old set is kept, whole
  EXPECT_TRUE(sets[1]["active"]);
  l.expect_sound();

  // Switching back is one command, and restores the old embeddings bit for bit.
  ASSERT_EQ(l.cli("models --activate " + std::to_string(sets[0]["id"].get<int64_t>()), &out, &err), 0) << err;
  EXPECT_EQ(l.searched_bytes(), before);
  EXPECT_EQ(model_of(l.json("status --json")), old_id);
  ASSERT_EQ(l.cli("models --activate " + std::to_string(new_set), &out, &err), 0) << err;
  EXPECT_EQ(model_of(l.json("status --json")), new_id);

  // Dropping: never the active set; an inactive one frees its rows.
  EXPECT_EQ(l.cli("models --drop " + std::to_string(new_set), &out, &err), 1);
  EXPECT_NE(err.find("is the active one"), std::string::npos) << err;
  EXPECT_EQ(l.cli("models --drop 99", &out, &err), 1);
  EXPECT_NE(err.find("no embedding set 99"), std::string::npos) << err;
  EXPECT_EQ(l.cli("models --drop 0", &out, &err), 2) << err;
  EXPECT_EQ(l.cli("models --drop 1 --activate 2", &out, &err), 2) << err;
  EXPECT_GT(l.count("SELECT COUNT(*) FROM set_windows"), 0);
  ASSERT_EQ(l.cli("models --drop " + std::to_string(sets[0]["id"].get<int64_t>()), &out, &err), 0) << err;
  EXPECT_EQ(l.count("SELECT COUNT(*) FROM set_windows"), 0);
  EXPECT_EQ(l.count("SELECT COUNT(*) FROM set_tracks"), 0);
  EXPECT_EQ(l.json("models --json").size(), 1u);
}

// --switch-when now: the set becomes active at the end of the run, partly built; the windows it
// lacks are then the index's progressive passes still to run, and the next `index` (no --model:
// the active set's model) embeds them with the new model.
TEST(EmbeddingSetsCli, SwitchNowActivatesAPartlyBuiltSetAndTheNextRunCompletesIt) {
  Library l;
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kOld)) + " --first-pass 0 --json -q")["indexed"], 4);
  const std::string old_id = model_of(l.json("status --json"));
  nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kNew)) +
                              " --first-pass 1 --passes 1 --switch-when now --json -q");
  EXPECT_TRUE(run["embedding_set"]["active"]);
  nlohmann::json st = l.json("status --json");
  EXPECT_NE(model_of(st), old_id);
  EXPECT_EQ(st["coverage"]["windows"], 4);  // one window of each track, the new model's
  EXPECT_EQ(st["coverage"]["window_total"], 12);
  std::string out, err;
  ASSERT_EQ(l.cli("search 'a low tone' --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out).size(), 4u);  // every track searchable on its first window
  run = l.json("index " + q(l.lib) + " --json -q");
  st = l.json("status --json");
  EXPECT_EQ(st["coverage"]["windows"], 12);
  EXPECT_EQ(st["coverage"]["complete_tracks"], 4);
  EXPECT_NE(model_of(st), old_id);
}

// A model upgrade under a running server: while `index --model NEW` builds NEW's set and switches
// to it, a client keeps asking (text search, and similar to a track). Every answer is a 200 made
// whole by one model: OLD's answers are all alike, then NEW's are all alike (a mixed answer would
// be a third body), never OLD's again once NEW has answered; the server says it switched.
void upgrade_under_a_running_server(const std::string& window_index, const std::string& backend = "sqlite") {
  Library l(4, backend);
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kOld)) + " --first-pass 0 --json -q")["indexed"], 4);
  const test::Child server = test::start_cli({"serve", "--db", l.db, "--port", "0", "--window-index", window_index});
  const int port = test::served_port(server);
  ASSERT_NE(port, 0) << test::read_file(server.err_path);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto tracks = client.Get("/api/tracks?limit=10");
  ASSERT_TRUE(tracks && tracks->status == 200);
  const std::string seed = std::to_string(nlohmann::json::parse(tracks->body)["tracks"][0]["track_id"].get<int64_t>());

  struct Answer {
    int status = -1;
    std::string model, path, body;
  };
  std::mutex mutex;
  std::vector<Answer> answers;
  std::atomic<bool> stop{false};
  const std::string paths[] = {"/api/search?q=a%20low%20tone&k=4", "/api/similar?seed=" + seed + "&k=3"};
  std::thread asker([&] {
    for (size_t i = 0; !stop; ++i) {
      Answer a;
      a.path = paths[i % 2];
      if (const auto r = client.Get(a.path)) a = {r->status, r->get_header_value("X-Clapsearch-Model"), a.path, r->body};
      std::lock_guard lock(mutex);
      answers.push_back(std::move(a));
    }
  });
  const nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kNew)) + " --first-pass 0 --json -q");
  EXPECT_TRUE(run["embedding_set"]["active"]);
  const std::string new_id = model_of(l.json("status --json"));
  // The header names a local model by its folder's name, never its path on the server.
  const std::string new_name = fs::path(new_id).filename().string() + " (content ";
  // The switch is seen within a few refreshes; then a few answers more from the new model.
  const auto answered_by_new = [&] {
    std::lock_guard lock(mutex);
    return std::count_if(answers.begin(), answers.end(),
                         [&](const Answer& a) { return a.model.rfind(new_name, 0) == 0; }) >= 6;
  };
  EXPECT_TRUE(test::wait_until(answered_by_new)) << test::read_file(server.err_path);
  stop = true;
  asker.join();
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(server.pid), 0);
  const std::string log = test::read_file(server.out_path) + test::read_file(server.err_path);
  EXPECT_NE(log.find("the index's active embedding set changed: now serving"), std::string::npos) << log;

  ASSERT_FALSE(answers.empty());
  const std::string old_model = answers.front().model;
  EXPECT_NE(old_model.rfind(new_name, 0), 0u) << "the first answer came from the new model already";
  std::map<std::pair<std::string, std::string>, std::string> body_of;  // (model, path) -> the one body
  bool switched = false;
  size_t old_answers = 0;
  for (const Answer& a : answers) {
    ASSERT_EQ(a.status, 200) << a.path << ": " << a.body << "\n" << log;
    if (a.model != old_model) {
      switched = true;
      EXPECT_EQ(a.model.rfind(new_name, 0), 0u) << a.model;
    } else {
      EXPECT_FALSE(switched) << "an answer from the old model after the new one answered";
      ++old_answers;
    }
    const auto [at, first] = body_of.emplace(std::make_pair(a.model, a.path), a.body);
    EXPECT_EQ(at->second, a.body) << "two different answers from one model to " << a.path;
  }
  EXPECT_TRUE(switched);
  EXPECT_GT(old_answers, 0u);
  ASSERT_EQ(body_of.size(), 4u);  // two routes, two models
  for (const std::string& path : paths) EXPECT_NE(body_of.at({old_model, path}), body_of.at({answers.back().model, path}));
}

TEST(EmbeddingSetsCli, ServerAnswersEveryRequestThroughAnUpgradeInMemory) { upgrade_under_a_running_server("memory"); }

TEST(EmbeddingSetsCli, ServerAnswersEveryRequestThroughAnUpgradeCompressed) { upgrade_under_a_running_server("compressed"); }

TEST(EmbeddingSetsCli, ServerAnswersEveryRequestThroughAnUpgradeOnPostgresql) {
  upgrade_under_a_running_server("memory", "postgres");
}

TEST(EmbeddingSetsCli, KillNineDuringTheBuildLeavesTheOldSetActiveAndTheNextRunContinues) {
  const int files = 16;
  Library l(files);
  const std::string old_model = test::case_dir(kOld), new_model = test::case_dir(kNew);
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(old_model) + " --first-pass 0 --json -q")["indexed"], files);
  const std::string old_id = model_of(l.json("status --json"));
  const std::string before = l.searched_bytes();
  // One window per model call, so the build takes a while; killed once a track's windows are in.
  const test::Child c = test::start_cli({"index", l.lib, "--db", l.db, "--model", new_model, "--first-pass", "0",
                                         "--batch", "1", "--threads", "1", "--quiet"});
  int64_t held = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
    try {
      held = l.count("SELECT COUNT(*) FROM set_tracks");
    } catch (const std::exception&) {
    }
    if (held >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(kill(c.pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(waitpid(c.pid, &st, 0), c.pid);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the build ended before it could be killed";
  ASSERT_GE(held, 1);

  // The old set is active and whole; queries work as before.
  EXPECT_EQ(model_of(l.json("status --json")), old_id);
  EXPECT_EQ(l.searched_bytes(), before);
  std::string out, err;
  EXPECT_EQ(l.cli("search 'a low tone' --json", &out, &err), 0) << err;
  {
    store::SqliteStore s = store::SqliteStore::open_readonly(l.db);
    for (const auto& p : s.check()) ADD_FAILURE() << p;
  }
  const nlohmann::json sets = l.json("models --json");
  ASSERT_EQ(sets.size(), 2u);
  const int64_t covered = sets[1]["covered_tracks"];
  EXPECT_LT(covered, files) << "killed too late to test anything";

  // The next run continues the same set: it embeds only what the set lacks, then switches.
  const nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(new_model) + " --first-pass 0 --json -q");
  EXPECT_EQ(run["embedding_set"]["id"], sets[1]["id"]);
  EXPECT_EQ(run["embedded_windows"], 3 * (files - covered));
  EXPECT_TRUE(run["embedding_set"]["active"]);
  EXPECT_NE(model_of(l.json("status --json")), old_id);
}

// The new set's model cannot be loaded when the server reopens after a switch (its folder is
// gone): the server answers 503 with the reason, logs it once (not at every refresh, each of
// which used to try again and log), and serves the new set once the folder is back.
TEST(EmbeddingSetsCli, AServerWhoseNewModelCannotBeLoadedLogsItOnceAndSwitchesWhenItCan) {
  Library l;
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kOld)) + " --first-pass 0 --json -q")["indexed"], 4);
  const std::string model = l.root + "/new-model", away = l.root + "/new-model-away";
  fs::copy(test::case_dir(kNew), model, fs::copy_options::recursive);
  const nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(model) + " --switch-when never --json -q");
  ASSERT_TRUE(run["embedding_set"]["complete"]);
  const test::Child server = test::start_cli({"serve", "--db", l.db, "--port", "0"});
  const int port = test::served_port(server);
  ASSERT_NE(port, 0) << test::read_file(server.err_path);
  httplib::Client client("127.0.0.1", port);
  // The set is switched to while its model is away. `models --activate` refuses that (it loads
  // the set's model first), so the switch is made in the store, as a model moved away after an
  // activation leaves it.
  fs::rename(model, away);
  std::string out, err;
  EXPECT_EQ(l.cli("models --activate " + std::to_string(run["embedding_set"]["id"].get<int64_t>()), &out, &err), 1);
  EXPECT_NE(err.find("cannot be activated"), std::string::npos) << err;
  store::open_store(l.db, store::OpenMode::ReadWriteExisting)->activate_set(run["embedding_set"]["id"].get<int64_t>());
  const auto log = [&] { return test::read_file(server.out_path) + test::read_file(server.err_path); };
  const std::string failure = "cannot serve the index's new embedding set";
  EXPECT_TRUE(test::wait_until([&] { return log().find(failure) != std::string::npos; })) << log();
  const auto down = client.Get("/api/search?q=tone&k=2");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  // Several refresh intervals pass while it stays unloadable (the retries back off meanwhile).
  EXPECT_FALSE(test::wait_until([&] { return log().find("now serving") != std::string::npos; }, 5));
  fs::rename(away, model);
  EXPECT_TRUE(test::wait_until([&] { return log().find("now serving") != std::string::npos; }, 90)) << log();
  const auto up = client.Get("/api/search?q=tone&k=2");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 200) << up->body;
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(server.pid), 0);
  const std::string all = log();
  size_t logged = 0;
  for (size_t at = all.find(failure); at != std::string::npos; at = all.find(failure, at + 1)) ++logged;
  EXPECT_EQ(logged, 1u) << all;
  EXPECT_EQ(all.find("cannot reload the library"), std::string::npos) << all;
}

// `clapsearch migrate` copies every embedding set, with its ids and which one is active: a SQLite
// index with a second model's set (half built) to PostgreSQL and back to a new SQLite file.
// Every copy lists the same sets, reads the same bytes, and switching to the second set on a copy
// gives what switching on the original gives, bit for bit.
TEST(EmbeddingSetsCli, MigrateCopiesEverySetBothWays) {
  Library l;
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kOld)) + " --first-pass 0 --json -q")["indexed"], 4);
  l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kNew)) + " --first-pass 1 --passes 1 --json -q");
  Library pg(0, "postgres");
  Library back(0);
  back.db = back.root + "/back.db";
  std::string out, err;
  const auto migrate = [&](const std::string& from, const std::string& to) {
    return test::run_cli("migrate --json -q --from " + q(from) + " --to " + q(to), &out, &err);
  };
  ASSERT_EQ(migrate(l.db, pg.db), 0) << err;
  const nlohmann::json copied = nlohmann::json::parse(out);
  EXPECT_EQ(copied["embedding_sets"], 2);
  EXPECT_EQ(copied["set_windows"], 4);
  ASSERT_EQ(migrate(pg.db, back.db), 0) << err;
  const nlohmann::json sets = l.json("models --json");
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[1]["covered_windows"], 4);
  for (const Library* copy : {&pg, &back}) {
    SCOPED_TRACE(copy->db);
    EXPECT_EQ(copy->json("models --json"), sets);
    EXPECT_EQ(copy->searched_bytes(), l.searched_bytes());
    copy->expect_sound();
  }
  // The second set's embeddings came along: switching to it reads the same bytes everywhere.
  for (const Library* each : {&l, &pg, &back})
    ASSERT_EQ(each->cli("models --activate 2 --incomplete", &out, &err), 0) << err;
  EXPECT_EQ(pg.searched_bytes(), l.searched_bytes());
  EXPECT_EQ(back.searched_bytes(), l.searched_bytes());
  EXPECT_EQ(pg.json("models --json"), l.json("models --json"));
}

// The schema before embedding sets, exactly as the release before them made it: SQLite's
// version 5; PostgreSQL's version 6 (also before the jobs per pass of version 8).
void back_to_the_schema_before_sets(const Library& l) {
  if (l.postgres()) {
    store::pg::Connection(l.db).exec(
        "DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; "
        "ALTER TABLE jobs DROP CONSTRAINT jobs_path_pass; DROP INDEX jobs_state; "
        "ALTER TABLE jobs DROP COLUMN pass, DROP COLUMN first_pass, DROP COLUMN claim_seq, DROP COLUMN finish_seq; "
        "DROP SEQUENCE job_events; ALTER TABLE jobs ADD CONSTRAINT jobs_path_key UNIQUE (path); "
        "CREATE INDEX jobs_state ON jobs(state, id); ALTER TABLE tracks DROP COLUMN speech; "
        "DROP TABLE packet_hashes; DROP TABLE kept_track_ids; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; UPDATE schema_version SET version = 6");
    return;
  }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(l.db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h,
                         "DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; "
                         "ALTER TABLE tracks DROP COLUMN speech; "
                         "DROP TABLE packet_hashes; DROP TABLE kept_track_ids; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; UPDATE schema_version SET version = 5",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
}

TEST_P(EmbeddingSetsBothStores, AnIndexOfThePreviousSchemaMigratesInPlace) {
  Library l(4, GetParam());
  const std::string old_model = test::case_dir(kOld);
  ASSERT_EQ(l.json("index " + q(l.lib) + " --model " + q(old_model) + " --json -q")["indexed"], 4);
  const std::string old_id = model_of(l.json("status --json"));
  const std::string before = l.searched_bytes();  // read through the store, which reads the current schema only
  back_to_the_schema_before_sets(l);
  std::string out, err;
  EXPECT_EQ(l.cli("models", &out, &err), 1);  // read-only commands do not migrate
  EXPECT_NE(err.find("clapsearch index"), std::string::npos) << err;
  EXPECT_EQ(l.json("index " + q(l.lib) + " --json -q")["unchanged"], 4);
  const auto s = store::open_store(l.db, store::OpenMode::ReadOnly);
  EXPECT_EQ(s->schema_version(), l.postgres() ? store::PostgresStore::current_schema_version()
                                              : store::SqliteStore::current_schema_version());
  const nlohmann::json sets = l.json("models --json");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0]["id"], 1);
  EXPECT_EQ(sets[0]["model"], old_id);
  EXPECT_TRUE(sets[0]["active"]);
  EXPECT_TRUE(sets[0]["complete"]);
  EXPECT_EQ(l.searched_bytes(), before);
  EXPECT_EQ(s->embedding_sets().at(0).identity.content_hash, s->model()->content_hash);
  EXPECT_EQ(s->embedding_sets().at(0).identity.window_s, s->model()->window_s);
  // And the new model is built beside it, as on an index made by this version.
  const nlohmann::json run = l.json("index " + q(l.lib) + " --model " + q(test::case_dir(kNew)) + " --json -q");
  EXPECT_TRUE(run["embedding_set"]["active"]);
  EXPECT_EQ(run["embedding_set"]["id"], 2);
  l.expect_sound();
}

INSTANTIATE_TEST_SUITE_P(Backends, EmbeddingSetsBothStores, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace clap
