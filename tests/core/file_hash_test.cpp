// The per-file-identity sha256 cache: a hit never re-reads, any change of the file is noticed.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/file_hash.h"
#include "core/sha256.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class FileHashCache : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = test::temp_dir() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-cache";
    ::setenv("XDG_CACHE_HOME", cache_.c_str(), 1);
  }
  std::string cache_;
};

TEST_F(FileHashCache, RemembersAFileAndNoticesEveryChange) {
  const std::string dir = test::temp_dir() + "/files";
  fs::create_directories(dir);
  const std::string f = dir + "/weights.bin";
  write(f, "first version");
  // A file changed less than a second ago is hashed but not remembered (see file_hash.cpp).
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("first version"));
  EXPECT_FALSE(fs::exists(cache_ + "/clapsearch/file-sha256.tsv"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("first version"));
  const std::string table = slurp(cache_ + "/clapsearch/file-sha256.tsv");
  EXPECT_NE(table.find(sha256_hex("first version") + "\t"), std::string::npos) << table;
  std::string entry_tail = "\t";  // appended: GCC 12 warns (-Wrestrict) on "\t" + std::string
  entry_tail += fs::canonical(f).string() + "\n";
  EXPECT_NE(table.find(entry_tail), std::string::npos) << table;

  // A hit is answered from the table: plant a different digest for the same identity and it
  // is what comes back (proof that the file was not read again).
  const std::string planted = std::string(64, 'a');
  std::string edited = table;
  edited.replace(0, 64, planted);
  write(cache_ + "/clapsearch/file-sha256.tsv", edited);
  EXPECT_EQ(cached_sha256_file(f), planted);

  // Rewriting the file in place (same size) changes its times: hashed again.
  write(f, "other version");
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("other version"));
  // Replaced by another file through rename (new inode).
  write(dir + "/new.bin", "third version");
  fs::rename(dir + "/new.bin", f);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("third version"));
  // One entry per file: older states are dropped.
  const std::string now = slurp(cache_ + "/clapsearch/file-sha256.tsv");
  EXPECT_EQ(std::count(now.begin(), now.end(), '\n'), 1) << now;
  // Through a symlink: the same file, the same entry.
  fs::create_symlink(f, dir + "/link.bin");
  EXPECT_EQ(cached_sha256_file(dir + "/link.bin"), sha256_hex("third version"));
  EXPECT_EQ(slurp(cache_ + "/clapsearch/file-sha256.tsv"), now);
}

TEST_F(FileHashCache, AnUnwritableOrDamagedCacheOnlyCostsHashing) {
  const std::string f = test::temp_dir() + "/plain.bin";
  write(f, "payload");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // old enough to be remembered
  fs::create_directories(cache_);
  write(cache_ + "/clapsearch", "a file where the cache folder should be");
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("payload"));
  fs::remove(cache_ + "/clapsearch");
  fs::create_directories(cache_ + "/clapsearch");
  write(cache_ + "/clapsearch/file-sha256.tsv", "garbage\n\x01\x02\tnot a line\n");
  EXPECT_EQ(cached_sha256_file(f), sha256_hex("payload"));
  EXPECT_THROW(cached_sha256_file(test::temp_dir() + "/missing.bin"), std::exception);
}

}  // namespace
}  // namespace clap
