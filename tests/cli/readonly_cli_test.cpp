// A valid index that this user cannot write (issue 11, defect 4) still answers every read-only
// command, and an index that cannot be used is named by its real problem (read-only medium,
// permission, a writer active, damaged, not a database) — never "not a clapsearch index" for a
// good one, which a user might delete.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }

struct Library {
  std::string root, db;
};

// Two tracks indexed with the tiny golden model; the text "a tone" is cached by a first search.
Library make_library(const std::string& root) {
  Library l{root, root + "/index/library.db"};
  std::filesystem::create_directories(root + "/index");  // --db makes no folders
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(root + "/lib/b.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  std::string err;
  EXPECT_EQ(test::run_command(test::cli_command() + " index " + q(root + "/lib") + " --db " + q(l.db) + " --model " +
                                  q(test::case_dir("tiny-unfused")) + " -q",
                              nullptr, &err),
            0)
      << err;
  return l;
}

std::string env_prefix(const std::string& root) {
  return "HOME=" + q(root) + " XDG_CACHE_HOME=" + q(root + "/cache") + " HF_HUB_OFFLINE=1 ";
}

TEST(ReadOnlyIndex, OnAReadOnlyMountEveryQueryWorksAndIndexSaysWhy) {
  const std::string root = test::temp_dir();
  const Library l = make_library(root);
  const std::string mnt = root + "/ro";
  fs::create_directories(mnt);
  // A private read-only bind mount of the index folder (a mount namespace of this command only).
  auto in_ro_mount = [&](const std::string& args, std::string* out, std::string* err) {
    const std::string script = "mount --bind " + q(root + "/index") + " " + q(mnt) + " && mount -o remount,bind,ro " + q(mnt) +
                               " && " + env_prefix(root) + test::cli_command() + " " + args;
    return test::run_command("unshare -rm sh -c " + q(script), out, err);
  };
  const std::string db = mnt + "/library.db";
  std::string out, err;
  ASSERT_EQ(in_ro_mount("status --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2);
  ASSERT_EQ(in_ro_mount("search --json --db " + q(db) + " 'a tone' 'words never searched'", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out).size(), 4u);  // two texts, two tracks each
  EXPECT_EQ(in_ro_mount("similar --db " + q(db) + " 1", &out, &err), 0) << err;
  EXPECT_EQ(in_ro_mount("map --db " + q(db) + " --out " + q(root + "/map.svg"), &out, &err), 0) << err;  // texts not cached
  EXPECT_TRUE(fs::exists(root + "/map.svg"));
  EXPECT_EQ(in_ro_mount("index " + q(root + "/lib") + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("ead-only file system"), std::string::npos) << err;
  EXPECT_EQ(err.find("not a clapsearch index"), std::string::npos) << err;

  // A writer's unsaved changes (a non-empty -wal) cannot be read without the -shm file this
  // mount cannot hold: said so, not guessed around.
  std::ofstream(root + "/index/library.db-wal", std::ios::binary) << std::string(4096, '\0');
  EXPECT_EQ(in_ro_mount("status --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("being written by another process"), std::string::npos) << err;
  EXPECT_NE(err.find("ead-only file system"), std::string::npos) << err;
  fs::remove(root + "/index/library.db-wal");
}

TEST(ReadOnlyIndex, AnotherUsersIndexIsReadableAndNamedWhenNot) {
  const std::string root = test::temp_dir();
  const Library l = make_library(root);
  // Another user: root drops to `nobody` (root itself may write anywhere); anyone else is already
  // a user without write permission once the folder is read-only.
  const std::string as_other = ::geteuid() == 0 ? "setpriv --reuid=nobody --regid=nogroup --clear-groups " : "";
  for (fs::path p = root; p != p.root_path(); p = p.parent_path())
    fs::permissions(p, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  fs::permissions(root + "/index", fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                  fs::perm_options::remove);
  fs::permissions(l.db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, fs::perm_options::replace);
  const std::string home = root + "/other-home";
  fs::create_directories(home);
  fs::permissions(home, fs::perms::all, fs::perm_options::add);
  auto other = [&](const std::string& args, std::string* out, std::string* err) {
    return test::run_command(as_other + "env HOME=" + q(home) + " XDG_CACHE_HOME=" + q(home + "/cache") + " HF_HUB_OFFLINE=1 " +
                                 test::cli_command() + " " + args,
                             out, err);
  };
  std::string out, err;
  ASSERT_EQ(other("status --json --db " + q(l.db), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2);
  ASSERT_EQ(other("search --json --db " + q(l.db) + " 'a tone'", &out, &err), 0) << err;
  EXPECT_EQ(other("index " + q(root + "/lib") + " --db " + q(l.db), &out, &err), 1);
  EXPECT_NE(err.find("this user may not write " + l.db), std::string::npos) << err;
  // Not readable at all: the permission, not "not an index".
  fs::permissions(l.db, fs::perms::owner_read, fs::perm_options::replace);
  EXPECT_EQ(other("status --db " + q(l.db), &out, &err), 1);
  EXPECT_NE(err.find("may not read"), std::string::npos) << err;
  fs::permissions(root + "/index", fs::perms::owner_all, fs::perm_options::add);
}

TEST(ReadOnlyIndex, DamagedAndForeignFilesAreNamed) {
  const std::string root = test::temp_dir();
  const Library l = make_library(root);
  std::string out, err;
  // Not an SQLite file at all.
  std::ofstream(root + "/notes.db") << "shopping list\n";
  EXPECT_EQ(test::run_command(test::cli_command() + " status --db " + q(root + "/notes.db"), &out, &err), 1);
  EXPECT_NE(err.find("not an SQLite database"), std::string::npos) << err;
  // An index whose pages were overwritten: "damaged", with the way out.
  std::string bytes;
  {
    std::ifstream in(l.db, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t i = 4096 + 8; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(0xA5);
  std::ofstream(l.db, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_NE(test::run_command(test::cli_command() + " status --db " + q(l.db), &out, &err), 0);
  EXPECT_NE(err.find("damaged"), std::string::npos) << err;
  EXPECT_NE(err.find("--rebuild"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap
