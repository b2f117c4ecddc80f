// The track norms file of a compressed window index (search/track_norms.h): what is written
// reads back bit for bit, and every kind of damage is refused with the file's name and the
// reason, a header that claims more tracks than the file holds included.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "search/track_norms.h"
#include "support/golden.h"

namespace clap::search {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

std::string refusal(const std::string& path) {
  try {
    load_track_norms(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TrackNorms, WrittenReadsBackAndDamageIsRefusedWithTheReason) {
  const std::string dir = test::temp_dir() + "/track-norms";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/lib.windows.ivfpq.norms";
  TrackNorms t;
  t.generation = 42;
  t.identity = "content:abc window 10 s";
  t.trained_windows = 1000;
  t.ids = {3, 7, 8, 1000000000000};
  t.norms = {0.5f, 0.75f, 1.0f, 0.125f};
  save_track_norms(path, t);
  const TrackNorms r = load_track_norms(path);
  EXPECT_EQ(r.generation, 42);
  EXPECT_EQ(r.identity, t.identity);
  EXPECT_EQ(r.trained_windows, 1000);
  EXPECT_EQ(r.ids, t.ids);
  EXPECT_EQ(std::memcmp(r.norms.data(), t.norms.data(), 16), 0);

  const std::string good = slurp(path);
  auto damaged = [&](std::string bytes, const std::string& why) {
    spit(path, bytes);
    const std::string message = refusal(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  damaged("CLAPXXXX" + good.substr(8), "is not a clapsearch track norms file");
  damaged(good.substr(0, good.size() - 5), "size does not match its header");
  std::string flipped = good;
  flipped[good.size() - 12] ^= 1;  // a norm's byte
  damaged(flipped, "checksum mismatch");
  // A header claiming more tracks than the file holds: refused before any allocation.
  std::string lie = good;
  const size_t at = lie.find("\"tracks\":4");
  ASSERT_NE(at, std::string::npos);
  lie.replace(at, 10, "\"tracks\":9");
  damaged(lie, "size does not match its header");
  // Ids out of order (the checksum made to match: the order check is behind it).
  TrackNorms unordered = t;
  unordered.ids = {3, 3, 8, 9};
  save_track_norms(path, unordered);
  EXPECT_NE(refusal(path).find("not strictly ascending"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_NE(refusal(path).find("cannot open " + path), std::string::npos);
  // Sizes that disagree are not written.
  t.norms.pop_back();
  EXPECT_THROW(save_track_norms(path, t), Error);
}

}  // namespace
}  // namespace clap::search
