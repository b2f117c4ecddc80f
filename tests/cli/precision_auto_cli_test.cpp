// --precision auto through the real CLI (service/precision_choice.h): an index's first run
// measures bf16 and int8 against fp32 on a sample of the library's own audio and records the
// choice with its table; `status`, `status --json`, the index summary and `doctor --fidelity`
// show it; a later run keeps it; an explicit precision wins; bounds that cannot hold keep fp32;
// too little audio keeps fp32 and a later first real run chooses; a CPU without bf16
// instructions does not measure bf16; the measured fidelity is the same on every run, and the
// times are this machine's, measured once and kept, so fresh indexes of one library choose alike;
// migrate carries the choice to PostgreSQL. No assertion depends on how fast a precision was: the
// choice is checked against the rule applied to the times the index recorded.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/isa.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string model() { return " --model " + test::quoted(test::case_dir("tiny-unfused")); }

std::string ok(const std::string& args, const std::string& env = "") {
  std::string out, err;
  EXPECT_EQ(test::run_cli(args, &out, &err, env), 0) << args << "\n" << err;
  return out;
}

class PrecisionAutoCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir() + "/precision-auto");
    // Six tracks of 20-25 s: 5 s windows every 5 s give 26 sounding windows to sample (the rule
    // needs 20), different enough that the rankings mean something.
    const char* sources[] = {
        "sine=f=220:d=24", "sine=f=880:d=22", "anoisesrc=seed=11:d=20:c=pink:a=0.3", "anoisesrc=seed=12:d=21:c=brown:a=0.4",
        "sine=f=440:d=25", "anoisesrc=seed=13:d=23:c=white:a=0.2",
    };
    for (int i = 0; i < 6; ++i)
      test::ffmpeg(*dir_ + "/music/track" + std::to_string(i) + ".flac",
                   std::string("-f lavfi -i \"") + sources[i] + ":sample_rate=48000\"" + (i % 2 ? " -af \"tremolo=f=3\"" : ""));
    test::ffmpeg(*dir_ + "/more/late.flac", "-f lavfi -i \"sine=f=660:d=12:sample_rate=48000\"");
    test::ffmpeg(*dir_ + "/short/one.wav", "-f lavfi -i \"sine=f=330:d=12:sample_rate=48000\"");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string dir() { return *dir_; }
  static std::string music() { return test::quoted(dir() + "/music"); }
  static std::string settings() { return " --window 5 --hop 5 --quiet"; }
  static json status(const std::string& db) { return json::parse(ok("status --json --db " + test::quoted(db))); }

 private:
  static std::string* dir_;
};
std::string* PrecisionAutoCli::dir_ = nullptr;

// The recorded table agrees with the rule: a lower precision holds its bounds exactly when its
// numbers meet them, and the chosen one is the last (fp32, bf16, int8) that holds them and is at
// least the speed margin faster than the one chosen before it.
void expect_rule_holds(const json& c) {
  ASSERT_TRUE(c.is_object()) << c.dump();
  EXPECT_EQ(c["mode"], "auto");
  ASSERT_EQ(c["trials"].size(), 3u);
  const json* chosen = &c["trials"][0];
  for (const json& t : c["trials"]) {
    if (t["precision"] == "fp32" || !t["measured"].get<bool>()) continue;
    const bool holds = t["window_cosine_min"].get<double>() >= t["window_cosine_bound"].get<double>() &&
                       t["topk_agreement"].get<double>() >= c["topk_agreement_bound"].get<double>();
    EXPECT_EQ(t["holds_bounds"].get<bool>(), holds) << t.dump();
    if (holds && t["ms_per_window"].get<double>() <= (1 - c["speed_margin"].get<double>()) * (*chosen)["ms_per_window"].get<double>())
      chosen = &t;
  }
  EXPECT_EQ(c["chosen"], (*chosen)["precision"]) << c.dump(1);
  int marked = 0;
  for (const json& t : c["trials"]) {
    marked += t["chosen"].get<bool>();
    EXPECT_EQ(t["chosen"].get<bool>(), t["precision"] == c["chosen"]) << t.dump();
    EXPECT_FALSE(t["reason"].get<std::string>().empty()) << t.dump();
  }
  EXPECT_EQ(marked, 1);
}

