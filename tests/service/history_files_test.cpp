// The listening-history readers (service/history_files.h) on files shaped as the services export
// them: a ListenBrainz export zip (listens/YYYY/M.jsonl, deflated, as Python's zipfile writes it)
// and a single .jsonl; Last.fm CSV with a header row (lastfm.ghan.nl's columns) and without one
// (lastfm-to-csv's artist,album,track,date), and JSON (the API's recenttracks pages); the times they
// write; and the files to refuse whole: empty, truncated, wrong-shaped. Also the MPD watcher's
// plays and skips (service/listening.h).
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "service/history.h"
#include "service/history_files.h"
#include "service/listening.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/user_store.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

std::string write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Three listens as ListenBrainz exports them: an MBID the player sent, one only ListenBrainz's
// mapping knows (with an ISRC and duration_ms), and one with neither (listened_at as date text).
const char* const kListens =
    R"({"inserted_at": 1700000100.5, "listened_at": 1700000000, "recording_msid": "1b0c1c2e-0000-4000-8000-000000000001", "user_name": "ann", "track_metadata": {"artist_name": "Queen", "track_name": "Bohemian Rhapsody", "release_name": "A Night at the Opera", "additional_info": {"recording_mbid": "b1a9c0e9-d987-4042-ae91-78d6a3267d69", "duration_ms": 355000, "media_player": "mpv", "submission_client": "x"}, "mbid_mapping": null}})"
    "\n"
    R"({"listened_at": 1700003600, "track_metadata": {"artist_name": "Adele", "track_name": "Hello", "release_name": null, "additional_info": {"isrc": "GBBKS1500214", "duration_ms": 295500}, "mbid_mapping": {"recording_mbid": "0a8e8d55-4b83-4f8a-9732-fbb5ded9f344", "release_mbid": "x", "artist_mbids": ["y"], "recording_name": "Hello"}}})"
    "\n"
    R"({"listened_at": "2023-11-15T01:20:00Z", "track_metadata": {"artist_name": "Nobody", "track_name": "Unknown Song", "additional_info": {"duration": 200}}})"
    "\n";

TEST(HistoryFiles, ListenBrainzJsonLines) {
  const std::string path = write(test::temp_dir() + "/listens.jsonl", kListens);
  const HistoryFile f = read_history_file(path);
  EXPECT_EQ(f.format, HistoryFormat::ListenBrainz);
  ASSERT_EQ(f.listens.size(), 3u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].title, "Bohemian Rhapsody");
  EXPECT_EQ(f.listens[0].album, "A Night at the Opera");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_DOUBLE_EQ(f.listens[0].duration_s, 355);
  EXPECT_EQ(f.listens[1].mbid, "0a8e8d55-4b83-4f8a-9732-fbb5ded9f344");  // from mbid_mapping
  EXPECT_EQ(f.listens[1].isrc, "GBBKS1500214");
  EXPECT_DOUBLE_EQ(f.listens[1].duration_s, 295.5);
  EXPECT_EQ(f.listens[1].album, "");
  EXPECT_EQ(f.listens[2].played_at, 1700011200);
  EXPECT_EQ(f.listens[2].mbid, "");
  EXPECT_DOUBLE_EQ(f.listens[2].duration_s, 200);
  EXPECT_EQ(f.listens[2].where, path + " line 3");
}

