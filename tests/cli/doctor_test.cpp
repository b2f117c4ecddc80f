// `clapsearch doctor` run as a real process on the golden model (healthy text tower) and on a
// copy whose text projection maps every text to the same point (collapsed: exit status 3).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clap.h"
#include "checkpoint/safetensors.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

nlohmann::json golden_manifest() {
  std::ifstream f(test::case_dir("tiny-unfused") + "/cases.json");
  return nlohmann::json::parse(f);
}

int doctor(const std::string& args, std::string* out, std::string* err) {
  // No hub access in these tests: local folders only, and offline to be sure.
  return test::run_cli("doctor " + args, out, err, "HF_HUB_CACHE=");
}

// A copy of the golden model whose text_projection.linear2 outputs a constant.
std::string collapsed_model() {
  const fs::path src = test::case_dir("tiny-unfused");
  const fs::path dst = fs::path(test::temp_dir()) / "collapsed-model";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    if (e.is_regular_file() && e.path().filename() != "model.safetensors" && e.path().filename() != "expected.safetensors")
      fs::copy_file(e.path(), dst / e.path().filename(), fs::copy_options::overwrite_existing);
  SafeTensors st((src / "model.safetensors").string());
  std::map<std::string, TensorData> tensors;
  for (const TensorView& t : st.tensors()) {
    TensorData d;
    d.dtype = t.dtype;
    d.shape = t.shape;
    d.bytes.assign(t.data, t.data + t.nbytes);
    tensors[t.name] = std::move(d);
  }
  const auto& w = st.at("text_projection.linear2.weight");
  const auto& b = st.at("text_projection.linear2.bias");
  tensors["text_projection.linear2.weight"] = tensor_from_floats(std::vector<float>(w.numel(), 0.0f), w.shape);
  tensors["text_projection.linear2.bias"] = tensor_from_floats(std::vector<float>(b.numel(), 0.25f), b.shape);
  write_safetensors((dst / "model.safetensors").string(), tensors, st.metadata());
  return dst.string();
}

TEST(Doctor, ReportsAHealthyModelAsJson) {
  const std::string dir = test::case_dir("tiny-unfused");
  std::string out, err;
  const int status = doctor("--model '" + dir + "' --json", &out, &err);
  ASSERT_EQ(status, 0) << err << out;
  const auto j = nlohmann::json::parse(out);
  const auto manifest = golden_manifest();
  EXPECT_EQ(j["model"], fs::path(dir).lexically_normal().string());
  EXPECT_EQ(j["revision"], "local");
  EXPECT_EQ(j["dir"], dir);
  EXPECT_EQ(j["weights_sha256"], manifest["files"]["model.safetensors"]["sha256"]);
  EXPECT_TRUE(j["weights_sha256_matches_hub"].is_null());  // a plain folder: no hub checksum to compare
  EXPECT_EQ(j["weights_file_bytes"], manifest["files"]["model.safetensors"]["bytes"]);
  // The engine's count (tensors it uses); torch's num_parameters() leaves out buffers such as
  // batch-norm running statistics, so it is a little lower.
  EXPECT_EQ(j["parameters"], ClapModel::load(dir)->parameter_count());
  EXPECT_GE(j["parameters"].get<int64_t>(), manifest["num_parameters"].get<int64_t>());
  EXPECT_GT(j["weight_mb"].get<double>(), 1.0);
  EXPECT_EQ(j["embedding_dim"], 512);
  EXPECT_GE(j["load_seconds"].get<double>(), 0.0);
  const auto& h = j["text_health"];
  EXPECT_EQ(h["prompts"].size(), 8u);
  EXPECT_EQ(h["threshold"], 0.95);
  EXPECT_FALSE(h["collapsed"].get<bool>());
  EXPECT_LT(h["mean_pairwise_cosine"].get<double>(), 0.95);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(err.find("WARNING"), std::string::npos) << err;
}