TEST_F(PrecisionAutoCli, FirstRunChoosesOnTheLibrarysAudioAndLaterRunsKeepTheChoice) {
  const std::string db = dir() + "/auto.db";
  const json run = json::parse(ok("index " + music() + " --db " + test::quoted(db) + model() + settings() + " --json"));
  const json st = status(db);
  const json& choice = st["model"]["precision_choice"];
  expect_rule_holds(choice);
  EXPECT_TRUE(choice["measured"].get<bool>());
  EXPECT_EQ(choice["chosen"], st["model"]["precision"]);
  EXPECT_EQ(choice["sample"]["tracks"], 6);
  EXPECT_GE(choice["sample"]["windows"].get<int>(), 20);
  EXPECT_LE(choice["sample"]["windows"].get<int>(), 32);
  EXPECT_EQ(choice["sample"]["text_queries"], 16);
  EXPECT_EQ(choice["k"], 10);
  EXPECT_EQ(choice["trials"][0]["window_cosine_min"], 1.0);  // the reference against itself
  for (const json& t : choice["trials"]) EXPECT_TRUE(t["measured"].get<bool>()) << t.dump();  // this CPU runs all three
  EXPECT_EQ(run["model"]["precision_choice"], choice);  // the run's summary says the same
  EXPECT_EQ(run["model"]["precision"], st["model"]["precision"]);

  // The text forms: status's table and doctor's show the same choice.
  const std::string text = ok("status --db " + test::quoted(db));
  EXPECT_NE(text.find("precision " + choice["chosen"].get<std::string>() + ", chosen on this machine by --precision auto"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("int8  window cosine min"), std::string::npos) << text;

  // A later run (a new folder, no --precision, or --precision auto) keeps the recorded choice:
  // nothing is measured again, the record is unchanged.
  const json again = json::parse(ok("index " + test::quoted(dir() + "/more") + " --db " + test::quoted(db) + settings() + " --json"));
  EXPECT_EQ(again["indexed"], 1);
  EXPECT_EQ(status(db)["model"]["precision_choice"], choice);
  EXPECT_EQ(status(db)["model"]["precision"], st["model"]["precision"]);
  ok("index " + music() + " --db " + test::quoted(db) + " --precision auto" + settings());
  EXPECT_EQ(status(db)["model"]["precision_choice"], choice);
  // Naming the precision the index has keeps the record too.
  ok("index " + music() + " --db " + test::quoted(db) + " --precision " + st["model"]["precision"].get<std::string>() + settings());
  EXPECT_EQ(status(db)["model"]["precision_choice"], choice);

  // The same measurement again (another index of the same folder): the same sample, and the same
  // cosines and agreements bit for bit; the times are this machine's kept ones, so the same record.
  const std::string db2 = dir() + "/auto-again.db";
  ok("index " + music() + " --db " + test::quoted(db2) + model() + settings());
  const json choice2 = status(db2)["model"]["precision_choice"];
  expect_rule_holds(choice2);
  EXPECT_EQ(choice2["sample"], choice["sample"]);
  for (size_t i = 0; i < 3; ++i)
    for (const char* key : {"window_cosine_min", "topk_agreement", "topk_agreement_min", "holds_bounds"})
      EXPECT_EQ(choice2["trials"][i][key], choice["trials"][i][key]) << i << " " << key;
  EXPECT_EQ(choice2, choice);

  // `index --rebuild --precision auto` chooses again.
  ok("index " + music() + " --db " + test::quoted(db) + " --rebuild --precision auto" + settings());
  expect_rule_holds(status(db)["model"]["precision_choice"]);
  EXPECT_EQ(status(db)["model"]["precision_choice"]["sample"], choice["sample"]);
}

TEST_F(PrecisionAutoCli, FreshIndexesOfOneLibraryChooseAlikeFromThisMachinesKeptTimes) {
  // A cache of its own: the first choice made with it times the precisions once and keeps the times.
  const std::string cache = dir() + "/speed-cache";
  const std::string env = "XDG_CACHE_HOME=" + test::quoted(cache);
  const auto fresh = [&](const std::string& name) {
    const std::string db = dir() + "/" + name + ".db";
    ok("index " + music() + " --db " + test::quoted(db) + model() + settings(), env);
    return status(db)["model"]["precision_choice"];
  };
  const json first = fresh("fresh-1");
  expect_rule_holds(first);
  EXPECT_FALSE(first["speed_measured_at"].get<std::string>().empty()) << first.dump(1);
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(cache + "/clapsearch/precision-speed")) kept.push_back(e.path());
  ASSERT_EQ(kept.size(), 1u);
  json times = json::parse(test::read_file(kept[0].string()));
  for (const json& t : first["trials"]) EXPECT_EQ(times["ms_per_window"][t["precision"].get<std::string>()], t["ms_per_window"]);

  // Another fresh index of the library: the same record, times included, bit for bit (timed on
  // each run, a shared machine's timings made such indexes differ one run in two).
  EXPECT_EQ(fresh("fresh-2"), first);

  // The times are the kept file's: times written there decide the next choice.
  const auto plant = [&](double fp32, double bf16, double int8) {
    times["ms_per_window"] = {{"fp32", fp32}, {"bf16", bf16}, {"int8", int8}};
    std::ofstream(kept[0]) << times.dump();
  };
  plant(100, 60, 10);
  const json fast_low = fresh("fresh-3");
  expect_rule_holds(fast_low);
  EXPECT_EQ(fast_low["trials"][2]["ms_per_window"], 10.0);
  // The fidelity step is the same as the first run's: whichever lower precision held its bounds
  // there is chosen now, int8 first.
  const std::string expected = first["trials"][2]["holds_bounds"].get<bool>()   ? "int8"
                               : first["trials"][1]["holds_bounds"].get<bool>() ? "bf16"
                                                                                 : "fp32";
  EXPECT_EQ(fast_low["chosen"], expected) << fast_low.dump(1);
  plant(10, 60, 100);
  EXPECT_EQ(fresh("fresh-4")["chosen"], "fp32");

  // P6-1: a FIFO at the kept file blocked `index` forever at its open, and a link to /dev/zero
  // read it without end (2 GB in 20 s). Neither is a table: the times are measured again and
  // the file replaced by a regular one.
  const auto replaced_by_a_table = [&](const char* what) {
    const fs::file_status st = fs::symlink_status(kept[0]);
    EXPECT_TRUE(fs::is_regular_file(st)) << what;
    EXPECT_EQ(json::parse(test::read_file(kept[0].string()))["key"], times["key"]) << what;
  };
  fs::remove(kept[0]);
  ASSERT_EQ(::mkfifo(kept[0].c_str(), 0644), 0);
  expect_rule_holds(fresh("fresh-fifo"));
  replaced_by_a_table("a FIFO");
  fs::remove(kept[0]);
  fs::create_symlink("/dev/zero", kept[0]);
  expect_rule_holds(fresh("fresh-dev-zero"));
  replaced_by_a_table("a link to /dev/zero");
}