// The export as downloaded: a zip of user.json, feedback.jsonl and listens/YEAR/MONTH.jsonl,
// deflated; months in calendar order (10 after 9), other members ignored.
TEST(HistoryFiles, ListenBrainzExportZip) {
  const std::string dir = test::temp_dir();
  const std::string lines = kListens;
  const size_t second = lines.find('\n') + 1;
  write(dir + "/src/listens/2023/9.jsonl", lines.substr(0, second));
  write(dir + "/src/listens/2023/10.jsonl", lines.substr(second));
  write(dir + "/src/user.json", R"({"user_id": 1, "username": "ann"})");
  write(dir + "/src/feedback.jsonl", R"({"recording_mbid": "x", "score": 1})" "\n");
  const std::string zip = dir + "/listenbrainz_ann.zip";
  const std::string py = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED); "
                         "[z.write(sys.argv[2]+'/'+n, n) for n in ['user.json','feedback.jsonl','listens/2023/10.jsonl','listens/2023/9.jsonl']]; z.close()";
  ASSERT_EQ(std::system(("python3 -c " + test::quoted(py) + " " + test::quoted(zip) + " " + test::quoted(dir + "/src")).c_str()), 0);
  const HistoryFile f = read_history_file(zip);
  EXPECT_EQ(f.format, HistoryFormat::ListenBrainz);
  ASSERT_EQ(f.listens.size(), 3u);
  EXPECT_EQ(f.listens[0].artist, "Queen");  // listens/2023/9.jsonl first
  EXPECT_EQ(f.listens[0].where, zip + ": listens/2023/9.jsonl line 1");
  EXPECT_EQ(f.listens[2].title, "Unknown Song");
  EXPECT_THROW(read_history_file(zip, HistoryFormat::LastFm), Error);

  // Cut short: the deflated data end early (or the directory is gone): an error naming the file.
  std::ifstream in(zip, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 10}) {
    const std::string cut = write(dir + "/cut.zip", bytes.substr(0, keep));
    try {
      read_history_file(cut);
      ADD_FAILURE() << "a zip cut to " << keep << " bytes was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
    }
  }
  // A zip without listens (another service's archive) is not an export.
  const std::string other = dir + "/other.zip";
  const std::string py2 = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('notes.txt','hi'); z.close()";
  ASSERT_EQ(std::system(("python3 -c " + test::quoted(py2) + " " + test::quoted(other)).c_str()), 0);
  try {
    read_history_file(other);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without listens"), std::string::npos) << e.what();
  }
}

// Each refusal names the file, where in it, and why.
TEST(HistoryFiles, BadFilesAreRefusedWhole) {
  const std::string dir = test::temp_dir();
  auto reason = [](const std::string& path, HistoryFormat format = HistoryFormat::Auto) -> std::string {
    try {
      read_history_file(path, format);
    } catch (const Error& e) {
      return e.what();
    }
    return "(read without an error)";
  };
  const std::string lines = kListens;
  struct Case {
    const char* name;
    std::string text;
    const char* expected;
  };
  const Case cases[] = {
      {"empty.jsonl", "", "empty"},
      {"blank.jsonl", "\n  \n", "empty"},
      {"truncated.jsonl", lines.substr(0, lines.size() - 30), "line 3: cut short"},
      {"no_time.jsonl", R"({"track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n", "line 1: a listen without \"listened_at\""},
      {"bad_time.jsonl", R"({"listened_at": "yesterday", "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n", "not a time"},
      {"no_title.jsonl", R"({"listened_at": 5, "track_metadata": {"artist_name": "A"}})" "\n", "without \"track_name\""},
      {"array.json", "[1, 2]", "scrobble 1: not a scrobble"},
      {"csv_short.csv", "artist,album,track,uts\nA,B,C,1700000000\nA,B\n", "row 3: 2 columns"},
      {"csv_bad_time.csv", "A,B,C,31 Foo 2021 12:34\n", "row 1: '31 Foo 2021 12:34' is not a time"},
      {"csv_header_only.csv", "artist,album,track,date\n", "only a header row"},
      {"csv_no_time_column.csv", "artist,album,track\nA,B,C\n", "names no time column"},
      {"lastfm_truncated.json", R"([{"artist": {"#text": "A"}, "name": "B", "date": {"uts": "1700000000"}}, {"artist)", "truncated"},
      {"lastfm_object.json", R"({"hello": 1})", "not a Last.fm export"},
      // A number past a double (nlohmann's out_of_range, not a parse_error: found by fuzz_history).
      {"overflow.jsonl", R"({"listened_at": 1e400, "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n", "line 1: not a JSON listen"},
      {"overflow.json", R"([{"artist": "A", "name": "B", "date": 1e400}])", "not JSON"},
      // Hostile pass 9: nlohmann's own words ("[json.exception.parse_error.101] ...") said what was wrong.
      {"nan.jsonl", R"({"listened_at": NaN, "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n",
       "line 1: not a JSON listen: column 17: NaN is not a JSON number (JSON has no NaN or infinity)"},
      {"nan.json", "[\n{\"artist\": \"A\", \"name\": \"B\",\n \"date\": Infinity}]",
       "line 3, column 10: Infinity is not a JSON number"},
      // A whole last line with a bad byte is no file cut short (hostile pass 5, H5-6).
      {"bad_byte.jsonl", "{\"listened_at\": 5, \"track_metadata\": {\"artist_name\": \"A\xC3(\", \"track_name\": \"B\"}}\n",
       "line 1: not a JSON listen"},
  };
  for (const Case& c : cases) {
    const std::string path = write(dir + "/" + c.name, c.text);
    const std::string why = reason(path);
    EXPECT_NE(why.find(path), std::string::npos) << c.name << ": " << why;
    EXPECT_NE(why.find(c.expected), std::string::npos) << c.name << ": " << why;
  }
  EXPECT_NE(reason(dir + "/absent.jsonl").find("absent.jsonl"), std::string::npos);
  EXPECT_THROW(parse_history_format("spotify"), InvalidArgument);
}

// A large export is parsed in pieces on several threads: the listens keep the file's order and
// their line numbers, and of two bad lines the first in the file is the one reported.
TEST(HistoryFiles, LargeExportsKeepOrderAndTheFirstError) {
  const std::string one =
      R"({"listened_at": 1700000000, "track_metadata": {"artist_name": "Queen", "track_name": "Bohemian Rhapsody", "release_name": "A Night at the Opera", "additional_info": {"duration_ms": 355000, "media_player": "a player with a long name", "submission_client": "a client with a long name too"}}})";
  const size_t n = (size_t{12} << 20) / (one.size() + 1) + 1;  // past the size parsed in pieces
  std::string text;
  text.reserve(n * (one.size() + 8));
  for (size_t i = 0; i < n; ++i) {
    std::string line = one;
    line.replace(line.find("1700000000"), 10, std::to_string(1700000000 + i));
    text += line + "\n";
  }
  const std::vector<Listen> all = parse_listenbrainz_text(text, "big.jsonl");
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; i += n / 7) {
    EXPECT_EQ(all[i].played_at, static_cast<int64_t>(1700000000 + i));
    EXPECT_EQ(all[i].where, "big.jsonl line " + std::to_string(i + 1));
  }
  // Two bad lines, one near the end and one in the first half: the first is named.
  auto line_start = [&](size_t line) {  // 0-based
    size_t at = 0;
    for (size_t k = 0; k < line; ++k) at = text.find('\n', at) + 1;
    return at;
  };
  const size_t late = n - 3, early = n / 3;
  text.replace(line_start(late), 1, "[");
  text.replace(line_start(early) + 1, 13, "\"bad_key\": 1,");
  try {
    parse_listenbrainz_text(text, "big.jsonl");
    ADD_FAILURE() << "read with two bad lines";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("big.jsonl line " + std::to_string(early + 1) + ":"), std::string::npos) << e.what();
  }
}

// A zip of members {name, data as stored, method, the size and CRC-32 the directory claims}.
struct RawMember {
  std::string name, data;
  uint16_t method;
  uint32_t size, crc;
};
std::string zip_of(const std::vector<RawMember>& members) {
  auto le = [](std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  std::string local, central;
  for (const RawMember& m : members) {
    const uint64_t offset = local.size();
    le(local, 0x04034b50, 4), le(local, 20, 2), le(local, 0, 2), le(local, m.method, 2), le(local, 0, 4);
    le(local, m.crc, 4), le(local, m.data.size(), 4), le(local, m.size, 4), le(local, m.name.size(), 2), le(local, 0, 2);
    local += m.name + m.data;
    le(central, 0x02014b50, 4), le(central, 20, 2), le(central, 20, 2), le(central, 0, 2), le(central, m.method, 2);
    le(central, 0, 4), le(central, m.crc, 4), le(central, m.data.size(), 4), le(central, m.size, 4);
    le(central, m.name.size(), 2), le(central, 0, 2), le(central, 0, 2), le(central, 0, 2), le(central, 0, 2), le(central, 0, 4);
    le(central, offset, 4);
    central += m.name;
  }
  std::string end;
  le(end, 0x06054b50, 4), le(end, 0, 2), le(end, 0, 2), le(end, members.size(), 2), le(end, members.size(), 2);
  le(end, central.size(), 4), le(end, local.size(), 4), le(end, 0, 2);
  return local + central + end;
}
std::string raw_deflate(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
uint32_t crc_of(const std::string& s) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// read_history_file(path) in a child process limited to 1 GiB of address space: "error: <what>"
// when it refused the file, "read" when it read it, "out of memory" when it tried to take more.
std::string read_in_a_small_process(const std::string& path) {
  const std::string out = path + ".outcome";
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit small{rlim_t{1} << 30, rlim_t{1} << 30};
    setrlimit(RLIMIT_AS, &small);
    std::string outcome;
    try {
      read_history_file(path);
      outcome = "read";
    } catch (const Error& e) {
      outcome = std::string("error: ") + e.what();
    } catch (const std::bad_alloc&) {
      outcome = "out of memory";
    }
    std::ofstream(out) << outcome;
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(out);
  return std::string{std::istreambuf_iterator<char>(in), {}};
}

// Hostile pass 5 (H5-2): a zip whose member claims gigabytes over a few bytes was given the
// claimed size up front (a 240-byte file took 4.2 GB and a minute), members were inflated up to
// 4 GiB each without a bound in all, no CRC was checked, and a sparse file of any size was read.
TEST(HistoryFiles, ZipMembersAndFilesAreBoundedAndChecked) {
  const std::string dir = test::temp_dir();
  const std::string line = R"({"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n";
  const std::string packed = raw_deflate(line);
  // A member that says it holds 1.5 GiB: damaged, found without taking the 1.5 GiB.
  const std::string liar = write(dir + "/liar.zip", zip_of({{"listens/2023/1.jsonl", packed, 8, 3u << 29, crc_of(line)}}));
  EXPECT_NE(read_in_a_small_process(liar).find("error: " + liar + ": listens/2023/1.jsonl: damaged or truncated"), std::string::npos)
      << read_in_a_small_process(liar);
  // Three members of 1 GiB each (sharing their data, as zip bombs do): refused before inflating.
  std::vector<RawMember> big;
  for (int m = 1; m <= 3; ++m) big.push_back({"listens/2023/" + std::to_string(m) + ".jsonl", packed, 8, 1u << 30, 0});
  const std::string bomb = write(dir + "/bomb.zip", zip_of(big));
  EXPECT_NE(read_in_a_small_process(bomb).find("too large"), std::string::npos) << read_in_a_small_process(bomb);
  // R11C-3: one member claiming 2 GiB + 1 byte of a zip of a few hundred bytes: the claim named as
  // the directory's, and one no zip of that size holds ("too large (2147483649 bytes ...)" before).
  const std::string lying = write(dir + "/lying.zip", zip_of({{"listens/2023/1.jsonl", packed, 8, (1u << 31) + 1, crc_of(line)}}));
  EXPECT_NE(read_in_a_small_process(lying).find(
                "its zip directory says its 1 listens file(s) hold 2147483649 bytes uncompressed, more than the 2 GiB a history "
                "export is read up to (and more than a zip of " + std::to_string(fs::file_size(lying)) +
                " bytes can hold: a damaged or hostile directory)"),
            std::string::npos)
      << read_in_a_small_process(lying);
  // A member whose bytes do not match its CRC-32 (stored, and deflated).
  for (const uint16_t method : {uint16_t{0}, uint16_t{8}}) {
    const std::string damaged = write(dir + "/crc" + std::to_string(method) + ".zip",
                                      zip_of({{"listens/2023/1.jsonl", method ? packed : line, method,
                                               static_cast<uint32_t>(line.size()), crc_of(line) ^ 1u}}));
    EXPECT_NE(read_in_a_small_process(damaged).find("CRC-32"), std::string::npos) << read_in_a_small_process(damaged);
  }
  const std::string fine = write(dir + "/fine.zip", zip_of({{"listens/2023/1.jsonl", packed, 8, static_cast<uint32_t>(line.size()), crc_of(line)}}));
  EXPECT_EQ(read_in_a_small_process(fine), "read");
  // A sparse file of 3 GiB (a regular file, read as a Last.fm CSV).
  const std::string sparse = write(dir + "/sparse.csv", "artist,album,track,date\nA,B,C,1700000000\n");
  fs::resize_file(sparse, uintmax_t{3} << 30);
  EXPECT_NE(read_in_a_small_process(sparse).find("error: " + sparse + ": too large"), std::string::npos) << read_in_a_small_process(sparse);
}

// H5-3: a play's time is a moment that was: not a date that does not exist, not before 1970, not
// in the future (milliseconds read as seconds), in every format.
TEST(HistoryFiles, PlayTimesAreMomentsThatWere) {
  int64_t t = 0;
  for (const char* bad : {"2021-02-31", "2023-02-29 10:00", "2021-01-01 12:00 +99:99", "31 Feb 2021"})
    EXPECT_FALSE(parse_history_time(bad, t)) << bad;
  ASSERT_TRUE(parse_history_time("1970-01-01T05:00:00+05:00", t));
  EXPECT_EQ(t, 0);
  // A date before 1970 is a time, and the play is refused as before 1970 (below): it was "not a
  // time (unix seconds or a date such as 31 Jan 2021 12:34)", a typo to look for (hostile pass 22).
  ASSERT_TRUE(parse_history_time("1970-01-01T00:00:00+05:00", t));
  EXPECT_EQ(t, -5 * 3600);
  ASSERT_TRUE(parse_history_time("31 Dec 1969", t));
  EXPECT_EQ(t, -86400);
  const std::string dir = test::temp_dir();
  auto listen_at = [](const std::string& at) {
    return R"({"listened_at": )" + at + R"(, "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n";
  };
  // An integer in milliseconds is told by its size, as in text (it was kept as seconds: year 55,000).
  EXPECT_EQ(read_history_file(write(dir + "/ms.jsonl", listen_at("1700000000000"))).listens.at(0).played_at, 1700000000);
  struct Case {
    std::string name, text, expected;
  };
  const std::vector<Case> cases = {
      {"future.jsonl", listen_at("99999999999"), "line 1: played in the future (5138-11-16T09:46:39Z"},
      {"huge.jsonl", listen_at("9223372036854775807"), "line 1: \"listened_at\" is not a time"},
      {"micro.jsonl", listen_at("1000000000000000"), "line 1: \"listened_at\" is not a time"},
      {"future.csv", "A,B,C,9999-01-01\n", "row 1: played in the future"},
      {"past.csv", "A,B,C,1969-12-31\n", "row 1: played before 1970 (unix -86400)"},
      {"past.jsonl", listen_at("\"1900-01-01T00:00:00Z\""), "line 1: played before 1970 (unix -2208988800)"},
      {"future.json", R"([{"artist": "A", "name": "B", "date": {"uts": "99999999999"}}])", "scrobble 1: played in the future"},
  };
  for (const Case& c : cases) {
    const std::string path = write(dir + "/" + c.name, c.text);
    try {
      read_history_file(path);
      ADD_FAILURE() << c.name << " was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path + " " + c.expected), std::string::npos) << c.name << ": " << e.what();
    }
  }
}

// A value nested 100,000 or 1,000,000 deep where a listen's time belongs (a line of 200 KB or
// 2 MB, which the parser reads without recursing) is named by its first 200 bytes and its length:
// the message's echo was dump(), which recursed once a level and overflowed the stack, killing
// the import (hostile pass 16, H16S-1). Deep values elsewhere are no text and no time as before.
TEST(HistoryFiles, DeeplyNestedValuesAreNamedNotFollowed) {
  const std::string dir = test::temp_dir();
  for (const size_t depth : {size_t{100000}, size_t{1000000}}) {
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    const std::string excerpt = std::string(200, '[') + "... (" + std::to_string(2 * depth) + " bytes)";
    struct Case {
      std::string name, text, expected;
    };
    const std::vector<Case> cases = {
        {"time.jsonl", R"({"listened_at": )" + deep + R"(, "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n",
         " line 1: \"listened_at\" is not a time (" + excerpt + ")"},
        {"time.json", R"([{"listened_at": )" + deep + R"(, "track_metadata": {"artist_name": "A", "track_name": "B"}}])",
         " listen 1: \"listened_at\" is not a time (" + excerpt + ")"},
        {"artist.jsonl", R"({"listened_at": 1700000000, "track_metadata": {"artist_name": )" + deep + R"(, "track_name": "B"}})" "\n",
         " line 1: \"artist_name\" is not text"},
        // A Last.fm time there but unreadable is shown (hostile pass 21, H21P-3): an excerpt, never
        // the whole value (dump() recursed a million levels).
        {"uts.json", R"({"recenttracks": {"track": [{"artist": "A", "name": "B", "date": {"uts": )" + deep + "}}]}}",
         " scrobble 1: its \"date\" {\"uts\":" + std::string(193, '[') + "... (" + std::to_string(2 * depth + 8) +
             " bytes) is not a time"},
        {"date.json", R"({"recenttracks": {"track": [{"artist": "A", "name": "B", "date": )" + deep + "}]}}",
         " scrobble 1: its \"date\" " + excerpt + " is not a time"},
        {"line.jsonl", std::string(depth, '[') + "\n", ": not JSON (truncated or damaged: line 2, column 1: the text ends inside a value"},
    };
    for (const Case& c : cases) {
      const std::string path = write(dir + "/" + std::to_string(depth) + c.name, c.text);
      try {
        read_history_file(path);
        ADD_FAILURE() << c.name << " was read";
      } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path + c.expected), std::string::npos) << c.name << ": " << what.substr(0, 400);
      }
    }
  }
}

// H16S-2: the index file replaced (a backup put back) while an import reads its export: the plays
// went into the old file, which nothing reads again, and the import said they were imported. The
// export comes through standard input (a pipe), written only once the import holds the index open
// and the copy has been moved over it, so the order is certain.
TEST(HistoryFiles, AnIndexReplacedWhileTheExportIsReadImportsNothingAndSaysSo) {
  const std::string dir = test::temp_dir(), db = dir + "/library.db", backup = dir + "/backup.db";
  {
    store::SqliteStore s = store::SqliteStore::open(db);
    s.set_model(test::small_model());
    store::Track t;
    t.path = "/m/a.flac";
    t.size = 10;
    t.mtime_ns = 1;
    t.content_hash = std::string(64, 'a');
    t.duration_s = 30;
    t.artist = "Artist";
    t.title = "Song";
    std::vector<store::WindowRecord> ws(1);
    ws[0].end_s = 10;
    ws[0].embedding = {1, 0, 0, 0};
    const std::vector<float> e = {1, 0, 0, 0};
    s.put_track(t, ws, e.data());
    test::add_plain_user(s, "ann");
  }
  fs::copy_file(db, backup);
  const std::string csv = "artist,album,track,date\nArtist,,Song,1704100000\nArtist,,Song,1704103600\nArtist,,Song,1704107200\n";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int saved = ::dup(0);
  ::dup2(fds[0], 0);
  ::close(fds[0]);
  std::string error = "(no error)";
  std::thread import([&] {
    try {
      import_history_file(db, "-", HistoryFormat::LastFm, "ann");
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  // The import holds the index open (it reads standard input after opening it).
  const auto holds_index = [&] {
    for (const auto& f : fs::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (fs::read_symlink(f.path(), ec) == fs::path(db)) return true;
    }
    return false;
  };
  EXPECT_TRUE(test::wait_until(holds_index));
  fs::rename(backup, db);
  EXPECT_EQ(::write(fds[1], csv.data(), csv.size()), static_cast<ssize_t>(csv.size()));
  ::close(fds[1]);
  import.join();
  ::dup2(saved, 0);
  ::close(saved);
  EXPECT_NE(error.find(db + ": the index file was replaced (deleted and made again, or another moved over it) while standard "
                            "input was read: nothing was imported"),
            std::string::npos)
      << error;
  EXPECT_EQ(history_summary(db, "ann").plays, 0);
  // The import again, on the file there now: the plays are kept.
  EXPECT_EQ(import_history_file(db, write(dir + "/plays.csv", csv), HistoryFormat::LastFm, "ann").imported, 3);
  EXPECT_EQ(history_summary(db, "ann").plays, 3);
}

// H5-4: a beets count becomes as many plays: 10^12 took the memory, 1e300 was cast undefined; a
// last_played in milliseconds or before 1970 was kept as it came (or silently as now).
TEST(HistoryFiles, BeetsCountsAndTimesAreBounded) {
  const std::string dir = test::temp_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"path": "/m/a.flac", "play_count": 1e12})", "\"play_count\" is 1000000000000.0, not a count from 0 to 100000"},
      {R"({"path": "/m/a.flac", "play_count": 1e300})", "\"play_count\" is 1e+300, not a count"},
      {R"({"path": "/m/a.flac", "skip_count": -1})", "\"skip_count\" is -1, not a count"},
      {R"({"path": "/m/a.flac", "play_count": 2.5})", "\"play_count\" is 2.5, not a count"},
      {R"({"path": "/m/a.flac", "play_count": 2, "last_played": -100})", "\"last_played\" is not a time"},
      {R"({"path": "/m/a.flac", "play_count": 2, "last_played": 1700000000000})", "\"last_played\" is not a time"},
      {R"({"path": "/m/a.flac", "play_count": 2, "last_played": 99999999999})", "played in the future"},
      // Hostile pass 9: a rating outside mpdstats' 0..1 was counted as "0 rating(s) set" without a
      // word, and a NaN (a beets field written as Python's json writes it) gave nlohmann's raw
      // "[json.exception.parse_error.101] ...".
      {R"({"path": "/m/a.flac", "rating": -0.5})", "\"rating\" is -0.5, not a rating from 0 to 1"},
      {R"({"path": "/m/a.flac", "rating": 7})", "\"rating\" is 7, not a rating from 0 to 1"},
      {R"({"path": "/m/a.flac", "rating": NaN})",
       "not a JSON object: column 33: NaN is not a JSON number (JSON has no NaN or infinity)"},
      {R"({"path": "/m/a.flac", "play_count": -Infinity})", "not a JSON object: column 37: -Infinity is not a JSON number"},
      {R"({"path": "/m/a.flac", "play_count": 3)", "not a JSON object: column 38: the text ends inside a value (cut short?)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = write(dir + "/beets" + std::to_string(i) + ".jsonl", cases[i].first + "\n");
    try {
      read_beets_stats(path);
      ADD_FAILURE() << cases[i].first << " was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path + " line 1: " + cases[i].second), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
    }
  }
  const std::vector<BeetsTrackStats> fine =
      read_beets_stats(write(dir + "/fine.jsonl", R"({"path": "/m/a.flac", "play_count": 100000, "last_played": 1700000000.5})" "\n"));
  ASSERT_EQ(fine.size(), 1u);
  EXPECT_EQ(fine[0].play_count, 100000);
  EXPECT_EQ(fine[0].last_played, 1700000000);
}

