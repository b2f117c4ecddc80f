// Issue 53: files the program reads or makes on its own account, as real processes.
//
// M6: a FIFO at the model-hash cache (~/.cache/clapsearch/file-sha256.tsv) blocked `index`,
// `search`, `like` and every new-text query of `serve` in open(2) - and the server's shutdown
// with it. Every command now finishes (each runs under `timeout`: a hang is status 124).
// L4: lists the user names (--seeds-from) are bounded like --queries; the settings file must be
// a regular file (a FIFO there blocked, /dev/zero grew without end); a folder is said to be one.
// L17: `--db /typo/dir/x.db` made the missing folders; now refused naming the folder (and the
// same for `migrate --to` and output files), while the standard location is still made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }
std::string model_dir() { return test::case_dir("tiny-unfused"); }

// `clapsearch ARGS` with its own cache folder, ended by `timeout` after 60 s (status 124).
int cli_in(const std::string& cache, const std::string& args, std::string* out, std::string* err) {
  return test::run_cli(args, out, err, "XDG_CACHE_HOME=" + q(cache) + " timeout -k 5 60");
}

// The exit status of child `pid` within `seconds`; -1 when it is still running then (it is
// killed: a server whose shutdown hangs fails the test instead of hanging it).
int exit_within(int pid, int seconds) {
  int status = 0;
  if (test::wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, seconds))
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::kill(pid, SIGKILL);
  test::wait_exit(pid);
  return -1;
}