// Hostile pass 11, H11C-2: CLAPSEARCH_ISA naming the level the CPU's best gives anyway runs the
// same kernels (the same bits, the same times), but the kept times were keyed by kernel_set()'s
// wording, which says why the level is what it is: the variable's run timed the precisions again
// into a second file and chose bf16 where the unset run had chosen int8. One file, one choice.
TEST_F(PrecisionAutoCli, NamingTheCpusOwnKernelSetNeitherTimesAgainNorChangesTheChoice) {
  const IsaLevel best = cpu_isa_level();
  if (best == IsaLevel::Baseline) GTEST_SKIP() << "no level to name beyond the baseline";
  // On an AVX2 CPU with AVX-VNNI, `avx2` turns VNNI off (other kernels): avx2-vnni is its best.
  const std::string isa = best == IsaLevel::Avx2 && cpu_has_avx_vnni() ? "avx2-vnni" : isa_level_name(best);
  const std::string cache = dir() + "/isa-speed-cache";
  const auto fresh = [&](const std::string& name, const std::string& env) {
    const std::string db = dir() + "/" + name + ".db";
    ok("index " + music() + " --db " + test::quoted(db) + model() + settings(), env);
    return status(db)["model"]["precision_choice"];
  };
  const std::string env = "XDG_CACHE_HOME=" + test::quoted(cache);
  const json unset = fresh("isa-unset", env + " CLAPSEARCH_ISA=");  // empty: unset (core/isa.h)
  const json named = fresh("isa-named", env + " CLAPSEARCH_ISA=" + isa);
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(cache + "/clapsearch/precision-speed")) kept.push_back(e.path());
  EXPECT_EQ(kept.size(), 1u) << "CLAPSEARCH_ISA=" << isa << " timed the same kernels again";
  expect_rule_holds(named);
  EXPECT_EQ(named["chosen"], unset["chosen"]);
  EXPECT_EQ(named["speed_measured_at"], unset["speed_measured_at"]);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(named["trials"][i], unset["trials"][i]) << i;
}

