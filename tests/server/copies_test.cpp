// Copies of one recording in the REST routes and `similar` (issue 53): a library of nothing but
// copies (one recording in 50 byte-identical files, three others in 3 each), indexed by the real
// CLI with the tiny random-weight golden model, served by a server::Server on loopback.
//
// `similar COPY --diversity` listed about one track: its 4k pool was all copies of the seed, and
// diversity lists a recording once. The pool now widens until k different recordings are listed
// (or the index has no more: a note says so), and copies of the seed are not results. The REST
// routes take the CLI's --collapse-duplicates as collapse_duplicates=true (default false, as the
// CLI's), each entry with its `copies`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"
#include "support/recordings.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct CopiesLibrary {
  std::string music, db;
  CopiesLibrary() {
    const std::string shared = test::shared_fixture("server-copies", [](const std::string& dir) {
      const std::string m = dir + "/music";
      const std::pair<const char*, const char*> recordings[] = {{"a", "sine=f=300:d=6"},
                                                                {"b", "anoisesrc=color=pink:d=6:seed=3"},
                                                                {"c", "aevalsrc=sin(2*PI*(200+400*t)*t):d=6"},
                                                                {"d", "anoisesrc=color=brown:d=6:seed=5"}};
      for (const auto& [name, source] : recordings) {
        const std::string first = test::ffmpeg(m + "/" + name + "/00.wav", std::string("-f lavfi -i \"") + source + "\" -ac 1 -ar 44100");
        const int copies = std::string(name) == "a" ? 50 : 3;
        for (int i = 1; i < copies; ++i) {
          const std::string n = std::to_string(i);
          fs::copy_file(first, m + "/" + name + "/" + (i < 10 ? "0" + n : n) + ".wav");
        }
      }
      test::index_library(m, dir + "/library.db", test::case_dir("tiny-unfused"));
    });
    music = shared + "/music";
    db = test::temp_dir() + "/copies.db";
    fs::copy_file(shared + "/library.db", db, fs::copy_options::overwrite_existing);
  }
};

CopiesLibrary& library() {
  static CopiesLibrary lib;
  return lib;
}

// The recording ("a".."d", the folder) of each listed entry.
std::multiset<std::string> recordings(const json& results, const std::string& path_field = "display_path") {
  std::multiset<std::string> out;
  for (const json& r : results) out.insert(fs::path(r[path_field].get<std::string>()).parent_path().filename().string());
  return out;
}

TEST(ServeCopies, DiversityOverALibraryOfCopiesListsDifferentRecordings) {
  RunningServer s(ServerOptions{}, library().db, 60);
  const std::string seed = std::to_string(s.id_of("a/07.wav"));
  json got = s.get_json("/api/similar?track=" + seed + "&k=3&diversity=0.5");
  EXPECT_EQ(recordings(got["results"]), (std::multiset<std::string>{"b", "c", "d"})) << got.dump(1);
  EXPECT_FALSE(got.contains("note")) << got.dump(1);
  // More than the index has: every other recording once, and a note saying why the list is short.
  got = s.get_json("/api/similar?track=" + seed + "&k=5&diversity=0.5");
  EXPECT_EQ(recordings(got["results"]), (std::multiset<std::string>{"b", "c", "d"})) << got.dump(1);
  EXPECT_NE(got.value("note", "").find("3 of the 5 tracks asked for"), std::string::npos) << got.dump(1);
  // like's votes reach per_chunk windows per chunk: 100 reach every track of this library.
  got = s.get_json("/api/like?track=" + seed + "&k=3&diversity=0.5&exclude_self=true&per_chunk=100");
  EXPECT_EQ(recordings(got["results"]), (std::multiset<std::string>{"b", "c", "d"})) << got.dump(1);

  // The CLI's similar, the same way (the note on stderr; --json stays a list).
  std::string out, err;
  ASSERT_EQ(test::run_cli("similar " + test::quoted(library().music + "/a/07.wav") + " -k 5 --diversity 0.5 --json --db " +
                              test::quoted(library().db),
                          &out, &err),
            0)
      << err;
  EXPECT_EQ(recordings(json::parse(out), "path"), (std::multiset<std::string>{"b", "c", "d"})) << out;
  EXPECT_NE(err.find("3 of the 5 tracks asked for"), std::string::npos) << err;
}

