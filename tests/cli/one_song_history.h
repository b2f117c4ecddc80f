// A one-song index with a user and a Last.fm CSV of plays of that song: the fixture of the
// `clapsearch history` tests (history_cli_test.cpp, history_inputs_cli_test.cpp).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/golden.h"

namespace clap::test {

// One tagged song indexed (Artist - Song) in `db`, user ann (password "pw"), and `csv`, a
// Last.fm CSV of `plays` listens of it an hour apart from 1704100000; in the test's folder, or in
// its folder `name` (a test that makes several).
struct OneSongHistory {
  std::string dir, db, csv;
  explicit OneSongHistory(int plays, const std::string& name = "")
      : dir(name.empty() ? temp_dir() : temp_dir() + "/" + name), db(dir + "/library.db"), csv(dir + "/plays.csv") {
    std::filesystem::create_directories(dir);
    ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"sine=f=330:d=1:sample_rate=16000\" -metadata artist=Artist -metadata title=Song");
    std::string out, err;
    EXPECT_EQ(run_cli("index " + test::quoted(dir + "/music") + " --db " + test::quoted(db) + " --quiet --model " + test::quoted(case_dir("tiny-unfused")),
                      &out, &err),
              0)
        << err;
    std::ofstream(dir + "/pw") << "pw\n";
    EXPECT_EQ(run_cli("user add ann --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
    std::string text = "artist,album,track,date\n";
    for (int i = 0; i < plays; ++i) text += "Artist,,Song," + std::to_string(1704100000 + 3600 * i) + "\n";
    std::ofstream(csv, std::ios::binary) << text;
  }
};

}  // namespace clap::test