TEST(HistoryFiles, LastFmCsvWithAndWithoutHeader) {
  const std::string dir = test::temp_dir();
  // lastfm.ghan.nl: a header row, unix seconds and UTC text, MBIDs; quoted fields with commas.
  const std::string with = write(dir + "/scrobbles-ann.csv",
                                 "\xEF\xBB\xBFuts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\r\n"
                                 "1700000000,\"14 Nov 2023, 22:13\",Queen,x,A Night at the Opera,y,Bohemian Rhapsody,"
                                 "b1a9c0e9-d987-4042-ae91-78d6a3267d69\r\n"
                                 "1700003600,\"15 Nov 2023, 00:13\",\"Crosby, Stills & Nash\",,,,Helplessly Hoping,\r\n");
  HistoryFile f = read_history_file(with);
  EXPECT_EQ(f.format, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].album, "A Night at the Opera");
  EXPECT_EQ(f.listens[0].title, "Bohemian Rhapsody");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_EQ(f.listens[1].artist, "Crosby, Stills & Nash");
  EXPECT_EQ(f.listens[1].where, with + " row 3");
  // lastfm-to-csv: no header, artist,album,track,date with the date as text.
  const std::string without = write(dir + "/lastfm.csv",
                                    "Queen,A Night at the Opera,Bohemian Rhapsody,14 Nov 2023 22:13\n"
                                    "Adele,25,Hello,\"15 Nov 2023, 00:13\"\n");
  f = read_history_file(without);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000 - 20);  // 22:13:00, not 22:13:20
  EXPECT_EQ(f.listens[1].title, "Hello");
  EXPECT_EQ(f.listens[1].played_at, 1700007180);
}