// like's ranking is the tracks its chunks' per_chunk (default 5) nearest windows vote for. Under
// --diversity the seed's copies are left out of the list, but they still took every vote: with
// 49 copies of the seed, like --exclude-self --diversity and like?seed= listed nothing ("0 of the
// 3 tracks asked for") although the index holds three other recordings (H11S-1). Their windows are
// now skipped as the seed's own are, so the default per_chunk reaches the other recordings.
TEST(ServeCopies, LikeWithDiversityIsNotEmptiedByTheSeedsCopies) {
  RunningServer s(ServerOptions{}, library().db, 60);
  const std::string seed = std::to_string(s.id_of("a/07.wav"));
  for (const std::string& url : {"/api/like?track=" + seed + "&k=3&diversity=0.5&exclude_self=true",
                                "/api/like?seed=" + seed + "&k=3&diversity=0.5"}) {
    const json got = s.get_json(url);
    EXPECT_EQ(recordings(got["results"]), (std::multiset<std::string>{"b", "c", "d"})) << url << "\n" << got.dump(1);
    EXPECT_FALSE(got.contains("note")) << url << "\n" << got.dump(1);
  }
  // Without diversity the copies are results, as before (the closest windows vote).
  const json plain = s.get_json("/api/like?track=" + seed + "&k=3&exclude_self=true");
  EXPECT_EQ(recordings(plain["results"]), (std::multiset<std::string>{"a", "a", "a"})) << plain.dump(1);
  // The CLI, through the same service.
  std::string out, err;
  ASSERT_EQ(test::run_cli("like --track " + seed + " --exclude-self -k 3 --diversity 0.5 --json --db " +
                              test::quoted(library().db),
                          &out, &err),
            0)
      << err;
  EXPECT_EQ(recordings(json::parse(out), "path"), (std::multiset<std::string>{"b", "c", "d"})) << out << err;
}

// A Subsonic app's instant mix (getSimilarSongs of a song, of a folder) and the /api/sonic/ routes
// left out the seed's copies but listed every copy of each other recording: the songs like "b"
// were an "a" and then its 49 copies (H11S-2). Each recording is now listed once, by its
// best-ranked file, unless excludeDuplicates=false asks for every file.
TEST(ServeCopies, SonicListsEachRecordingOnce) {
  const std::string db = test::temp_dir() + "/copies-sonic.db";
  fs::copy_file(library().db, db, fs::copy_options::overwrite_existing);
  const std::string pw = test::temp_dir() + "/copies-sonic.pw";
  std::ofstream(pw) << "pw\n";
  std::string err;
  ASSERT_EQ(test::run_cli("user add ann --db " + test::quoted(db) + " < " + test::quoted(pw), nullptr, &err), 0) << err;
  RunningServer s(ServerOptions{}, db, 60);
  const std::string seed = std::to_string(s.id_of("b/01.wav"));
  json got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + seed + "&count=5");
  std::multiset<std::string> listed;
  for (const json& m : got["sonicMatch"]) listed.insert(fs::path(m["entry"]["path"].get<std::string>()).parent_path().filename().string());
  EXPECT_EQ(listed, (std::multiset<std::string>{"a", "c", "d"})) << got.dump(1);
  // Every file when asked for.
  got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + seed + "&count=5&excludeDuplicates=false");
  EXPECT_EQ(got["sonicMatch"].size(), 5u) << got.dump(1);

  const std::string auth = "u=ann&p=pw&v=1.16.1&c=test&f=json";
  got = s.get_json("/rest/getSimilarSongs2?id=" + seed + "&count=10&" + auth);
  EXPECT_EQ(recordings(got["subsonic-response"]["similarSongs2"]["song"], "path"), (std::multiset<std::string>{"a", "c", "d"}))
      << got.dump(1);
  // A folder (the group's own songs left out): the other three recordings, once each.
  const std::string folder = s.get_json("/rest/getSong?id=" + std::to_string(s.id_of("c/01.wav")) + "&" + auth)
                                 ["subsonic-response"]["song"]["parent"];
  ASSERT_EQ(folder.rfind("fo-", 0), 0u) << folder;
  got = s.get_json("/rest/getSimilarSongs?id=" + folder + "&count=10&" + auth);
  EXPECT_EQ(recordings(got["subsonic-response"]["similarSongs"]["song"], "path"), (std::multiset<std::string>{"a", "b", "d"}))
      << got.dump(1);
}