// Hostile pass 11, H11C-8: a cache folder that cannot be written (XDG_CACHE_HOME a file, a full or
// read-only disk) kept no times, silently: every fresh index timed the precisions again, and on
// this shared machine one chose bf16, the next int8. The run now says so, and so does the choice.
TEST_F(PrecisionAutoCli, TimesThatCannotBeKeptAreSaidToBe) {
  const std::string not_a_folder = dir() + "/cache-is-a-file";
  std::ofstream(not_a_folder) << "x";
  const std::string db = dir() + "/unkept.db";
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + music() + " --db " + test::quoted(db) + model() + " --window 5 --hop 5", &out, &err,
                          "XDG_CACHE_HOME=" + test::quoted(not_a_folder)),
            0)
      << err;
  EXPECT_NE(err.find("this machine's precision times could not be kept (" + not_a_folder), std::string::npos) << err;
  const json c = status(db)["model"]["precision_choice"];
  expect_rule_holds(c);
  EXPECT_NE(c["reason"].get<std::string>().find("could not be kept"), std::string::npos) << c.dump(1);
}

TEST_F(PrecisionAutoCli, TheRunsFirstPassDoesNotChangeTheSampleOrTheChoice) {
  // --first-pass changes no embedding's bits, so it must not change the precision: the sample
  // followed the run's first pass, and `index --first-pass 0` chose bf16 where `index --plan
  // --first-pass 2` of the same file chose int8 (the workers' index then differed from a one-shot
  // run's in every bit). Every first pass records the same sample and fidelity, bit for bit, as
  // the default first pass does.
  const std::string default_db = dir() + "/first-pass-default.db";
  ok("index " + music() + " --db " + test::quoted(default_db) + model() + settings());
  const json reference = status(default_db)["model"]["precision_choice"];
  for (const char* first_pass : {"0", "1", "2", "3", "5"}) {
    SCOPED_TRACE(std::string("--first-pass ") + first_pass);
    const std::string db = dir() + "/first-pass-" + first_pass + ".db";
    ok("index " + music() + " --db " + test::quoted(db) + model() + settings() + " --first-pass " + first_pass);
    const json c = status(db)["model"]["precision_choice"];
    expect_rule_holds(c);
    EXPECT_EQ(c["sample"], reference["sample"]);
    for (size_t i = 0; i < 3; ++i)
      for (const char* key : {"window_cosine_min", "topk_agreement", "topk_agreement_min", "holds_bounds", "ms_per_window"})
        EXPECT_EQ(c["trials"][i][key], reference["trials"][i][key]) << c["trials"][i]["precision"] << " " << key;
    EXPECT_EQ(c["chosen"], reference["chosen"]);
  }
}