TEST(HistoryFiles, LastFmJson) {
  // The API's pages as export tools save them: fields as {"#text": ...}, date {"uts": ...}, the
  // "now playing" entry (no date) left out; and a plain array of scrobbles.
  const std::string pages = write(test::temp_dir() + "/scrobbles.json", R"([
    {"track": [
      {"artist": {"mbid": "", "#text": "Adele"}, "album": {"#text": "25"}, "name": "Hello", "mbid": "", "@attr": {"nowplaying": "true"}},
      {"artist": {"#text": "Queen"}, "album": {"#text": "A Night at the Opera"}, "name": "Bohemian Rhapsody",
       "mbid": "b1a9c0e9-d987-4042-ae91-78d6a3267d69", "date": {"uts": "1700000000", "#text": "14 Nov 2023, 22:13"}}
    ]},
    {"track": [{"artist": {"#text": "Adele"}, "album": {"#text": "25"}, "name": "Hello", "date": {"uts": "1699990000"}}]}
  ])");
  HistoryFile f = read_history_file(pages);
  EXPECT_EQ(f.format, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[1].played_at, 1699990000);
  const std::string flat = write(test::temp_dir() + "/flat.json",
                                 R"([{"artist": "Adele", "album": "25", "track": "Hello", "timestamp": 1699990000000}])");
  f = read_history_file(flat, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 1u);
  EXPECT_EQ(f.listens[0].played_at, 1699990000);  // milliseconds
}