TEST(ServeCopies, CollapseDuplicatesFoldsCopiesAsTheCliDoes) {
  RunningServer s(ServerOptions{}, library().db, 60);
  const std::string seed = std::to_string(s.id_of("a/07.wav"));
  // Not asked for: every copy listed, no `copies` field (the answer as before).
  json got = s.get_json("/api/similar?track=" + seed + "&k=4");
  EXPECT_EQ(recordings(got["results"]), (std::multiset<std::string>{"a", "a", "a", "a"})) << got.dump(1);
  EXPECT_FALSE(got["results"][0].contains("copies"));
  for (const std::string& url : {"/api/similar?track=" + seed + "&k=4", "/api/like?track=" + seed + "&k=4&per_chunk=100",
                                 std::string("/api/search?q=tone&k=4"), "/api/search?seed=" + seed + "&k=4"}) {
    got = s.get_json(url + "&collapse_duplicates=true");
    const json& results = url.rfind("/api/search", 0) == 0 ? got["queries"][0]["results"] : got["results"];
    EXPECT_EQ(recordings(results), (std::multiset<std::string>{"a", "b", "c", "d"})) << url << "\n" << got.dump(1);
    size_t listed = 0;
    for (const json& r : results) {
      ASSERT_TRUE(r.contains("copies")) << url << "\n" << r.dump();
      listed += 1 + r["copies"].size();
    }
    EXPECT_GE(listed, 58u) << url;  // every copy shown or named (the seed may be left out)
  }
  EXPECT_EQ(s.get_json("/api/similar?track=" + seed + "&collapse_duplicates=maybe", 400)["detail"], "collapse_duplicates: true or false");
}

// An untagged FLAC and MP3 of one recording (no MBID, no ISRC, other bytes) were both listed by
// the sonic routes and Subsonic's similar songs, which folded copies by content hash, MBID and
// ISRC only (H11S-2's rule). Their stored fingerprints now tell them one recording
// (service/recordings.h) on every list that holds a recording once; excludeDuplicates=false still
// lists every file. `like` and `similar` with --diversity already folded them (duplicates' rule).
// A copy (named `name`) of the shared index in `dir`, with the user ann (password pw) for /rest/.
std::string index_with_ann(const std::string& dir, const std::string& name) {
  const std::string db = test::temp_dir() + "/" + name + ".db";
  fs::copy_file(dir + "/library.db", db, fs::copy_options::overwrite_existing);
  const std::string pw = test::temp_dir() + "/" + name + ".pw";
  std::ofstream(pw) << "pw\n";
  std::string err;
  EXPECT_EQ(test::run_cli("user add ann --db " + test::quoted(db) + " < " + test::quoted(pw), nullptr, &err), 0) << err;
  return db;
}

// The recording (the folder) of each match: a sonicMatch's entry, or a song.
std::multiset<std::string> listed(const json& matches) {
  std::multiset<std::string> out;
  for (const json& m : matches) {
    const json& e = m.contains("entry") ? m["entry"] : m;
    out.insert(fs::path(e["path"].get<std::string>()).parent_path().filename().string());
  }
  return out;
}

TEST(ServeCopies, ReencodedCopiesWithoutTagsAreOneRecording) {
  const std::string db = index_with_ann(test::reencoded_library(), "reencoded");
  std::string out, err;
  RunningServer s(ServerOptions{}, db, 60);
  const std::string y = std::to_string(s.id_of("y/song.flac")), x = std::to_string(s.id_of("x/song.flac"));
  json got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + y + "&count=10");
  EXPECT_EQ(listed(got["sonicMatch"]), (std::multiset<std::string>{"x", "z", "n"})) << got.dump(1);
  got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + y + "&count=10&excludeDuplicates=false");
  EXPECT_EQ(listed(got["sonicMatch"]), (std::multiset<std::string>{"x", "x", "z", "n"})) << got.dump(1);
  // The seed's own re-encode is the seed again, not a match.
  got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + x + "&count=10");
  EXPECT_EQ(listed(got["sonicMatch"]), (std::multiset<std::string>{"y", "z", "n"})) << got.dump(1);
  got = s.get_json("/api/sonic/search?q=song&count=10");
  EXPECT_EQ(listed(got["sonicMatch"]), (std::multiset<std::string>{"x", "y", "z", "n"})) << got.dump(1);

  const std::string auth = "u=ann&p=pw&v=1.16.1&c=test&f=json";
  got = s.get_json("/rest/getSimilarSongs2?id=" + y + "&count=10&" + auth);
  EXPECT_EQ(listed(got["subsonic-response"]["similarSongs2"]["song"]), (std::multiset<std::string>{"x", "z", "n"})) << got.dump(1);
  const std::string folder = s.get_json("/rest/getSong?id=" + y + "&" + auth)["subsonic-response"]["song"]["parent"];
  got = s.get_json("/rest/getSimilarSongs?id=" + folder + "&count=10&" + auth);  // the folder's instant mix
  EXPECT_EQ(listed(got["subsonic-response"]["similarSongs"]["song"]), (std::multiset<std::string>{"x", "z", "n"})) << got.dump(1);

  // like and similar with --diversity, through the server and the CLI: x once.
  got = s.get_json("/api/like?track=" + y + "&k=3&diversity=0.5&exclude_self=true&per_chunk=20");
  EXPECT_EQ(listed(got["results"]), (std::multiset<std::string>{"x", "z", "n"})) << got.dump(1);
  ASSERT_EQ(test::run_cli("similar " + y + " -k 3 --diversity 0.5 --json --db " + test::quoted(db), &out, &err), 0) << err;
  EXPECT_EQ(listed(json::parse(out)), (std::multiset<std::string>{"x", "z", "n"})) << out;
}

// A group's mix left the group's own files out by id only: an untagged re-encode of its song in
// another folder was the mix's first match, on every group route (copies13). Now it is the
// group's song again, left out with it.
TEST(ServeCopies, AGroupsMixLeavesOutItsSongsCopiesInOtherFolders) {
  RunningServer s(ServerOptions{}, index_with_ann(test::copies_in_two_folders(), "two-folders"), 60);
  const std::multiset<std::string> others{"y", "z", "n"};
  json got = s.get_json("/api/sonic/similarToArtist?artist=Artist%20A&count=10");
  EXPECT_EQ(listed(got["sonicMatch"]), others) << got.dump(1);
  got = s.get_json("/api/sonic/similarToAlbum?album=Album%20A&count=10");
  EXPECT_EQ(listed(got["sonicMatch"]), others) << got.dump(1);
  got = s.get_json("/api/sonic/similarToAlbum?album=Album%20A&count=10&excludeDuplicates=false");
  EXPECT_EQ(listed(got["sonicMatch"]), (std::multiset<std::string>{"b", "y", "z", "n"})) << got.dump(1);
  const std::string auth = "u=ann&p=pw&v=1.16.1&c=test&f=json";
  const json song = s.get_json("/rest/getSong?id=" + std::to_string(s.id_of("a/song.flac")) + "&" + auth)["subsonic-response"]["song"];
  for (const std::string& group : {song["parent"].get<std::string>(), song["albumId"].get<std::string>()}) {  // folder, album
    got = s.get_json("/rest/getSimilarSongs?id=" + group + "&count=10&" + auth);
    EXPECT_EQ(listed(got["subsonic-response"]["similarSongs"]["song"]), others) << group << "\n" << got.dump(1);
  }
}

}  // namespace
}  // namespace clap::server
