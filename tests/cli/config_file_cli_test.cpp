// The settings file (--config-file / $CLAPSEARCH_CONFIG_FILE): a key in a command's section
// takes effect, an option given on the command line wins, a key no command has is a usage
// error naming the file.
#include <gtest/gtest.h>

#include <fstream>
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

}  // namespace
}  // namespace clap