TEST_F(PrecisionAutoCli, AnExplicitPrecisionWinsAndRecordsNoChoice) {
  const std::string db = dir() + "/given.db";
  ok("index " + music() + " --db " + test::quoted(db) + model() + settings() + " --precision bf16");
  const json st = status(db);
  EXPECT_EQ(st["model"]["precision"], "bf16");
  EXPECT_TRUE(st["model"]["precision_choice"].is_null());
  // A later run without --precision keeps bf16 (the index's), chooses nothing.
  ok("index " + music() + " --db " + test::quoted(db) + settings());
  EXPECT_EQ(status(db)["model"]["precision"], "bf16");
  EXPECT_TRUE(status(db)["model"]["precision_choice"].is_null());
  EXPECT_EQ(ok("status --db " + test::quoted(db)).find("chosen on this machine"), std::string::npos);
}

TEST_F(PrecisionAutoCli, BoundsThatCannotHoldKeepFp32) {
  // No lower precision keeps every window at cosine 1 of fp32 (bf16 and int8 round): fp32 stays,
  // and the table says which bound each one missed.
  const std::string db = dir() + "/strict.db";
  ok("index " + music() + " --db " + test::quoted(db) + model() + settings() + " --auto-min-cosine 1");
  const json c = status(db)["model"]["precision_choice"];
  expect_rule_holds(c);
  EXPECT_EQ(c["chosen"], "fp32");
  EXPECT_EQ(status(db)["model"]["precision"], "fp32");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_FALSE(c["trials"][i]["holds_bounds"].get<bool>()) << c.dump(1);
    EXPECT_EQ(c["trials"][i]["window_cosine_bound"], 1.0);
    EXPECT_NE(c["trials"][i]["reason"].get<std::string>().find("is below its bound 1.0000"), std::string::npos) << c.dump(1);
  }
  EXPECT_NE(c["trials"][0]["reason"].get<std::string>().find("chosen: no lower precision"), std::string::npos) << c.dump(1);
  // A bound out of range is a usage error naming the option.
  std::string out, err;
  EXPECT_EQ(test::run_cli("index " + music() + " --db " + test::quoted(dir() + "/bad.db") + " --auto-min-agreement 2", &out, &err), 2);
  EXPECT_NE(err.find("--auto-min-agreement"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir() + "/bad.db"));
}

TEST_F(PrecisionAutoCli, TooLittleAudioKeepsFp32UntilTheFirstRunWithTracks) {
  // An index whose folder holds no audio yet: nothing to measure on, fp32 recorded as kept.
  const std::string db = dir() + "/empty-first.db";
  fs::create_directories(dir() + "/nothing");
  ok("index " + test::quoted(dir() + "/nothing") + " --db " + test::quoted(db) + model() + settings());
  json c = status(db)["model"]["precision_choice"];
  EXPECT_FALSE(c["measured"].get<bool>()) << c.dump(1);
  EXPECT_EQ(c["chosen"], "fp32");
  EXPECT_NE(c["reason"].get<std::string>().find("no audio to measure on"), std::string::npos) << c.dump(1);
  // Its first run with tracks chooses on them.
  ok("index " + music() + " --db " + test::quoted(db) + settings());
  c = status(db)["model"]["precision_choice"];
  EXPECT_TRUE(c["measured"].get<bool>()) << c.dump(1);
  expect_rule_holds(c);

  // One short track (a few windows): too few to rank on; fp32 is kept for good once it is indexed.
  const std::string small = dir() + "/small.db";
  ok("index " + test::quoted(dir() + "/short") + " --db " + test::quoted(small) + model() + settings());
  c = status(small)["model"]["precision_choice"];
  EXPECT_FALSE(c["measured"].get<bool>());
  EXPECT_NE(c["reason"].get<std::string>().find("sounding windows to measure on (at least 20 needed)"), std::string::npos)
      << c.dump(1);
  ok("index " + music() + " --db " + test::quoted(small) + settings());
  EXPECT_EQ(status(small)["model"]["precision_choice"], c);
  EXPECT_EQ(status(small)["model"]["precision"], "fp32");
  const std::string text = ok("status --db " + test::quoted(small));
  EXPECT_NE(text.find("precision fp32 (--precision auto: only "), std::string::npos) << text;
}