TEST(HistoryFiles, Times) {
  int64_t t = 0;
  ASSERT_TRUE(parse_history_time("1700000000", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14T22:13:20Z", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14T23:13:20+01:00", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14 22:13:20", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2024-02-29", t));
  EXPECT_EQ(t, 1709164800);
  ASSERT_TRUE(parse_history_time("14 Nov 2023, 22:13", t));
  EXPECT_EQ(t, 1699999980);
  for (const char* bad : {"", "yesterday", "2023-13-01", "14 Nov", "2023-11-14T25:00", "12:30", "1e400"})
    EXPECT_FALSE(parse_history_time(bad, t)) << bad;
}

// MPD's moments into plays: a song heard to its end is a play, one left early a skip (before 30 s,
// or half its length for a short one); pauses do not count as heard.
TEST(Listening, PlaysAndSkips) {
  EXPECT_TRUE(is_skip(29, 300));
  EXPECT_FALSE(is_skip(31, 300));
  EXPECT_FALSE(is_skip(11, 20));  // half of a 20 s song
  EXPECT_TRUE(is_skip(9, 20));
  EXPECT_TRUE(is_skip(29, 0));  // length unknown
  PlayWatcher w;
  auto moment = [](int64_t entry, const std::string& uri, bool playing, double elapsed, double now) {
    PlayerMoment m;
    m.stopped = false;
    m.playing = playing;
    m.entry_id = entry;
    m.uri = uri;
    m.elapsed_s = elapsed;
    m.duration_s = 200;
    m.now_s = now;
    return m;
  };
  EXPECT_FALSE(w.observe(moment(1, "a.flac", true, 0, 1000)));
  EXPECT_FALSE(w.observe(moment(1, "a.flac", false, 100, 1100)));  // paused after 100 s
  EXPECT_FALSE(w.observe(moment(1, "a.flac", true, 100, 1500)));   // resumed: the pause is not heard
  auto heard = w.observe(moment(2, "b.flac", true, 0, 1600));      // a ended (100 + 100 s)
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->uri, "a.flac");
  EXPECT_DOUBLE_EQ(heard->seconds_played, 200);
  EXPECT_FALSE(heard->skipped);
  EXPECT_DOUBLE_EQ(heard->started_s, 1000);
  heard = w.observe(moment(3, "b.flac", true, 0, 1610));  // the same file queued again: another entry
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->uri, "b.flac");
  EXPECT_TRUE(heard->skipped);
  PlayerMoment stop;
  stop.now_s = 1700;
  heard = w.observe(stop);
  ASSERT_TRUE(heard);
  EXPECT_DOUBLE_EQ(heard->seconds_played, 90);
  EXPECT_FALSE(heard->skipped);
  EXPECT_FALSE(w.finish(1800));
}

