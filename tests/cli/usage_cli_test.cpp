// Usage errors: one shared check refuses non-finite numbers in every floating-point option,
// number checks say what they want in a line, an unknown command is named, and every usage
// error exits 2 (a run that fails on its input exits 1).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "support/command_help.h"
#include "support/golden.h"

namespace clap {
namespace {

int run(const std::string& args, std::string* err) {
  std::string out;
  return test::run_cli(args + " --db /nonexistent/library.db", &out, err);
}

TEST(UsageCli, NonFiniteNumbersAreRefusedInEveryCommand) {
  struct Case {
    std::string args, option;
  };
  for (const Case& c : {Case{"like --track 1 --vote-weight nan", "--vote-weight"}, Case{"index /tmp --silence-db nan", "--silence-db"},
                        Case{"index /tmp --hop inf", "--hop"}, Case{"search x --high -inf", "--high"},
                        Case{"search x --moderate 1e400", "--moderate"}, Case{"like --track 1 --chunk NaN", "--chunk"}}) {
    std::string err;
    EXPECT_EQ(run(c.args, &err), 2) << c.args << "\n" << err;
    EXPECT_NE(err.find(c.option + ": "), std::string::npos) << c.args << "\n" << err;
    EXPECT_NE(err.find("not a finite number"), std::string::npos) << c.args << "\n" << err;
  }
}

TEST(UsageCli, UsageErrorsExitTwoWithAShortMessage) {
  std::string err;
  std::string out;
  EXPECT_EQ(test::run_command(test::cli_command(), &out, &err), 2) << err;  // no command at all
  EXPECT_EQ(run("frobnicate", &err), 2);
  EXPECT_NE(err.find("unknown command 'frobnicate'"), std::string::npos) << err;
  EXPECT_EQ(run("search x -k -3", &err), 2);
  EXPECT_NE(err.find("must be 0 or more, got -3"), std::string::npos) << err;
  EXPECT_LT(err.size(), 300u) << err;
  EXPECT_EQ(run("like x --hop 0", &err), 2);
  EXPECT_NE(err.find("must be more than 0"), std::string::npos) << err;
  EXPECT_EQ(run("search x --no-such-option", &err), 2);
  EXPECT_EQ(run("search --help", &err), 0);
  EXPECT_EQ(run("search x", &err), 1);  // a valid command line whose run fails: 1
}

// Arguments that are missing, out of range or contradict each other are usage errors (2) however
// deep in the program they are found, and every number option reads plain decimal numbers only.
TEST(UsageCli, EveryArgumentErrorExitsTwo) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{"search", "give a query"}, Case{"search x --high 0.1 --moderate 0.5", "--high must be at least"},
                        Case{"search x --high 5", "a cosine lies between -1 and 1, got 5"},
                        Case{"analyze --queries /dev/null --moderate -2", "a cosine lies between -1 and 1"},
                        Case{"search x --high 0x10", "0x10 is not a decimal number"},
                        Case{"search x -k 99999999999999999999", "--top: 99999999999999999999 is out of range"},
                        Case{"search x -k 0x10", "0x10 is not a decimal number"},
                        Case{"search x -k 010", "010: write whole numbers without leading zeros"},
                        Case{"search x --compare", "--compare needs at least two queries"},
                        Case{"like", "give either a query audio file or --track"},
                        Case{"classify --labels rock", "give at least two labels"}}) {
    std::string err;
    EXPECT_EQ(run(c.args, &err), 2) << c.args << "\n" << err;
    EXPECT_NE(err.find(c.message), std::string::npos) << c.args << "\n" << err;
    EXPECT_NE(err.find("Run with --help"), std::string::npos) << c.args << "\n" << err;
  }
  std::string err;
  EXPECT_EQ(run("search x -k 7", &err), 1) << err;  // valid: fails on the missing index
  EXPECT_EQ(run("search x -k +7 --high 1e-1 --moderate -1", &err), 1) << err;
}

TEST(UsageCli, SettingsThatWouldMakeUnboundedWorkAreRefusedBeforeAnyWork) {
  const std::string dir = test::temp_dir() + "/bounded";
  const std::string file = test::ffmpeg(dir + "/music/a.wav", "-f lavfi -i \"sine=f=440:d=30\"");
  const std::string model = test::quoted(test::case_dir("tiny-unfused"));
  std::string out, err;
  const std::string index = test::cli_command() + " index '" + dir + "/music' --db '" + dir + "/library.db' --model " + model;
  EXPECT_EQ(test::run_command(index + " --hop 0.0001", &out, &err), 2);
  EXPECT_NE(err.find("--hop 0.0001 s: at least 0.5 s"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(index + " --window 0.2 --hop 0.2", &out, &err), 2);
  EXPECT_NE(err.find("--window 0.2 s: at least 1 s"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(index + " --silence-db 20", &out, &err), 2);
  EXPECT_NE(err.find("--silence-db 20: must be between -200 and 0"), std::string::npos) << err;
  // Nothing was recorded: a normal run afterwards indexes with the defaults.
  ASSERT_EQ(test::run_command(index, &out, &err), 0) << err;
  EXPECT_EQ(test::run_command(test::cli_command() + " like '" + file + "' --hop 0.1 --db '" + dir + "/library.db'", &out, &err), 2);
  EXPECT_NE(err.find("--hop 0.1 s: at least 0.5 s"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(test::cli_command() + " like '" + file + "' --chunk 0.5 --db '" + dir + "/library.db'", &out, &err), 2);
  EXPECT_NE(err.find("--chunk 0.5 s: at least 1 s"), std::string::npos) << err;
  // Hostile pass 9: `embed --hop` took a hop of one sample (2e-5 s) where index and like refuse
  // under 0.5 s; it agrees with them now.
  EXPECT_EQ(test::run_command(test::cli_command() + " embed --model " + model + " --audio '" + file + "' --hop 0.00002", &out,
                              &err),
            2);
  EXPECT_NE(err.find("--hop 2e-05 s: at least 0.5 s"), std::string::npos) << err;
  // Hostile pass 10: a hop longer than the model's window (10 s) left the audio between windows
  // out, where index refuses --hop longer than --window.
  EXPECT_EQ(test::run_command(test::cli_command() + " embed --model " + model + " --audio '" + file + "' --hop 20", &out, &err),
            2);
  EXPECT_NE((out + err).find("--hop 20 s is longer than the model's window (10 s)"), std::string::npos) << out << err;
  // Hostile pass 10: a --config that is not JSON showed nlohmann's "[json.exception.parse_error.101]
  // parse error at line 1, column 1: syntax error while parsing value - invalid literal; ...".
  std::ofstream(dir + "/passwd.json") << "root:x:0:0:root:/root:/bin/bash\n";
  EXPECT_EQ(test::run_command(test::cli_command() + " embed --model " + model + " --config '" + dir + "/passwd.json' --text x", &out,
                              &err),
            1);
  EXPECT_NE(err.find(dir + "/passwd.json: invalid JSON (line 1, column 1: not JSON here"), std::string::npos) << err;
  EXPECT_EQ(err.find("json.exception"), std::string::npos) << err;
  // R9C-4: --config and --tokenizer are checked whatever the command goes on to do (search
  // answered from the text cache without loading the model, so /dev/zero was never looked at).
  ASSERT_EQ(test::run_command(test::cli_command() + " search 'a tone' --db '" + dir + "/library.db'", &out, &err), 0) << err;
  for (const std::string option : {"--config", "--tokenizer"}) {
    EXPECT_EQ(test::run_command(test::cli_command() + " search 'a tone' " + option + " /dev/zero --db '" + dir + "/library.db'",
                                &out, &err),
              2)
        << option;
    EXPECT_NE(err.find(option + ": /dev/zero is a device, not a file or a folder"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// A PostgreSQL URL is not a file name: until the commands work on a PostgreSQL store they refuse
// it (with the password kept out of the message) instead of creating a SQLite file named
// "postgresql:" in the working folder.
TEST(UsageCli, AnUnreachablePostgresqlServerIsNamedNotTakenForAFileName) {
  const std::string dir = test::temp_dir() + "/pg-url";
  std::filesystem::create_directories(dir);
  const std::string url = "postgresql://me:secret@127.0.0.1:1/lib";
  for (const std::string& command : std::vector<std::string>{"status", "search x", "index " + dir}) {
    std::string out, err;
    EXPECT_EQ(test::run_command("cd " + test::quoted(dir) + " && " + test::cli_command() + " " + command +
                                    " --db " + test::quoted(url),
                                &out, &err),
              1)
        << command << "\n" << err;
    EXPECT_NE(err.find("postgresql://me@127.0.0.1:1/lib"), std::string::npos) << command << "\n" << err;
    EXPECT_EQ(err.find("secret"), std::string::npos) << err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/postgresql:")) << "a SQLite file was made from the URL";
}

TEST(IndexSameFile, AFolderReachedThroughASymlinkIsIndexedOnce) {
  const std::string dir = test::temp_dir() + "/samefile";
  test::ffmpeg(dir + "/music/a.wav", "-f lavfi -i \"sine=f=440:d=3\"");
  test::ffmpeg(dir + "/music/sub/b.wav", "-f lavfi -i \"sine=f=660:d=3\"");
  std::filesystem::create_directory_symlink(dir + "/music", dir + "/link");
  const std::string cli = test::cli_command(), db = " --db '" + dir + "/library.db'";
  std::string out, err;
  ASSERT_EQ(test::run_command(cli + " index '" + dir + "/music'" + db + " --model '" + test::case_dir("tiny-unfused") + "'", &out, &err), 0)
      << err;
  ASSERT_EQ(test::run_command(cli + " index '" + dir + "/link'" + db + " --json", &out, &err), 0) << err;
  const auto summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["indexed"], 0) << out;
  EXPECT_NE(err.find("the same file as the indexed"), std::string::npos) << err;
  ASSERT_EQ(test::run_command(cli + " status --json" + db, &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2) << out;
  // Both roots in one run: once as well.
  ASSERT_EQ(test::run_command(cli + " index '" + dir + "/music' '" + dir + "/link'" + db + " --json", &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli + " status --json" + db, &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2) << out;
}

// A hard link is one track: the second name is warned about (naming the kept one) in the run
// that first sees both, and `similar` on either name answers for that track.
TEST(IndexSameFile, AHardLinkIsWarnedAboutAndEitherNameFindsTheTrack) {
  const std::string dir = test::temp_dir() + "/hardlink";
  const std::string a = test::ffmpeg(dir + "/music/a.wav", "-f lavfi -i \"sine=f=440:d=3\"");
  test::ffmpeg(dir + "/music/b.wav", "-f lavfi -i \"sine=f=660:d=3\"");
  const std::string link = dir + "/music/z-second-name.wav";
  std::filesystem::create_hard_link(a, link);
  const std::string cli = test::cli_command(), db = " --db '" + dir + "/library.db'";
  std::string out, err;
  ASSERT_EQ(test::run_command(cli + " index '" + dir + "/music'" + db + " --json --model '" + test::case_dir("tiny-unfused") + "'", &out, &err), 0)
      << err;
  EXPECT_NE(err.find("z-second-name.wav"), std::string::npos) << err;
  EXPECT_NE(err.find("the same file as " + a), std::string::npos) << err;
  ASSERT_EQ(test::run_command(cli + " status --json" + db, &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2) << out;
  std::string by_first, by_second;
  ASSERT_EQ(test::run_command(cli + " similar '" + a + "' --json" + db, &by_first, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli + " similar '" + link + "' --json" + db, &by_second, &err), 0) << err;
  EXPECT_EQ(by_second, by_first);
  EXPECT_EQ(by_first.find("a.wav"), std::string::npos) << "the track itself is left out: " << by_first;
}

// Rough edges from the hostile new-user test (issue 11): a list option takes one value per
// occurrence, ignored options are said, eval goes on past a bad file, a FIFO is named, and the
// process is called clapsearch after its re-exec.
TEST(RoughEdges, ListOptionsIgnoredOptionsEvalFifoAndProcessName) {
  const std::string dir = test::temp_dir() + "/rough", lib = dir + "/lib", db = dir + "/library.db";
  const std::string cli = test::cli_command();
  test::ffmpeg(lib + "/a.flac", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(lib + "/b.wav", "-f lavfi -i sine=f=660:d=3:sample_rate=16000");
  std::filesystem::create_directories(dir + "/silence");
  test::ffmpeg(dir + "/silence/zero.wav", "-f lavfi -i anullsrc=r=16000:cl=mono -t 2");
  ASSERT_EQ(mkfifo((lib + "/pipe.flac").c_str(), 0644), 0);
  std::string out, err;
  // `--include GLOB DIR`: DIR stays the folder to index.
  ASSERT_EQ(test::run_command(cli + " index --include '*.flac' " + test::quoted(lib) + " --db " + test::quoted(db) +
                                  " --model " + test::quoted(test::case_dir("tiny-unfused")) + " --json",
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], 1);  // a.flac only
  EXPECT_NE(err.find("pipe.flac: skipped: not a regular file (a FIFO)"), std::string::npos) << err;

  EXPECT_EQ(test::run_command(cli + " like --db " + test::quoted(db) + " --track 1 --chunk 3 --hop 2", &out, &err), 0) << err;
  EXPECT_NE(err.find("--chunk/--hop are ignored with --track"), std::string::npos) << err;

  // eval: a missing and a silent file are skipped, reported, and the rest evaluated.
  std::ofstream(dir + "/labels.csv") << "path,label\n"
                                     << lib << "/a.flac,rock\n"
                                     << lib << "/b.wav,jazz\n"
                                     << dir << "/missing.wav,rock\n"
                                     << dir << "/silence/zero.wav,jazz\n";
  ASSERT_EQ(test::run_command(cli + " eval zero-shot --db " + test::quoted(db) + " --labels-csv " +
                                  test::quoted(dir + "/labels.csv") + " --json",
                              &out, &err),
            0)
      << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["n"], 2);
  ASSERT_EQ(j["skipped"].size(), 2u);
  EXPECT_EQ(j["skipped"][0]["path"], dir + "/missing.wav");
  EXPECT_NE(j["skipped"][1]["reason"].get<std::string>().find("silent"), std::string::npos) << j.dump();
  EXPECT_NE(err.find("skipped " + dir + "/missing.wav"), std::string::npos) << err;

  // ps and top show the name of the executable, which the OpenMP re-exec must keep.
  std::string comm;
  ASSERT_EQ(test::run_command(cli + " serve --db " + test::quoted(db) + " --port 0 --quiet & pid=$!; "
                                    "for i in $(seq 100); do c=$(cat /proc/$pid/comm 2>/dev/null); "
                                    "[ \"$c\" = clapsearch ] && break; sleep 0.05; done; "
                                    "cat /proc/$pid/comm; kill $pid; wait $pid",
                              &comm, &err),
            143)
      << err;
  EXPECT_EQ(comm, "clapsearch\n");
}

TEST(RoughEdges, BenchSaysWhatItMeasured) {
  const std::string cli = test::cli_command();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli + " bench --model " + test::quoted(test::case_dir("tiny-unfused")) +
                                  " --threads 1 --windows 2 --repeat 1 --batch 1",
                              &out, &err),
            0)
      << err;
  size_t batch1 = 0;
  for (size_t at = out.find("audio, batch 1 "); at != std::string::npos; at = out.find("audio, batch 1 ", at + 1)) ++batch1;
  EXPECT_EQ(batch1, 1u) << out;
  EXPECT_EQ(out.find(" 0.0 ms"), std::string::npos) << out;  // small times keep their digits
  // The per-stage rows end in one column.
  std::istringstream lines(out);
  std::set<size_t> ends;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("  ", 0) == 0 && line.find("of which") == std::string::npos) ends.insert(line.size());
  EXPECT_EQ(ends.size(), 1u) << out;

  // An architecture too large for memory: a sentence, and no half-made folder in the cache.
  // (Under AddressSanitizer an impossible `new` aborts the process instead of throwing
  // std::bad_alloc, so this part needs the normal build: scripts/sanitize.sh sets the variable.)
  if (std::getenv("CLAPSEARCH_SANITIZED")) return;
  const std::string dir = test::temp_dir() + "/bench";
  std::filesystem::create_directories(dir);
  std::ifstream in(test::case_dir("tiny-unfused") + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["text_config"]["vocab_size"] = 4000000000000LL;
  std::ofstream(dir + "/huge.json") << config.dump();
  EXPECT_EQ(test::run_command("XDG_CACHE_HOME=" + test::quoted(dir + "/cache") + " " + cli + " bench --config " +
                                  test::quoted(dir + "/huge.json"),
                              &out, &err),
            1);
  EXPECT_EQ(err.find("std::bad_alloc"), std::string::npos) << err;
  EXPECT_NE(err.find("huge.json"), std::string::npos) << err;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/cache"))
    EXPECT_EQ(e.path().string().find(".partial"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// --help names the program (not the path it was started by) and lists the everyday commands
// first, under headings, the upkeep, model and benchmark commands after.
TEST(UsageHelp, NamesTheProgramAndListsEverydayCommandsFirst) {
  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " --help", &out, &err), 0) << err;
  EXPECT_NE(out.find("Usage: clapsearch "), std::string::npos) << out;
  EXPECT_EQ(out.find(test::cli_path()), std::string::npos) << "the binary's path is shown:\n" << out;
  const size_t everyday = out.find("Everyday commands:"), upkeep = out.find("Library upkeep:"),
               models = out.find("Models and training:"), bench = out.find("Benchmarks and diagnostics:");
  ASSERT_NE(everyday, std::string::npos) << out;
  ASSERT_NE(upkeep, std::string::npos) << out;
  ASSERT_NE(models, std::string::npos) << out;
  ASSERT_NE(bench, std::string::npos) << out;
  EXPECT_LT(everyday, upkeep);
  EXPECT_LT(upkeep, models);
  EXPECT_LT(models, bench);
  // Each everyday command is listed under its heading, before the next heading.
  size_t previous = everyday;
  for (const char* c : {"index", "search", "like", "similar", "playlist", "path", "duplicates", "serve", "status"}) {
    const size_t at = out.find(std::string("\n  ") + c + " ", everyday);
    ASSERT_NE(at, std::string::npos) << c << "\n" << out;
    EXPECT_GT(at, previous) << c << " out of order";
    EXPECT_LT(at, upkeep) << c << " is not among the everyday commands";
    previous = at;
  }
  EXPECT_GT(out.find("\n  bench "), bench) << out;
  EXPECT_GT(out.find("\n  migrate "), upkeep) << out;
  EXPECT_EQ(out.find("manpage"), std::string::npos) << "the hidden command is listed";
  // A command's own usage line names the program too.
  ASSERT_EQ(test::run_command(test::cli_command() + " search --help", &out, &err), 0) << err;
  EXPECT_EQ(out.find(test::cli_path()), std::string::npos) << out;
  EXPECT_NE(out.find("clapsearch search"), std::string::npos) << out;
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// Hostile pass 10: `embed --hop`'s help did not say its 0.5 s minimum. Every --hop, --window and
// --chunk says its bounds in its help line.
TEST(UsageHelp, EveryHopWindowAndChunkSaysItsBounds) {
  int seen = 0;
  for (const char* command : {"embed", "index", "like"}) {
    std::string help, err;
    ASSERT_EQ(test::run_command(test::cli_command() + " " + command + " --help", &help, &err), 0) << err;
    std::istringstream in(help);
    std::string line;
    while (std::getline(in, line)) {
      const bool hop = line.find("--hop ") != std::string::npos;
      const bool window = line.find("--window ") != std::string::npos || line.find("--chunk ") != std::string::npos;
      if (line.rfind("  ", 0) != 0 || (!hop && !window)) continue;
      ++seen;
      EXPECT_NE(line.find(hop ? "at least 0.5" : "at least 1"), std::string::npos) << command << " --help:\n" << line;
      EXPECT_NE(line.find("at most"), std::string::npos) << command << " --help:\n" << line;
    }
  }
  EXPECT_EQ(seen, 5);  // embed --hop, index --window --hop, like --chunk --hop
}

// Hostile pass 7 leftover: --help showed CLI11's type name and each check's name side by side:
// `--activate ID:ID`, `--threads INT:INT in [0 - 1024]`, `--high FLOAT:COSINE`, `--aggregate
// TEXT:{mean,max}`, `--diversity X:NUMBER 0..1`. Every option and positional of every command
// and subcommand now shows one placeholder (cli_tree.h value_placeholder).
TEST(UsageHelp, EveryValueShowsOnePlaceholder) {
  // Every command and subcommand --help lists (test::every_command_path, without the top level),
  // their help asked of the CLI once for the suites that walk every command.
  std::vector<std::string> commands = test::every_command_path();
  commands.erase(std::remove(commands.begin(), commands.end(), std::string()), commands.end());
  ASSERT_GT(commands.size(), 35u);
  const std::regex artefact(R"(\b[A-Z]+:([A-Z]+\b|\{))");
  int options = 0;
  for (const std::string& c : commands) {
    const std::string help = test::command_help(c);
    std::istringstream in(help);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("  -", 0) != 0 && !(line.size() > 2 && line.rfind("  ", 0) == 0 && std::islower(static_cast<unsigned char>(line[2]))))
        continue;  // an option's or a positional's line, not a description going on
      ++options;
      EXPECT_FALSE(std::regex_search(line, artefact)) << "clapsearch " << c << " --help:\n" << line;
    }
  }
  EXPECT_GT(options, 300);
  std::string help = test::command_help("models");
  EXPECT_NE(help.find("--activate ID "), std::string::npos) << help;
  help = test::command_help("search");
  for (const char* shown : {"--threads INT in [0 - 1024]=0", "--aggregate {mean,max}=mean", "--high COSINE=0.3", "-k,--top INT (>= 0)=10",
                            "--diversity FLOAT (0..1)"})
    EXPECT_NE(help.find(shown), std::string::npos) << shown << "\n" << help;
}

}  // namespace
}  // namespace clap
