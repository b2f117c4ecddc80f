// The settings file (--config-file / $CLAPSEARCH_CONFIG_FILE): a key in a command's section
// takes effect, an option given on the command line wins, a key no command has is a usage
// error naming the file.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "support/golden.h"

namespace clap {
namespace {

std::string cli() { return test::cli_command(); }

std::string settings(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigFile, AKeyTakesEffectAndTheCommandLineWins) {
  const std::string file = settings("search.toml", "[search]\ndb = \"/nonexistent/from-file.db\"\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --config-file " + test::quoted(file), &out, &err), 1);
  EXPECT_NE(err.find("from-file.db"), std::string::npos) << err;
  // Before the command name as well.
  EXPECT_EQ(test::run_command(cli() + " --config-file " + test::quoted(file) + " search x", &out, &err), 1);
  EXPECT_NE(err.find("from-file.db"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(cli() + " search x --db /nonexistent/from-flag.db --config-file " + test::quoted(file), &out, &err), 1);
  EXPECT_NE(err.find("from-flag.db"), std::string::npos) << err;
  EXPECT_EQ(err.find("from-file.db"), std::string::npos) << err;
  // Through the environment, as the systemd units give it.
  EXPECT_EQ(test::run_command("CLAPSEARCH_CONFIG_FILE=" + test::quoted(file) + " " + cli() + " search x", &out, &err), 1);
  EXPECT_NE(err.find("from-file.db"), std::string::npos) << err;
}

TEST(ConfigFile, IndexReadsItsFoldersAndSettingsFromTheFile) {
  const std::string dir = test::temp_dir() + "/config-index";
  test::ffmpeg(dir + "/music/a.wav", "-f lavfi -i \"sine=f=440:d=12\"");
  const std::string file = settings("index.toml", "[index]\ndirs = [\"" + dir + "/music\"]\ndb = \"" + dir + "/library.db\"\nmodel = \"" +
                                                      test::case_dir("tiny-unfused") + "\"\nhop = 4.0\njson = true\n");
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --config-file " + test::quoted(file), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], 1) << out;
  ASSERT_EQ(test::run_command(cli() + " status --json --db " + test::quoted(dir + "/library.db"), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["model"]["hop_s"], 4.0) << out;  // the file's hop, not the default 5
}

TEST(ConfigFile, AnUnknownKeyOrAMissingFileIsAUsageErrorNamingTheFile) {
  const std::string file = settings("typo.toml", "[serve]\nprot = 8000\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " serve --config-file " + test::quoted(file), &out, &err), 2);
  EXPECT_NE(err.find(file), std::string::npos) << err;
  EXPECT_NE(err.find("'prot'"), std::string::npos) << err;
  EXPECT_NE(err.find("[serve]"), std::string::npos) << err;
  const std::string section = settings("section.toml", "[frobnicate]\nport = 8000\n");
  EXPECT_EQ(test::run_command(cli() + " status --config-file " + test::quoted(section), &out, &err), 2);
  EXPECT_NE(err.find(section), std::string::npos) << err;
  EXPECT_EQ(test::run_command("CLAPSEARCH_CONFIG_FILE=/nonexistent/clapsearch.toml " + cli() + " status", &out, &err), 2);
  EXPECT_NE(err.find("/nonexistent/clapsearch.toml"), std::string::npos) << err;
}

// Issue 53, L10: every mistake in the file is named with the file, the line and the key - not
// as if the value had been typed on the command line, not silently ignored.
TEST(ConfigFile, MistakesAreNamedWithTheFileTheLineAndTheKey) {
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"[search]\ntop = \"three\"\n", "line 2: [search] top = \"three\": three is not a number"},
      {"[search]\ntop = 1.5\n", "line 2: [search] top = 1.5: "},
      {"[search]\ntop = 3\ntop = 4\n", "line 3: [search] top is set a second time in [search] (first at line 2)"},
      {"[search]\ntop = 3\n[status]\njson = true\n[search]\ndb = \"x.db\"\n", "line 5: a second [search] section (the first is at line 1)"},
      {"[bogus]\ntop = 3\n", "unknown section [bogus]"},
      {"[search]\nwhere = { a = 1 }\n", "line 2: [search] where: an inline table ({ ... }) is not a setting value"},
      // Hostile pass 12, H12C-5: a list for a one-value key gave CLI11's "At Most 1 required but received 2".
      {"[search]\ntop = [1, 2]\n", "line 2: [search] top = [1, 2]: takes one value, 2 were given"},
      // R12C-2: an underscore out of place in a TOML number, and an empty value, named as such.
      {"[search]\ntop = 1__0\n", "line 2: [search] top: 1__0 is not a TOML number (an underscore stands between two digits)"},
      {"[search]\ntop = \"\"\n", "line 2: [search] top = \"\": \"\" is not a number"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string file = settings("mistake" + std::to_string(i) + ".toml", cases[i].text);
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " search x --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 2)
        << cases[i].text << err;
    EXPECT_NE(err.find("error: " + file + ": " + cases[i].expected), std::string::npos) << cases[i].text << err;
    EXPECT_EQ(err.find("'++'"), std::string::npos) << err;
  }
  // A value typed on the command line is still named as typed.
  const std::string ok = settings("fine.toml", "[search]\ndb = \"/nonexistent/x.db\"\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --top three --config-file " + test::quoted(ok), &out, &err), 2);
  EXPECT_NE(err.find("error: --top: three is not a number"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(cli() + " search x -k 1 -k 2 --config-file " + test::quoted(ok), &out, &err), 2);
  EXPECT_NE(err.find("error: --top: takes one value, 2 were given"), std::string::npos) << err;
}

// A value the file gave that the command refuses only as it runs (the --where language, index's
// --hop bound, a seed's weight: each where its check runs) is named with the file, the line and the key too: it was
// "--where: unknown field ...", as if typed, naming neither (hostile pass 22). Typed, it is still
// named as typed.
TEST(ConfigFile, AValueRefusedAsTheCommandRunsIsNamedWithTheFile) {
  struct Case {
    std::string command, text, expected;
  };
  const std::vector<Case> cases = {
      {"search x", "[search]\nwhere = \"yaer > 1\"\n", "line 2: [search] where = \"yaer > 1\": unknown field \"yaer\""},
      {"search x", "[search]\nwhere = \"" + std::string(5000, 'a') + "\"\n", "line 2: [search] where = \"aaaa"},
      {"search x", "[search]\ntop = 3\nwhere = \"year = \\\"1990\\\"\"\n", "line 3: [search] where = \"year = \\\"1990\\\"\": "},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string file = settings("late" + std::to_string(i) + ".toml", cases[i].text);
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " " + cases[i].command + " --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 2)
        << cases[i].text << err;
    EXPECT_NE(err.find("error: " + file + ": " + cases[i].expected), std::string::npos) << cases[i].text << err;
  }
  const std::string ok = settings("late-ok.toml", "[search]\ntop = 3\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --where 'yaer > 1' --db /nonexistent/x.db --config-file " + test::quoted(ok), &out, &err), 2);
  EXPECT_NE(err.find("error: --where: unknown field \"yaer\""), std::string::npos) << err;
}

// Hostile pass 19, H19C-1: a switch in the file takes the words the command line's `--json=`
// takes (H18C-1). CLI11 read `json = 5`, `json = ""`, `json = 2`, `json = 1.5` and `json = "5"`
// as on and `json = -1` as off, with no word (main's binary: status printed JSON, exit 0), and a
// list was "status.json: too many inputs for a flag", naming neither the file nor the line.
// Fails before: each bad case exits 0 (or 2 without the file's name for the list).
TEST(ConfigFile, ASwitchTakesOnlyOnOrOffWordsAsOnTheCommandLine) {
  const std::vector<std::string> refused = {"5", "\"\"", "-1", "2", "1.5", "\"5\"", "\"maybe\"", "[1, 2]", "[true]"};
  for (size_t i = 0; i < refused.size(); ++i) {
    const std::string file = settings("switch" + std::to_string(i) + ".toml", "[search]\ntop = 3\n[status]\njson = " + refused[i] + "\n");
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " status --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 2)
        << refused[i] << err;
    EXPECT_NE(err.find("error: " + file + ": line 4: [status] json = " + refused[i] +
                       ": --json is a switch: write json = true or json = false"),
              std::string::npos)
        << refused[i] << err;
  }
  // The on/off words, bare or quoted, are taken: the command runs (and finds no index).
  for (const std::string& taken : std::vector<std::string>{"true", "false", "1", "0", "\"yes\"", "\"no\"", "\"On\"", "\"off\""}) {
    const std::string file = settings("switch-ok.toml", "[status]\njson = " + taken + "\n");
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " status --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 1)
        << taken << err;
    EXPECT_NE(err.find("no index here"), std::string::npos) << taken << err;
  }
}

// Hostile pass 13, H13C-2: what a settings file's mistake echoes is bounded (its first 200 bytes
// and its size), as every other echo of outside input: a value, a key, the text after a value, a
// line, a section or a db path of 300,000 bytes was printed whole (the file may hold 1 MB), a
// value twice. Fails before: each message over 300,000 bytes.
TEST(ConfigFile, AMistakeOfAnyLengthIsEchoedInPart) {
  const std::string big(300000, 'z');
  const std::vector<std::string> texts = {
      "[search]\ntop = 1__" + std::string(300000, '0') + "\n",  // the underscore check
      "[search]\ntop = " + std::string(300000, '1') + "\n",     // the option's own check
      "[search]\n" + big + " = 1\n",                             // an unknown key
      "[search]\n\"" + big + "!\" = 1\n",                        // a quoted key that names no option
      "[search]\ntop = 5 " + big + "\n",                         // text after the value
      "[search]\n=" + big + "\n",                                // a line that is not a setting
      "[[search" + big + "]]\n",                                  // an array of tables
      "[" + big + "]\ntop = 1\n",                                // a section
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string file = settings("long" + std::to_string(i) + ".toml", texts[i]);
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " search x --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 2) << i;
    EXPECT_LT(err.size(), 2000u) << i << ": " << err.substr(0, 300);
    EXPECT_NE(err.find("... (300"), std::string::npos) << i << ": " << err.substr(0, 300);
  }
  // A db path from the file: longer than any path, named so, in part.
  const std::string file = settings("longdb.toml", "[search]\ndb = \"" + big + "\"\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --config-file " + test::quoted(file), &out, &err), 1);
  EXPECT_LT(err.size(), 2000u) << err.substr(0, 300);
  EXPECT_NE(err.find("not an index: a path longer than any the system opens"), std::string::npos) << err.substr(0, 300);
}

// R12C-2: TOML's underscores between digits (1_0 is 10) are read as TOML says; "1_0 is not a
// finite number" before.
TEST(ConfigFile, ANumberWithUnderscoresIsReadAsTomlSays) {
  const std::string file = settings("underscores.toml", "[search]\ntop = 1_0\ndb = \"/nonexistent/underscores.db\"\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --config-file " + test::quoted(file), &out, &err), 1) << err;
  EXPECT_NE(err.find("underscores.db"), std::string::npos) << err;
  EXPECT_EQ(err.find("not a finite number"), std::string::npos) << err;
}