// A song whose length MPD never gave (none until its decoder started: a 3 s song can end before
// the radio sees one) was judged by the 30 s rule, so a short song heard whole was a skip (the
// Mpd.History test failed so once under load). The indexed track's length judges it.
TEST(Listening, ASongWhoseLengthThePlayerNeverGaveIsJudgedByTheIndexedLength) {
  const std::string db = test::temp_dir() + "/heard-without-length.db";
  std::filesystem::remove(db);
  int64_t user = 0;
  {
    auto s = store::open_store(db, store::OpenMode::ReadWrite);
    s->set_model(test::small_model());
    test::put_small_track(*s, "/m/short.flac", 's');  // 30 s
    user = test::add_plain_user(*s, "ann");
  }
  PlayRecorder recorder(store::resolve_location(db), user, "mpd");
  HeardSong whole;
  whole.uri = "short.flac";
  whole.seconds_played = 20;  // of the 30 s track: a play (past half of it), a skip by the 30 s rule
  whole.duration_s = 0;
  whole.skipped = is_skip(whole.seconds_played, whole.duration_s);
  ASSERT_TRUE(whole.skipped) << "the 30 s rule alone";
  const std::optional<RecordedPlay> heard = recorder.record(whole, "/m/short.flac", 1700000000);
  ASSERT_TRUE(heard);
  EXPECT_FALSE(heard->skipped);
  EXPECT_DOUBLE_EQ(heard->duration_s, 30);
  EXPECT_DOUBLE_EQ(heard->seconds_played, 20);
  EXPECT_TRUE(whole.skipped) << "the song given is the player's, not rewritten by the verdict";
  EXPECT_DOUBLE_EQ(whole.duration_s, 0);
  HeardSong early = whole;
  early.seconds_played = 5;
  early.skipped = true;
  const std::optional<RecordedPlay> left = recorder.record(early, "/m/short.flac", 1700000100);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->skipped) << "5 s of a 30 s song is still a skip";
  EXPECT_FALSE(recorder.record(early, "/m/not indexed.flac", 1700000200)) << "a file the index does not have";
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  const auto plays = s->plays(user, 0, 10);
  ASSERT_EQ(plays.size(), 2u);
  int skips = 0;
  for (const auto& p : plays) skips += p.skipped;
  EXPECT_EQ(skips, 1);
}

}  // namespace
}  // namespace clap::service