TEST(Doctor, ReportsAHealthyModelAsText) {
  std::string out, err;
  ASSERT_EQ(doctor("--model '" + test::case_dir("tiny-unfused") + "'", &out, &err), 0) << err << out;
  for (const char* field : {"model ", "revision ", "sha256 ", "parameters ", "load time ", "text tower   ok"})
    EXPECT_NE(out.find(field), std::string::npos) << field << "\n" << out;
  EXPECT_NE(out.find("parameters   2,615,"), std::string::npos) << out;
}

TEST(Doctor, CollapsedTextTowerWarnsAndExits3) {
  const std::string dir = collapsed_model();
  std::string out, err;
  const int status = doctor("--model '" + dir + "' --json", &out, &err);
  EXPECT_EQ(status, 3) << err << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"], "collapsed");
  EXPECT_TRUE(j["text_health"]["collapsed"].get<bool>());
  EXPECT_GT(j["text_health"]["mean_pairwise_cosine"].get<double>(), 0.99);
  EXPECT_NE(err.find("WARNING"), std::string::npos) << err;
  EXPECT_NE(err.find("COLLAPSED"), std::string::npos) << err;
  EXPECT_NE(err.find("same order"), std::string::npos) << err;

  ASSERT_EQ(doctor("--model '" + dir + "'", &out, &err), 3);
  EXPECT_NE(out.find("text tower   COLLAPSED"), std::string::npos) << out;
  EXPECT_NE(err.find("WARNING"), std::string::npos) << err;
}

// FAISS's BLAS is pinned to OpenBLAS by the link: even when libblas.so.3 resolves to the
// reference BLAS (LD_LIBRARY_PATH stands in for the system's alternatives pointing there), the
// binary's sgemm_ is OpenBLAS's. Preloading the reference BLAS shows the check can tell.
TEST(Doctor, FaissUsesAnOptimisedBlasWhateverLibblasPointsAt) {
  const std::string reference_dir = "/usr/lib/x86_64-linux-gnu/blas";
  std::string out, err;
  const std::string args = "--model '" + test::case_dir("tiny-unfused") + "' --json";
  ASSERT_EQ(doctor(args, &out, &err), 0) << err;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["blas"]["optimised"].get<bool>()) << j["blas"].dump();
  EXPECT_NE(j["blas"]["library"].get<std::string>().find("openblas"), std::string::npos) << j["blas"].dump();
  EXPECT_FALSE(j["kernels"]["fp32"].get<std::string>().empty());
  EXPECT_FALSE(j["kernels"]["bf16"].get<std::string>().empty());
  if (!fs::exists(reference_dir + "/libblas.so.3")) GTEST_SKIP() << "no reference BLAS installed to test against";
  ASSERT_EQ(test::run_cli("doctor " + args, &out, &err, "LD_LIBRARY_PATH=" + reference_dir),
            0)
      << err;
  j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["blas"]["optimised"].get<bool>()) << "libblas.so.3 -> reference BLAS took over: " << j["blas"].dump();
  ASSERT_EQ(test::run_cli("doctor " + args, &out, &err, "LD_PRELOAD=" + reference_dir + "/libblas.so.3"),
            0)
      << err;
  j = nlohmann::json::parse(out);
  EXPECT_FALSE(j["blas"]["optimised"].get<bool>()) << j["blas"].dump();
  std::string text;
  ASSERT_EQ(test::run_cli("doctor --model " + test::quoted(test::case_dir("tiny-unfused")), &text, &err,
                            "LD_PRELOAD=" + reference_dir + "/libblas.so.3"),
            0);
  EXPECT_NE(text.find("REFERENCE BLAS"), std::string::npos) << text;
}