// A UTF-8 byte order mark, as some editors write, is skipped, not taken for part of the first line.
TEST(ConfigFile, AByteOrderMarkIsSkipped) {
  const std::string file = settings("bom.toml", "\xEF\xBB\xBF[search]\ndb = \"/nonexistent/from-bom.db\"\n");
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " search x --config-file " + test::quoted(file), &out, &err), 1);
  EXPECT_NE(err.find("from-bom.db"), std::string::npos) << err;
}

// Hostile pass 7 leftover: CLI11's TOML reader read `db = """...` as an unknown key `b"""`,
// cut a string at a '#' inside it ("...#1.db" became "..."), and kept escapes as typed (\u00e9
// stayed six characters). The file is now read by our own reader (cli/settings_toml.h):
// multi-line strings, escapes and quoted '#' are read as TOML says; what settings do not take
// (dotted keys, tables, bad escapes) is refused naming the line.
TEST(ConfigFile, StringsAreReadAsTomlSaysAndTheRestIsRefusedByLine) {
  struct Read {
    std::string value, db;
  };
  const std::vector<Read> reads = {
      {"\"\"\"\n/nonexistent/from-\\\n     multi.db\"\"\"", "/nonexistent/from-multi.db"},
      {"'''/nonexistent/lit\\eral.db'''", "/nonexistent/lit\\eral.db"},
      {"\"/nonexistent/caf\\u00e9 #1.db\"  # a comment", "/nonexistent/caf\xC3\xA9 #1.db"},
      {"'/nonexistent/quote\"d.db'", "/nonexistent/quote\"d.db"},
  };
  for (size_t i = 0; i < reads.size(); ++i) {
    const std::string file = settings("read" + std::to_string(i) + ".toml", "# settings\n[search]\ndb = " + reads[i].value + "\n");
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " search x --config-file " + test::quoted(file), &out, &err), 1) << reads[i].value << err;
    EXPECT_NE(err.find(reads[i].db + ": no index here"), std::string::npos) << reads[i].value << "\n" << err;
  }
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> refused = {
      {"search.top = 3\n", "line 1: search.…: a dotted key is not a setting"},
      {"[search]\n\n[search.x]\ntop = 3\n", "line 3: [search.…]: a section is one command's name"},
      {"[[search]]\ntop = 3\n", "line 1: [[search]]: arrays of tables are not settings"},
      {"[search]\ndb = \"C:\\q.db\"\n", "line 2: [search] db: a bad escape \\q in a \"...\" string"},
      {"[search]\ndb = \"x.db\n", "line 2: [search] db: the string \" is not closed on its line"},
      {"[search]\ndb = \"\"\"x.db\n\n", "line 2: [search] db: the multi-line string \"\"\" is not closed"},
      {"[search]\ntop = 3 4\n", "line 2: [search] top: text after the value: 4"},
      {"[search]\ndb = [\"a\", [\"b\"]]\n", "line 2: [search] db: a list of lists is not a setting value"},
      {"[search]\ntop = []\n", "line 2: [search] top: an empty list [] sets nothing"},
      {"[search]\ndb = \"\\ud800\"\n", "line 2: [search] db: \\u names no character a setting can hold"},
      {"[search]\ndb = \"\"\"a\n\"\"\"\ntop = 3\ntop = 4\n", "line 5: [search] top is set a second time in [search] (first at line 4)"},
      // Hostile pass 9 (H9C-1): a NUL inside a string cut the value where the option read it
      // (db = "lib.db<NUL>junk" searched lib.db); a lone CR was "text after the value: " (empty).
      {"[search]\ndb = \"/nonexistent/x.db" + std::string(1, '\0') + "junk\"\n", "line 2: a control character (U+0000) in the file"},
      {"[search]\nwhere = \"\"\"\ngenre = 'x'\x01\"\"\"\n", "line 3: a control character (U+0001) in the file"},
      {"[search]\ntop = 3\r", "line 2: a control character (U+000D) in the file"},
      // H9C-2: keys that name no option were dropped in silence ("" and CLI11's section marks
      // "--" and "++") or misnamed ("a.b" as a key b of a section [search.a]).
      {"[search]\n\"\" = 3\n", "line 2: \"\" is not a setting's name"},
      {"[search]\n\"++\" = 3\n", "line 2: \"++\" is not a setting's name"},
      {"[search]\n\"a.b\" = 3\n", "line 2: \"a.b\" is not a setting's name"},
      {"[search]\n-- = 3\n", "line 2: '--' is not a setting's name"},
      {"[search]\n\"--\" = 3\n", "line 2: '--' is not a setting's name"},
  };
  for (size_t i = 0; i < refused.size(); ++i) {
    const std::string file = settings("refused" + std::to_string(i) + ".toml", refused[i].text);
    std::string out, err;
    EXPECT_EQ(test::run_command(cli() + " search x --db /nonexistent/x.db --config-file " + test::quoted(file), &out, &err), 2)
        << refused[i].text << err;
    EXPECT_NE(err.find("error: " + file + ": " + refused[i].expected), std::string::npos) << refused[i].text << err;
  }
}

}  // namespace
}  // namespace clap