// Two tones indexed into DIR/library.db with the tiny model.
std::string make_library(const std::string& dir) {
  test::ffmpeg(dir + "/music/a.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/music/b.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  return dir + "/library.db";
}

TEST(DerivedFiles, AFifoAtTheModelHashCacheBlocksNoCommand) {
  const std::string dir = test::temp_dir() + "/hash-cache-fifo", cache = dir + "/cache";
  const std::string db = make_library(dir);
  fs::create_directories(cache + "/clapsearch");
  ASSERT_EQ(::mkfifo((cache + "/clapsearch/file-sha256.tsv").c_str(), 0600), 0);
  std::string out, err;
  ASSERT_EQ(cli_in(cache, "index " + q(dir + "/music") + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0)
      << err;
  EXPECT_EQ(cli_in(cache, "search 'a new text' --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out).size(), 2u) << out;
  EXPECT_EQ(cli_in(cache, "like " + q(dir + "/music/a.wav") + " --db " + q(db) + " --json", &out, &err), 0) << err;

  // serve: a new text is embedded (the model's files hashed) and answered, and SIGTERM ends it.
  ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
  const test::Child s = test::start_cli({"serve", "--db", db, "--port", "0"});
  const int port = test::served_port(s);
  if (port == 0) exit_within(s.pid, 0);
  ASSERT_NE(port, 0) << test::read_file(s.err_path);
  EXPECT_EQ(test::run_command("curl -s -m 30 -o /dev/null -w '%{http_code}' 'http://127.0.0.1:" + std::to_string(port) +
                                  "/api/search?q=zzz1'",
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(out, "200");
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(exit_within(s.pid, 60), 0) << test::read_file(s.err_path);
  // The FIFO is still there (nothing wrote through it) or was replaced by a regular file.
  struct stat st {};
  ASSERT_EQ(::lstat((cache + "/clapsearch/file-sha256.tsv").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode));
}

// Hostile pass 14, H14C-7: a symbolic link at the name of a file the program makes (the window
// index beside the database, the model-hash cache) was followed, and the file it named replaced:
// through a link to /dev/zero, the window index replaced the device, system-wide. The link
// itself is replaced; the file it names is left as it was.
TEST(DerivedFiles, ALinkAtADerivedFileIsReplacedNotFollowed) {
  const std::string dir = test::temp_dir() + "/derived-link", cache = dir + "/cache";
  fs::remove_all(dir);
  const std::string db = make_library(dir);
  std::string out, err;
  ASSERT_EQ(cli_in(cache, "index " + q(dir + "/music") + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0)
      << err;
  const std::vector<std::string> links = {db + ".windows.faiss", cache + "/clapsearch/file-sha256.tsv"};
  for (size_t i = 0; i < links.size(); ++i) {
    fs::remove(links[i]);
    std::ofstream(dir + "/precious" + std::to_string(i)) << "a file of the user's\n";
    fs::create_symlink(dir + "/precious" + std::to_string(i), links[i]);
  }
  EXPECT_EQ(cli_in(cache, "like " + q(dir + "/music/a.wav") + " --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(cli_in(cache, "search 'another new text' --db " + q(db) + " --json", &out, &err), 0) << err;
  for (size_t i = 0; i < links.size(); ++i) {
    EXPECT_EQ(test::read_file(dir + "/precious" + std::to_string(i)), "a file of the user's\n") << links[i];
    EXPECT_FALSE(fs::is_symlink(links[i])) << links[i] << ": replaced by the file made";
  }
  // Hostile pass 15, H15C-3: a loop of links at the window index's name failed the query with
  // "filesystem error: status: Too many levels of symbolic links"; the index is built and replaces it.
  fs::remove(links[0]);
  fs::create_symlink(links[0] + ".b", links[0]);
  fs::create_symlink(links[0], links[0] + ".b");
  EXPECT_EQ(cli_in(cache, "like " + q(dir + "/music/a.wav") + " --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_FALSE(fs::is_symlink(links[0])) << err;
}

// Hostile pass 15, H15C-1: the indexer's lock "<db>.lock" was opened through a symbolic link at
// its name (O_CREAT without O_NOFOLLOW): `index` made an empty file wherever the link pointed, as
// the user running it. A link or a FIFO there is refused by name; nothing is made through it.
TEST(DerivedFiles, ALinkOrAFifoAtTheIndexersLockIsRefusedAndNothingIsMadeThroughIt) {
  const std::string dir = test::temp_dir() + "/lock-link", cache = dir + "/cache";
  fs::remove_all(dir);
  const std::string db = make_library(dir), lock = db + ".lock", index = "index " + q(dir + "/music") + " --db " + q(db);
  std::string out, err;
  ASSERT_EQ(cli_in(cache, index + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  fs::remove(lock);
  fs::create_symlink(dir + "/made-through-the-link", lock);
  EXPECT_EQ(cli_in(cache, index + " -q", &out, &err), 1) << err;
  EXPECT_NE(err.find(lock + ": the indexer's lock file is a symbolic link"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/made-through-the-link")) << "a file was made where the link pointed";
  fs::remove(lock);
  ASSERT_EQ(::mkfifo(lock.c_str(), 0600), 0);
  EXPECT_EQ(cli_in(cache, index + " -q", &out, &err), 1) << err;
  EXPECT_NE(err.find(lock + ": the indexer's lock file is not a regular file"), std::string::npos) << err;
  fs::remove(lock);
  EXPECT_EQ(cli_in(cache, index + " -q", &out, &err), 0) << err;  // the file made again
}

TEST(DerivedFiles, SeedListsAndSettingsFilesAreBoundedAndMustBeFiles) {
  const std::string dir = test::temp_dir() + "/bounded", cache = dir + "/cache";
  const std::string db = make_library(dir);
  std::string out, err;
  ASSERT_EQ(cli_in(cache, "index " + q(dir + "/music") + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0)
      << err;
  for (const std::string command : {"similar", "like"}) {
    EXPECT_EQ(cli_in(cache, command + " --seeds-from /dev/zero --db " + q(db), &out, &err), 1) << command;
    EXPECT_NE(err.find("/dev/zero: not text (a NUL byte at byte 0) (seed list)"), std::string::npos) << command << ": " << err;
    EXPECT_NE(cli_in(cache, command + " --seeds-from " + q(dir) + " --db " + q(db), &out, &err), 0) << command;
    EXPECT_NE(err.find(dir + ": is a folder (seed list)"), std::string::npos) << command << ": " << err;
  }
  ASSERT_EQ(::mkfifo((dir + "/settings.toml").c_str(), 0600), 0);
  for (const std::string& file : {std::string("/dev/zero"), dir + "/settings.toml"}) {
    EXPECT_EQ(cli_in(cache, "status --db " + q(db) + " --config-file " + q(file), &out, &err), 2) << file;
    EXPECT_NE(err.find(file + ": not a regular file"), std::string::npos) << err;
    EXPECT_EQ(test::run_cli("status --db " + q(db), &out, &err, "CLAPSEARCH_CONFIG_FILE=" + q(file) + " timeout -k 5 60"), 2);
    EXPECT_NE(err.find(file + ": not a regular file"), std::string::npos) << err;
  }
  EXPECT_EQ(cli_in(cache, "status --db " + q(db) + " --config-file " + q(dir), &out, &err), 2);
  EXPECT_NE(err.find(dir + ": is a folder (settings file)"), std::string::npos) << err;
}

TEST(DerivedFiles, NoFolderIsMadeForANamedIndexOrOutput) {
  const std::string dir = test::temp_dir() + "/no-folders";
  const std::string db = make_library(dir);
  std::string out, err;
  const std::string typo = dir + "/typo/sub/x.db";
  EXPECT_EQ(test::run_cli("index " + q(dir + "/music") + " --db " + q(typo) + " --model " + q(model_dir()), &out, &err), 1);
  EXPECT_NE(err.find("the folder " + dir + "/typo/sub does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/typo"));
  ASSERT_EQ(test::run_cli("index " + q(dir + "/music") + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0)
      << err;
  EXPECT_EQ(test::run_cli("migrate --from " + q(db) + " --to " + q(typo), &out, &err), 1);
  EXPECT_NE(err.find("the folder " + dir + "/typo/sub does not exist"), std::string::npos) << err;
  EXPECT_NE(test::run_cli("playlist --seed 1 --db " + q(db) + " --m3u " + q(dir + "/typo/list.m3u"), &out, &err), 0);
  EXPECT_NE(err.find("the folder " + dir + "/typo does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/typo"));
  const std::string pt = model_dir() + "/laion.pt", hints = " --config " + q(model_dir()) + " --tokenizer " + q(model_dir());
  EXPECT_NE(test::run_cli("convert " + q(pt) + " " + q(dir + "/typo/out") + hints, &out, &err), 0);
  EXPECT_NE(err.find("the folder " + dir + "/typo does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/typo"));
  // Rough edge 6: a symbolic link to a folder as the output is refused up front, saying so
  // (it was "cannot move the conversion into place: Not a directory" at the end).
  fs::create_directories(dir + "/real");
  std::ofstream(dir + "/real/notes.txt") << "kept";
  fs::create_directory_symlink(dir + "/real", dir + "/link");
  EXPECT_NE(test::run_cli("convert " + q(pt) + " " + q(dir + "/link") + hints + " --force", &out, &err), 0);
  EXPECT_NE(err.find(dir + "/link: is a symbolic link to the folder " + dir + "/real"), std::string::npos) << err;
  EXPECT_EQ(test::read_file(dir + "/real/notes.txt"), "kept");
  // The standard location ($XDG_DATA_HOME/clapsearch/library.db) is made, folders and all.
  EXPECT_EQ(test::run_cli("index " + q(dir + "/music") + " --model " + q(model_dir()) + " -q", &out, &err,
                          "XDG_DATA_HOME=" + q(dir + "/data")),
            0)
      << err;
  EXPECT_TRUE(fs::exists(dir + "/data/clapsearch/library.db"));
}

}  // namespace
}  // namespace clap