// The music-only rule in effect and how many tracks of the index it leaves out, counted as
// `status` counts them: a Podcast-tagged file among two songs; another rule; no index at --db.
TEST(Doctor, ShowsTheMusicOnlyRuleAndTheTracksItLeavesOut) {
  const std::string d = test::temp_dir() + "/doctor-exclude", db = d + "/library.db";
  fs::remove_all(d);
  test::ffmpeg(d + "/music/show.mp3", "-f lavfi -i \"anoisesrc=c=pink:d=9:seed=4\" -metadata genre=Podcast");
  test::ffmpeg(d + "/music/song.flac", "-f lavfi -i \"sine=f=440:d=9\" -metadata genre=Jazz");
  test::ffmpeg(d + "/music/tune.flac", "-f lavfi -i \"sine=f=660:d=9\" -metadata genre=Rock");
  const std::string model = "--model '" + test::case_dir("tiny-unfused") + "'";
  std::string out, err;
  ASSERT_EQ(test::run_cli("index '" + d + "/music' --db '" + db + "' " + model + " --quiet", &out, &err), 0)
      << err;

  ASSERT_EQ(doctor(model + " --db '" + db + "' --json", &out, &err), 0) << err << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["exclude"]["rule"], "genre in (\"Podcast\", \"Audiobook\", \"Speech\")");
  EXPECT_EQ(j["exclude"]["tracks"], 1);
  EXPECT_EQ(j["exclude"]["db"], db);
  EXPECT_FALSE(j["exclude"].contains("error"));
  // The same count as status's.
  ASSERT_EQ(test::run_cli("status --json --db '" + db + "'", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["exclude"]["tracks"], j["exclude"]["tracks"]);

  ASSERT_EQ(doctor(model + " --db '" + db + "' --exclude-rule 'genre in (\"jazz\", \"rock\")' --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["exclude"]["tracks"], 2);
  ASSERT_EQ(doctor(model + " --db '" + db + "'", &out, &err), 0) << err;
  EXPECT_NE(out.find("exclude   genre in (\"Podcast\", \"Audiobook\", \"Speech\"): 1 tracks left out of queries"), std::string::npos)
      << out;
  ASSERT_EQ(doctor(model + " --db '" + db + "' --exclude-rule ''", &out, &err), 0) << err;
  EXPECT_NE(out.find("exclude   (no music-only rule: every track is searched)"), std::string::npos) << out;

  // No index there: the model check still runs; the count is missing, with the reason.
  ASSERT_EQ(doctor(model + " --db '" + d + "/none.db' --json", &out, &err), 0) << err << out;
  j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["exclude"]["tracks"].is_null());
  EXPECT_NE(j["exclude"]["error"].get<std::string>().find(d + "/none.db"), std::string::npos) << j.dump();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_FALSE(fs::exists(d + "/none.db"));  // doctor creates no index
}

// R6-11: an index damaged by K6-1 before its fix (a deleted song's id given to the next new file,
// the old song's stars and plays then shown on the new one) had no repair. doctor now reports
// such rows (a user-data row naming a live track with neither its content hash nor its path),
// and --fix-reused-ids detaches them: kept, never deleted.
// `db`: a SQLite file or a PostgreSQL URL (the same rows, the other store's SQL).
void finds_and_detaches_user_data_on_a_track_id_given_again(const std::string& d, const std::string& db) {
  fs::remove_all(d);
  test::ffmpeg(d + "/music/new.flac", "-f lavfi -i \"sine=f=440:d=9\"");
  test::ffmpeg(d + "/music/kept.flac", "-f lavfi -i \"sine=f=660:d=9\"");
  const std::string model = "--model '" + test::case_dir("tiny-unfused") + "'";
  std::string out, err;
  ASSERT_EQ(test::run_cli("index '" + d + "/music' --db '" + db + "' " + model + " --quiet", &out, &err), 0) << err;
  int64_t reused = 0;
  {
    // The damage as K6-1 left it: the star and plays of a song that was deleted ("gone.flac",
    // its own hash) on the id the new file was given; and one sound star on the other file.
    auto s = store::open_store(db, store::OpenMode::ReadWrite);
    const std::vector<store::Track> tracks = s->tracks();
    ASSERT_EQ(tracks.size(), 2u);
    const store::Track& fresh = tracks[0].path.find("new.flac") != std::string::npos ? tracks[0] : tracks[1];
    const store::Track& kept = &fresh == &tracks[0] ? tracks[1] : tracks[0];
    reused = fresh.id;
    store::UserRecord u;
    u.name = "ann";
    const int64_t ann = s->add_user(u);
    const store::SongRef gone{fresh.id, std::string(64, 'a'), d + "/music/gone.flac"};
    s->put_star({ann, "song", "", gone, 0, 1000});
    for (int i = 0; i < 2; ++i) s->add_play({0, ann, gone, 1000 + i, 0, false, "subsonic"});
    s->put_star({ann, "song", "", store::SongRef{kept.id, kept.content_hash, kept.path}, 0, 1000});
  }
  ASSERT_EQ(doctor(model + " --db '" + db + "' --json", &out, &err), 0) << err << out;
  nlohmann::json j = nlohmann::json::parse(out)["reused_track_ids"];
  EXPECT_EQ(j["rows"], 3) << j.dump();
  ASSERT_EQ(j["found"].size(), 2u) << j.dump();
  EXPECT_EQ(j["found"][0]["table"], "stars");
  EXPECT_EQ(j["found"][0]["path"], d + "/music/gone.flac");
  EXPECT_EQ(j["found"][0]["shown_on"], d + "/music/new.flac");
  EXPECT_EQ(j["found"][1]["table"], "plays");
  EXPECT_EQ(j["found"][1]["rows"], 2);
  EXPECT_NE(err.find("doctor --fix-reused-ids --db " + db), std::string::npos) << err;
  ASSERT_EQ(doctor(model + " --db '" + db + "'", &out, &err), 0) << err;
  EXPECT_NE(out.find("user data    3 rows on track ids given to other files"), std::string::npos) << out;

  ASSERT_EQ(doctor("--fix-reused-ids --db '" + db + "'", &out, &err), 0) << err << out;
  EXPECT_NE(out.find("detached 3 rows of user data"), std::string::npos) << out;
  ASSERT_EQ(doctor(model + " --db '" + db + "' --json", &out, &err), 0) << err << out;
  EXPECT_EQ(nlohmann::json::parse(out)["reused_track_ids"]["rows"], 0) << out;
  EXPECT_EQ(err.find("fix-reused-ids"), std::string::npos) << err;
  // Kept, not deleted: the rows are there, on an id no track has, with their recording's hash
  // and path; the sound star is untouched.
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  const std::vector<store::FeedbackRecord> stars = s->stars(s->users()[0].id);
  ASSERT_EQ(stars.size(), 2u);
  int detached = 0;
  for (const store::FeedbackRecord& f : stars)
    if (f.song.path == d + "/music/gone.flac") {
      ++detached;
      EXPECT_NE(f.song.track_id, reused);
      EXPECT_FALSE(s->track(f.song.track_id));
      EXPECT_EQ(f.song.content_hash, std::string(64, 'a'));
    } else {
      EXPECT_TRUE(s->track(f.song.track_id));
    }
  EXPECT_EQ(detached, 1);
  EXPECT_EQ(s->plays(s->users()[0].id, 0, 0).size(), 2u);
}

TEST(Doctor, FindsAndDetachesUserDataOnATrackIdGivenAgain) {
  const std::string d = test::temp_dir() + "/doctor-reused";
  finds_and_detaches_user_data_on_a_track_id_given_again(d, d + "/library.db");
}

// R6-11 on PostgreSQL (checked by hand before): a real server, the same damage and repair.
TEST(Doctor, FindsAndDetachesUserDataOnATrackIdGivenAgainInPostgres) {
  finds_and_detaches_user_data_on_a_track_id_given_again(test::temp_dir() + "/doctor-reused-pg",
                                                         test::PostgresServer::shared().create_database());
}

TEST(Doctor, UnknownModelFailsClearly) {
  std::string out, err;
  EXPECT_EQ(doctor("--model test-org/not-cached --json", &out, &err), 1);
  EXPECT_NE(err.find("HF_HUB_OFFLINE"), std::string::npos) << err;
  EXPECT_NE(err.find("test-org/not-cached"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap
