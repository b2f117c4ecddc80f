// Usage errors and refused inputs named as the user typed them, through the real binary (hostile
// pass 5): an option followed by another option instead of its value (H5-10), number checks that
// name the option with its dashes in one form (H5-11), and an audio header beyond any real audio
// (R7). None of these needs an index: they are refused before one is opened.
#include <gtest/gtest.h>

#include <filesystem>
#include <utility>
#include <vector>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/golden.h"

namespace clap {
namespace {

std::string q(const std::string& s) { return test::quoted(s); }

// A usage error in our words: a command line, what the error says, and none of CLI11's own words.
struct Said {
  std::string args, said;
};
void expect_usage_errors(const std::vector<Said>& cases) {
  for (const Said& c : cases) {
    std::string out, err;
    EXPECT_EQ(test::run_cli(c.args, &out, &err), 2) << c.args << "\n" << err;
    EXPECT_NE(err.find("clapsearch: error: " + c.said), std::string::npos) << c.args << "\n" << err;
    for (const char* cli11 : {"not expected", "Could not convert"})
      EXPECT_EQ(err.find(cli11), std::string::npos) << c.args << "\n" << err;
  }
}

// H5-10: CLI11 gave `--history` the next word, "--db", as its value, and the error named the
// word after as an unknown command. Now the option is named, in every command.
TEST(OptionErrorsCli, AnOptionFollowedByAnotherOptionIsNamed) {
  struct Case {
    std::string args, missing, next;
  };
  const std::string db = q(test::temp_dir() + "/none.db");
  const Case cases[] = {
      {"eval --history --db " + db, "--history", "--db"},
      {"eval --user --holdout-days 7", "--user", "--holdout-days"},
      {"history --user --json", "--user", "--json"},
      {"history import FILE --format --json", "--format", "--json"},
      {"mix --half-life --user ann", "--half-life", "--user"},
      {"search --db --json quiet piano", "--db", "--json"},
      {"user add --db --admin ann", "--db", "--admin"},
  };
  for (const Case& c : cases) {
    std::string out, err;
    EXPECT_EQ(test::run_cli(c.args, &out, &err), 2) << c.args << "\n" << err;
    EXPECT_NE(err.find(c.missing + " needs a value, and '" + c.next + "' after it is an option"), std::string::npos)
        << c.args << "\n" << err;
    EXPECT_EQ(err.find("unknown command"), std::string::npos) << c.args << "\n" << err;
  }
  // A value that starts with '-' on purpose, written --option=VALUE, is still a value.
  std::string out, err;
  EXPECT_EQ(test::run_cli("eval --history=--db --holdout-days 7 --db " + db, &out, &err), 1) << err;  // no index there
  EXPECT_EQ(err.find("needs a value"), std::string::npos) << err;
}

// R13P-1 (hostile pass 13): an option no command on the way knows, or a word a command has no
// place for, was CLI11's "The following arguments were not expected: x --password". Now the
// option is named with its command, the nearest known option when one is near, and --help.
TEST(OptionErrorsCli, AnUnknownOptionIsNamedWithItsCommandAndTheNearestKnownOne) {
  expect_usage_errors({
      {"radio --password x", "unknown option '--password' for clapsearch radio (did you mean --password-file?); "
                             "`clapsearch radio --help` lists what it takes"},
      {"search --tpo 3 quiet piano", "unknown option '--tpo' for clapsearch search (did you mean --top?)"},
      {"user add --pasword-file f bob", "unknown option '--pasword-file' for clapsearch user add (did you mean --password-file?)"},
      {"status -z", "unknown option '-z' for clapsearch status; `clapsearch status --help` lists what it takes"},
      {"status --frobnicate", "unknown option '--frobnicate' for clapsearch status; `clapsearch status --help`"},
      {"status extra", "unexpected word 'extra' for clapsearch status (it takes options only)"},
      {"history import a.csv b.csv", "unexpected word 'b.csv' for clapsearch history import (it takes 1 at most"},
  });
  // Every command and subcommand names an unknown option so.
  for (const char* command :
       {"index", "search", "like", "similar", "playlist", "path", "radio", "taste", "mix", "duplicates", "serve", "status",
        "overlaps", "analyze", "classify", "map", "matrix", "migrate", "models", "user add", "user list", "user passwd",
        "history", "history import", "worker", "completion", "embed", "convert", "finetune", "eval", "doctor", "bench"}) {
    std::string out, err;
    EXPECT_EQ(test::run_cli(std::string(command) + " --no-such-option", &out, &err), 2) << command << "\n" << err;
    EXPECT_NE(err.find("unknown option '--no-such-option' for clapsearch " + std::string(command) + "; `clapsearch " +
                       command + " --help` lists what it takes"),
              std::string::npos)
        << command << "\n" << err;
    // Hostile pass 15, R15P-1: the line points at --help itself; "Run with --help for more
    // information." after it said so twice. A usage error that does not point there keeps it
    // (UsageCli.EveryArgumentErrorExitsTwo).
    EXPECT_EQ(err.find("Run with --help"), std::string::npos) << command << "\n" << err;
  }
}

// Hostile pass 15: a switch given a value CLI11 cannot read as on or off (a new user's `radio
// --for-me=ann`, as if it named the user) was CLI11's "Could not convert: --for-me = ann", and
// `-q=x` its "The following argument was not expected: -=x". Now the switch is named as such;
// the values CLI11 reads (=yes, =0) still work.
TEST(OptionErrorsCli, ASwitchGivenAValueIsNamedAsASwitch) {
  expect_usage_errors({
      {"radio --for-me=ann --once", "--for-me is a switch and takes no value ('ann' given): write --for-me alone"},
      {"radio --no-history=ann --once", "--no-history is a switch and takes no value ('ann' given)"},
      {"search quiet --json=full", "--json is a switch and takes no value ('full' given): write --json alone"},
      {"index x -q=x", "-q is a switch and takes no value ('x' given): write -q alone"},
      {"user add --admin=bob bob", "--admin is a switch and takes no value ('bob' given)"},
      // R15C-3 (hostile pass 18): CLI11 read a whole number or nothing as on, so these ran the
      // command with the switch on, without a word.
      {"status --json=5", "--json is a switch and takes no value ('5' given): write --json alone"},
      {"status --json=-1", "--json is a switch and takes no value ('-1' given)"},
      {"status --json=", "--json is a switch and takes no value ('' given)"},
      {"index x -q=2", "-q is a switch and takes no value ('2' given)"},
      {"search quiet --collapse-duplicates=00", "--collapse-duplicates is a switch and takes no value ('00' given)"},
      // A short switch takes no '=' at all: CLI11's "The following argument was not expected: -=yes".
      {"index x -q=yes", "-q is a switch and takes no value ('yes' given): write -q alone"},
      {"search quiet -v=1", "-v is a switch and takes no value ('1' given): write -v alone"},
  });
  // A value of an option that takes one is not a switch's, whatever it looks like.
  {
    std::string out, err;
    EXPECT_EQ(test::run_cli("search --db " + q(test::temp_dir() + "/none.db") + " --top 3 -- --json=5", &out, &err), 1) << err;
    EXPECT_EQ(err.find("switch"), std::string::npos) << err;
  }
  std::string out, err;
  EXPECT_EQ(test::run_cli("status --json=yes --db " + q(test::temp_dir() + "/none.db"), &out, &err), 1) << err;  // no index there
  EXPECT_EQ(err.find("switch"), std::string::npos) << err;
}

// H5-11: `mix --diversity 5` said "diversity: must be a number from 0 (pure relevance) to 1",
// without the dashes, while playlist's said CLI11's "Value 5 not in range [0 - 1]". Every 0..1
// option now says the same, named as typed.
TEST(OptionErrorsCli, NumberChecksNameTheOptionWithItsDashes) {
  struct Case {
    std::string args, says;
  };
  const Case cases[] = {
      {"mix --diversity 5", "--diversity: must be between 0 and 1, got 5"},
      {"mix --discovery 2", "--discovery: must be between 0 and 1, got 2"},
      {"playlist --text piano --diversity 5", "--diversity: must be between 0 and 1, got 5"},
      {"radio --diversity -1", "--diversity: must be between 0 and 1, got -1"},
      {"search quiet --diversity 1.5", "--diversity: must be between 0 and 1, got 1.5"},
      {"similar 1 --diversity 7", "--diversity: must be between 0 and 1, got 7"},
      {"eval --user ann --holdout-days 7 --discovery 3", "--discovery: must be between 0 and 1, got 3"},
      {"taste --half-life 0", "--half-life: must be between 1 and 36500 days, got 0"},
      // Hostile pass 7: a whole number written as a decimal or with an exponent got CLI11's own
      // "Could not convert: --top = 1e3".
      {"search quiet -k 1e3", "--top: 1e3 is not a whole number"},
      {"search quiet -k 3.0", "--top: 3.0 is not a whole number"},
      {"similar 1 --per-artist 2.5", "--per-artist: 2.5 is not a whole number"},
      {"index x --threads 1e1", "--threads: 1e1 is not a whole number"},
      {"index x --threads abc", "--threads: abc is not a whole number"},  // was "Value abc not in range 0 to 1024"
      {"index x --threads 2000", "--threads: Value 2000 not in range 0 to 1024"},
      // Hostile pass 9, H9C-7: an unsigned option took -1 as 2^64-1 in silence, and a number
      // too near 0 for a double (1e-320) was called "not a finite number".
      {"finetune --out o --seed -1", "--seed: -1 is below 0"},
      {"index x --window 1e-320", "--window: 1e-320 is too close to 0"},
  };
  for (const Case& c : cases) {
    std::string out, err;
    EXPECT_EQ(test::run_cli(c.args + " --db " + q(test::temp_dir() + "/none.db"), &out, &err), 2) << c.args << "\n" << err;
    EXPECT_NE(err.find("clapsearch: error: " + c.says), std::string::npos) << c.args << "\n" << err;
  }
}

std::string le(uint32_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xff);
  return s;
}

// R7: a WAV header claiming 1 GHz was decoded (its 96,000 samples became 4 at 48 kHz) while the
// Python module refuses such a rate; a header beyond any real audio is now refused naming the
// file, and the other inputs of the run are still embedded.
TEST(OptionErrorsCli, AnAudioHeaderBeyondAnyRealAudioIsRefusedNamingTheFile) {
  const std::string dir = test::temp_dir();
  const std::string ghz = dir + "/one_ghz.wav";
  {
    const uint32_t bytes = 192000;
    std::ofstream(ghz, std::ios::binary) << "RIFF" + le(36 + bytes, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) +
                                                le(1000000000, 4) + le(2000000000, 4) + le(2, 2) + le(16, 2) + "data" +
                                                le(bytes, 4) + std::string(bytes, '\x10');
  }
  std::string out, err;
  EXPECT_EQ(test::run_cli("embed --model " + q(test::case_dir("tiny-unfused")) + " --audio " + q(ghz) + " --text hello", &out, &err), 2)
      << err;
  const auto lines = test::json_lines(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  ASSERT_TRUE(lines[0].contains("error")) << lines[0];
  const std::string error = lines[0]["error"];
  EXPECT_NE(error.find(ghz + ": sample rate 1000000000 Hz is above 3000000 Hz"), std::string::npos) << error;
  EXPECT_NE(error.find("a damaged header?"), std::string::npos) << error;
  EXPECT_EQ(lines[1]["embedding"].size(), 512u);
}

// Hostile pass 12, H12C-3: a --window whose samples pass int64 (1e20 s at 48 kHz) passed the
// check against the model's input (llround of it was INT64_MIN) and the run failed later on
// "window and hop must be positive" (or, with --rebuild, on "the index is damaged: its window_s
// is 1.0e+20" of its own new file). Refused as any other window longer than the model's input.
TEST(OptionErrorsCli, AWindowPastAnyNumberOfSamplesIsLongerThanTheModelsInput) {
  const std::string dir = test::temp_dir() + "/huge-window";
  std::filesystem::create_directories(dir);
  for (const std::string w : {"1e20", "1e308"}) {
    std::string out, err;
    EXPECT_EQ(test::run_cli("index " + q(dir) + " --db " + q(dir + "/w.db") + " --model " + q(test::case_dir("tiny-unfused")) +
                                " --window " + w,
                            &out, &err),
              2)
        << w << "\n" << err;
    EXPECT_NE(err.find("--window " + std::string(w == "1e20" ? "1e+20" : "1e+308") + " s is longer than the model's input (10 s)"),
              std::string::npos)
        << err;
  }
}

// H8C-2's sibling: `convert MODEL ''` said "filesystem error: cannot make absolute path: Invalid
// argument []" (std::filesystem's own words); an empty destination is now named as such.
TEST(OptionErrorsCli, AnEmptyDestinationIsNamed) {
  std::string out, err;
  EXPECT_EQ(test::run_cli("convert " + q(test::case_dir("tiny-unfused")) + " ''", &out, &err), 2) << err;
  EXPECT_NE(err.find("out_dir is empty"), std::string::npos) << err;
  EXPECT_EQ(err.find("filesystem error"), std::string::npos) << err;
}

// An output named by an empty text was taken as not given (the table printed, no M3U written,
// serve without its token file), in silence (hostile pass 8's rough edge): each is now an error
// naming the option, before anything runs.
TEST(OptionErrorsCli, AnEmptyOutputNameIsAnError) {
  const std::string db = " --db /nonexistent/none.db";
  for (const std::string& command : {"search x --csv ''" + db, "similar 1 --csv ''" + db, "playlist --seed 1 --m3u ''" + db,
                                    std::string("embed --text x -o ''"), "serve --token-file ''" + db}) {
    std::string out, err;
    EXPECT_EQ(test::run_cli(command, &out, &err), 2) << command << ": " << err;
    EXPECT_NE(err.find(": an empty name"), std::string::npos) << command << ": " << err;
    EXPECT_EQ(out, "") << command;
  }
}

// `--csv=` (empty after '='): CLI11 took it as `--csv` without a value and read the next word as
// the name (`search x --csv= --db D` named the table "--db" and searched for D too), and `-o=`
// wrote a file named "=". Every equals-empty form is the usage error `--csv ''` is, naming the
// option; nothing is written.
TEST(OptionErrorsCli, AnEmptyOutputNameAfterEqualsIsAnError) {
  const std::string dir = test::temp_dir() + "/equals-empty";
  std::filesystem::create_directories(dir);
  const std::string db = " --db /nonexistent/none.db";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"search x --csv=" + db, "--csv"},          {"similar 1 --csv=" + db, "--csv"},
      {"playlist --seed 1 --m3u=" + db, "--m3u"}, {"embed --text x -o=", "-o"},
      {"embed --text x --output=", "--output"},   {"serve --token-file=" + db, "--token-file"},
      {"map --out=" + db, "--out"}};
  for (const auto& [command, option] : cases) {
    std::string out, err;
    EXPECT_EQ(test::run_command("cd " + test::quoted(dir) + " && " + test::cli_command() + " " + command, &out, &err), 2)
        << command << ": " << err;
    EXPECT_NE(err.find("error: " + option + ": an empty name"), std::string::npos) << command << ": " << err;
    EXPECT_EQ(out, "") << command;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));  // no file named "=" or "--db"
  // Any other option typed empty after '=' is its empty value, as `--where ''` is.
  std::string out, err, out2, err2;
  EXPECT_EQ(test::run_cli("search x --where=" + db, &out, &err), test::run_cli("search x --where ''" + db, &out2, &err2));
  EXPECT_EQ(err, err2);
}

}  // namespace
}  // namespace clap