TEST_F(PrecisionAutoCli, WithoutBfloat16InstructionsBf16IsNotACandidate) {
  if (cpu_isa_level() < IsaLevel::Avx2) GTEST_SKIP() << "no AVX2 on this CPU";
  const std::string db = dir() + "/avx2.db";
  ok("index " + music() + " --db " + test::quoted(db) + model() + settings(), "CLAPSEARCH_ISA=avx2");
  const json c = status(db)["model"]["precision_choice"];
  expect_rule_holds(c);
  EXPECT_FALSE(c["trials"][1]["measured"].get<bool>()) << c.dump(1);
  EXPECT_NE(c["trials"][1]["reason"].get<std::string>().find("not a candidate: no bfloat16 instructions"), std::string::npos);
  EXPECT_TRUE(c["trials"][2]["measured"].get<bool>());
  EXPECT_NE(c["chosen"], "bf16");
  EXPECT_NE(c["kernel_set"].get<std::string>().find("avx2"), std::string::npos) << c["kernel_set"];
}

TEST_F(PrecisionAutoCli, DoctorFidelityShowsTheTableAutoChoosesFrom) {
  const json d = json::parse(ok("doctor" + model() + " --fidelity " + music() + " --json"));
  expect_rule_holds(d);
  EXPECT_TRUE(d["measured"].get<bool>());
  EXPECT_EQ(d["sample"]["tracks"], 6);
  // The text form (the same times, this machine's kept ones, so the same choice).
  const std::string text = ok("doctor" + model() + " --precision auto --fidelity " + music());
  EXPECT_EQ(text.rfind("precision ", 0), 0u) << text;
  EXPECT_NE(text.find(", chosen on this machine by --precision auto: "), std::string::npos) << text;
  for (const char* row : {"\n  fp32  window cosine min 1.000000", "\n  bf16  window cosine min", "\n  int8  window cosine min"})
    EXPECT_NE(text.find(row), std::string::npos) << row << "\n" << text;
}

TEST_F(PrecisionAutoCli, MigrateCarriesTheChoiceToPostgresql) {
  const std::string db = dir() + "/to-migrate.db";
  ok("index " + music() + " --db " + test::quoted(db) + model() + settings() + " --auto-min-cosine 1");
  const json choice = status(db)["model"]["precision_choice"];
  const std::string pg = test::PostgresServer::shared().create_database();
  ok("migrate --from " + test::quoted(db) + " --to " + test::quoted(pg));
  const json st = status(pg);
  EXPECT_EQ(st["model"]["precision_choice"], choice);
  EXPECT_EQ(st["model"]["precision"], "fp32");
  // And back: SQLite reads what PostgreSQL recorded.
  const std::string back = dir() + "/migrated-back.db";
  ok("migrate --from " + test::quoted(pg) + " --to " + test::quoted(back));
  EXPECT_EQ(status(back)["model"]["precision_choice"], choice);
}

}  // namespace
}  // namespace clap
