// `clapsearch history` and the commands that read a user's history, with the inputs hostile
// passes 16 to 18 found wrong (real processes over a real index): `--user ""`, a play at time 0,
// an index replaced while an export is read or while its plays wait to be written (both import
// paths), names longer than any tag, an export that is not UTF-8, beets counts adding millions of
// plays, beets' own database, a Last.fm time that is there but unreadable, a ';' or tab separator,
// a CSV that is not UTF-8 and other encodings (hostile pass 22).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "one_song_history.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

std::string write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

int run(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) { return test::run_cli(args, out, err); }

json run_json(const std::string& args) {
  std::string out, err;
  EXPECT_EQ(run(args, &out, &err), 0) << args << ": " << err;
  try {
    return json::parse(out);
  } catch (const json::parse_error&) {
    ADD_FAILURE() << args << ": not JSON: " << out;
    return json();
  }
}

using test::OneSongHistory;

// Hostile pass 16, R16P-2: `--user ""` (a script's unset $USER_NAME) was taken as no --user by
// every command that reads a history: with one user, that user's history, silently (`history
// forget --user "" --before ...` forgot it). Now each refuses it naming the option (exit 2), and
// nothing is read or changed.
TEST(HistoryInputs, AnEmptyUserIsRefusedNamingTheOption) {
  OneSongHistory h(2);
  const std::string on = " --db " + q(h.db);
  ASSERT_EQ(run_json("history import " + q(h.csv) + " --json" + on)["imported"], 2);
  const std::string commands[] = {
      "history --json",
      "history export",
      "history forget --before 2030-01-01",
      "history import " + q(h.csv),
      "taste",
      "mix",
      "eval --user ''",  // eval's own --user (replay the index's plays)
      "bench --for-you --repeat 1",
      "radio --once --mpd 127.0.0.1:1",
  };
  for (const std::string& c : commands) {
    std::string out, err;
    const std::string args = c + (c.find("--user") == std::string::npos ? " --user ''" : "") + on;
    EXPECT_EQ(run(args, &out, &err), 2) << args << ": " << out << err;
    EXPECT_NE(err.find("--user: an empty name names no user"), std::string::npos) << args << ": " << err;
    EXPECT_EQ(out, "") << args;
  }
  EXPECT_EQ(run_json("history --json" + on)["plays"], 2);  // nothing forgotten, nothing imported twice
}

// Hostile pass 17: `history --json` said "first_played": 0 both for a user without plays and for a
// play on 1970-01-01 (time 0, which an export may hold), and a play at 0 was then taken for "none
// yet": the next play became the first. Now no plays is null, and 0 is a time like any other.
TEST(HistoryInputs, APlayAtTimeZeroIsTheFirstAndNoPlaysIsNull) {
  OneSongHistory h(0);
  const std::string on = " --json --db " + q(h.db);
  json s = run_json("history" + on);
  EXPECT_EQ(s["plays"], 0);
  EXPECT_TRUE(s["first_played"].is_null()) << s;
  EXPECT_TRUE(s["last_played"].is_null()) << s;
  const std::string csv = write(h.dir + "/epoch.csv", "artist,album,track,date\nArtist,,Song,0\nArtist,,Song,1704100000\n");
  ASSERT_EQ(run_json("history import " + q(csv) + on)["imported"], 2);
  s = run_json("history" + on);
  EXPECT_EQ(s["plays"], 2);
  EXPECT_EQ(s["first_played"], 0) << s;
  EXPECT_EQ(s["last_played"], 1704100000) << s;
}

// Hostile pass 16 (H16S-2, split16's test left on its wip branch, run here): an index file
// replaced (a backup put back) while `history import` reads its export: the import wrote the
// plays into the old file, which nothing reads again, and said "imported 3 plays". The beets path
// had the same one-line check and no test. The export comes through a pipe written only once the
// import holds the index open and the copy has been moved over it, so the order is certain.
TEST(HistoryInputs, AnIndexReplacedWhileTheExportIsReadGetsItsPlaysOrSaysSo) {
  for (const bool beets : {false, true}) {
    OneSongHistory h(3, beets ? "beets" : "lastfm");
    const std::string backup = h.dir + "/backup.db", fifo = h.dir + "/export.fifo";
    fs::copy_file(h.db, backup);
    std::string file = h.csv, format;
    if (beets) {
      file = write(h.dir + "/beets.jsonl", R"({"artist": "Artist", "title": "Song", "play_count": 3, "last_played": 1704100000})" "\n");
      format = " --format beets";
    }
    const std::string script =
        "mkfifo " + q(fifo) + " && { " + test::cli_command() + " history import -" + format + " --db " + q(h.db) + " < " + q(fifo) +
        " & pid=$!; exec 3> " + q(fifo) + "; " +
        "until ls -l /proc/$pid/fd 2>/dev/null | grep -q " + q("library.db$") + " || ! kill -0 $pid 2>/dev/null; do sleep 0.05; done; " +
        "mv " + q(backup) + " " + q(h.db) + " && cat " + q(file) + " >&3; exec 3>&-; wait $pid; }";
    std::string out, err;
    const int rc = test::run_command("bash -c " + q(script), &out, &err);
    EXPECT_EQ(rc, 1) << (beets ? "beets: " : "lastfm: ") << out << err;
    EXPECT_NE(err.find(h.db + ": the index file was replaced (deleted and made again, or another moved over it) while "
                       "standard input was read: nothing was imported"),
              std::string::npos)
        << out << err;
    EXPECT_EQ(run_json("history --json --db " + q(h.db))["plays"], 0);
    // The import again, on the file there now: the plays are kept.
    std::string again_out, again_err;
    EXPECT_EQ(run("history import " + q(file) + format + " --db " + q(h.db), &again_out, &again_err), 0) << again_err;
    EXPECT_EQ(run_json("history --json --db " + q(h.db))["plays"], 3) << (beets ? "beets" : "lastfm");
  }
}

// Hostile pass 17, H17P-2 (made to happen in pass 18): the replacement check ran before the
// writes, which wait for another writer's lock (a scrobble, another import) up to the busy
// timeout. A file moved over the index meanwhile: the plays went into the old file and the import
// said "imported 3" (exit 0) with none in the index there. Here another connection holds the write
// lock; the import is started, and once it sleeps in SQLite's busy wait (past its reading and
// its first check) the backup is moved over the index and the lock let go. Now the import says
// the file was replaced and what went into the old one (exit 1); importing again adds the plays.
TEST(HistoryInputs, AnIndexReplacedWhileTheImportWaitsToWriteSaysSo) {
  for (const bool beets : {false, true}) {
    SCOPED_TRACE(beets ? "beets" : "lastfm");
    test::OneSongHistory h(3, beets ? "wait-beets" : "wait-lastfm");
    const std::string backup = h.dir + "/backup.db";
    fs::copy_file(h.db, backup);
    std::string file = h.csv, format = "lastfm";
    if (beets) {
      file = write(h.dir + "/beets.jsonl", R"({"artist": "Artist", "title": "Song", "play_count": 3, "last_played": 1704100000})" "\n");
      format = "beets";
    }
    sqlite3* lock = nullptr;
    ASSERT_EQ(sqlite3_open(h.db.c_str(), &lock), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    const test::Child c = test::start_cli({"history", "import", file, "--format", format, "--db", h.db});
    // Until the import sleeps in the busy wait (or ends): a condition, not a time.
    const std::string wchan = "/proc/" + std::to_string(c.pid) + "/wchan";
    std::string where;
    for (int i = 0; i < 6000 && where.find("nanosleep") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::ifstream in(wchan);
      if (!in) break;
      std::getline(in, where);
    }
    EXPECT_NE(where.find("nanosleep"), std::string::npos) << "the import did not wait for the lock: " << where;
    fs::rename(backup, h.db);
    sqlite3_exec(lock, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(lock);
    const int rc = test::wait_exit(c.pid);
    std::stringstream err;
    err << std::ifstream(c.err_path).rdbuf();
    EXPECT_EQ(rc, 1) << err.str();
    EXPECT_NE(err.str().find(h.db + ": the index file was replaced (deleted and made again, or another moved over it) while "
                             "the import of " + file + " waited to write or wrote: 3 plays"),
              std::string::npos)
        << err.str();
    EXPECT_EQ(run_json("history --json --db " + q(h.db))["plays"], 0);
    std::string out, again_err;
    EXPECT_EQ(run("history import " + q(file) + " --format " + format + " --db " + q(h.db), &out, &again_err), 0) << again_err;
    EXPECT_EQ(run_json("history --json --db " + q(h.db))["plays"], 3);
  }
}

// Hostile pass 16, H16S-4: the song resolver folds a listen's names at about 0.35 us a byte, so a
// 300 MB artist took 4 minutes and a 2 GiB one would take 10. A name longer than any tag can be
// (service::kMaxReferenceNameBytes) is not compared: the listen is unresolved, and the reason says
// so, in both formats. A name within the bound is still matched.
TEST(HistoryInputs, ANameLongerThanAnyTagIsLeftUnresolvedSayingWhy) {
  OneSongHistory h(0);
  const std::string on = " --json --db " + q(h.db);
  // Both fold to "artist" (a run of punctuation is one space, trimmed); dots, as the CSV reader
  // trims spaces around a cell. Main matched the 70,006-byte one after folding every byte.
  const std::string padded = "Artist" + std::string(70000, '.');
  const std::string near = "Artist" + std::string(1000, '.');
  const std::string csv = write(h.dir + "/long.csv", "artist,album,track,date\n" + padded + ",,Song,1704100000\n" + near +
                                                         ",,Song,1704103600\n");
  json r = run_json("history import " + q(csv) + on);
  EXPECT_EQ(r["imported"], 1) << r;
  EXPECT_EQ(r["unresolved"], 1) << r;
  ASSERT_EQ(r["unresolved_entries"].size(), 1u) << r;
  EXPECT_NE(r["unresolved_entries"][0]["reason"].get<std::string>().find(
                "the artist is 70006 bytes long, longer than any tag can be (65536 bytes): not compared"),
            std::string::npos)
      << r;
  const std::string jsonl = write(h.dir + "/long.jsonl", R"({"listened_at": 1704107200, "track_metadata": {"artist_name": "Artist", "track_name": "Song)" +
                                                            std::string(70000, ' ') + R"("}})" "\n");
  r = run_json("history import " + q(jsonl) + on);
  EXPECT_EQ(r["unresolved"], 1) << r;
  EXPECT_NE(r.dump().find("the title is 70004 bytes long, longer than any tag can be"), std::string::npos) << r.dump().substr(0, 400);
}

// Hostile pass 16, H16S-3: an export that is not UTF-8 was named by place only ("not JSON here
// (at " ")" for a Latin-1 é). Now the error says why and what to do; nothing is imported.
TEST(HistoryInputs, AnExportThatIsNotUtf8SaysWhy) {
  OneSongHistory h(0);
  const std::string on = " --db " + q(h.db);
  const std::string latin1 = write(h.dir + "/latin1.jsonl", "{\"listened_at\": 1704100000, \"track_metadata\": {\"artist_name\": \"Ton\xe9\", "
                                                              "\"track_name\": \"Song\"}}\n");
  std::string out, err;
  EXPECT_EQ(run("history import " + q(latin1) + on, &out, &err), 1) << out;
  EXPECT_NE(err.find("bytes that are not UTF-8 (ill-formed UTF-8"), std::string::npos) << err;
  EXPECT_NE(err.find("save the file as UTF-8"), std::string::npos) << err;
  EXPECT_EQ(run_json("history --json" + on)["plays"], 0);
}

// Hostile pass 21, H21P-1: each beets count is bounded (100,000), their sum was not: a file of
// 100 lines of 100,000 plays added 10 million plays (2.7 GB resident, 1 GB of index), and a few
// thousand lines would take all the memory. More than a million plays and skips in one import is
// refused naming the file, and nothing is imported; the same counts sent in parts import.
TEST(HistoryInputs, BeetsCountsAddingMillionsOfPlaysAreRefusedWhole) {
  OneSongHistory h(0);
  for (int i = 1; i < 6; ++i)
    test::ffmpeg(h.dir + "/music/s" + std::to_string(i) + ".flac",
                 "-f lavfi -i \"sine=f=" + std::to_string(330 + 110 * i) + ":d=1:sample_rate=16000\"");
  std::string out, err;
  ASSERT_EQ(run("index " + q(h.dir + "/music") + " --db " + q(h.db) + " --quiet --model " + q(test::case_dir("tiny-unfused")), &out, &err), 0)
      << err;
  // Six songs of 100,000 plays and 100,000 skips: 1.2 million in all.
  std::string all, part;
  for (const std::string name : {"a", "s1", "s2", "s3", "s4", "s5"}) {
    const std::string line = R"({"path": ")" + h.dir + "/music/" + name + R"(.flac", "play_count": 100000, "skip_count": 100000})" "\n";
    all += line;
    if (part.empty()) part = line;
  }
  const std::string file = write(h.dir + "/beets.jsonl", all);
  const std::string on = " --format beets --user ann --db " + q(h.db);
  EXPECT_EQ(run("history import " + q(file) + on, &out, &err), 1) << out;
  EXPECT_NE(err.find(file + ": the beets counts add 1200000 plays and skips, more than 1000000 in one import"), std::string::npos) << err;
  EXPECT_NE(err.find("Nothing was imported; send a part at a time"), std::string::npos) << err;
  EXPECT_EQ(run_json("history --json --user ann --db " + q(h.db))["plays"], 0);
  // One song's counts (200,000) import; the whole file again then adds 1 million: at the bound, taken.
  const json one = run_json("history import " + q(write(h.dir + "/one.jsonl", part)) + on + " --json");
  EXPECT_EQ(one["plays"], 100000) << one;
  EXPECT_EQ(one["skips"], 100000) << one;
  const json rest = run_json("history import " + q(file) + on + " --json");
  EXPECT_EQ(rest["plays"].get<int64_t>() + rest["skips"].get<int64_t>(), 1000000) << rest;
  EXPECT_EQ(rest["already"], 200000) << rest;
}

// Hostile pass 21, H21P-2: beets' own library.db (where a beets user's counts are) given to
// `history import` was "binary data, not text": it names the file as an SQLite database now and
// says what imports a beets library's counts. Under every --format; nothing imported.
TEST(HistoryInputs, AnSqliteDatabaseSaysWhatImportsABeetsLibrary) {
  OneSongHistory h(0);
  sqlite3* db = nullptr;
  const std::string beets = h.dir + "/beets-library.db";
  ASSERT_EQ(sqlite3_open(beets.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE items (id INTEGER PRIMARY KEY, path BLOB, play_count INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  for (const std::string format : {"", " --format beets", " --format lastfm", " --format listenbrainz"}) {
    std::string out, err;
    EXPECT_EQ(run("history import " + q(beets) + format + " --db " + q(h.db), &out, &err), 1) << format << out;
    EXPECT_NE(err.find(beets + ": not a history export: an SQLite database (a beets library"), std::string::npos) << format << err;
    EXPECT_NE(err.find("`beet clapsearch history`"), std::string::npos) << format << err;
  }
  EXPECT_EQ(run_json("history --json --db " + q(h.db))["plays"], 0);
}

// Hostile pass 21, H21P-3: a Last.fm JSON scrobble whose time is there but unreadable ("uts":
// "1704100000abc", "0x65A0", "+1704100000", a date that is no date) was "a scrobble without a
// time (date, uts or timestamp)", as if the field were missing. Now the field and its value are
// named; a scrobble with no time at all is still said to have none. Nothing imported.
TEST(HistoryInputs, AnUnreadableLastFmJsonTimeIsNamedWithItsValue) {
  OneSongHistory h(0);
  const std::string on = " --db " + q(h.db);
  const std::pair<std::string, std::string> cases[] = {
      {R"("date": {"uts": "1704100000abc", "#text": "01 Jan 2024, 09:06"})", R"("date" {"#text":"01 Jan 2024, 09:06","uts":"1704100000abc"} is not a time)"},
      {R"("date": {"uts": "0x65A0"})", R"("date" {"uts":"0x65A0"} is not a time)"},
      {R"("timestamp": "+1704100000")", R"("timestamp" "+1704100000" is not a time)"},
      {R"("date": "30 Feb 2024 10:00")", R"("date" "30 Feb 2024 10:00" is not a time)"},
      {R"("date": true)", R"("date" true is not a time)"},
      {R"("album": "x")", "a scrobble without a time (date, uts or timestamp)"},
  };
  for (const auto& [time, said] : cases) {
    const std::string file = write(h.dir + "/scrobbles.json", R"([{"artist": "Artist", "name": "Song", )" + time + "}]");
    std::string out, err;
    EXPECT_EQ(run("history import " + q(file) + on, &out, &err), 1) << time << out;
    EXPECT_NE(err.find(file + " scrobble 1: " + (said[0] == '"' ? "its " : "") + said), std::string::npos) << time << "\n" << err;
  }
  EXPECT_EQ(run_json("history --json" + on)["plays"], 0);
}

// Hostile pass 21, H21P-5: a Last.fm export saved again by a spreadsheet whose locale separates
// by ';' (Excel in German or French), or as TSV, was "row 1: 1 columns, expected 4
// (artist,album,track,date) - truncated or not a Last.fm export". Now the separator is named.
TEST(HistoryInputs, ASemicolonOrTabSeparatedExportNamesItsSeparator) {
  OneSongHistory h(0);
  const std::string on = " --db " + q(h.db);
  for (const auto& [text, said] : std::vector<std::pair<std::string, std::string>>{
           {"artist;album;track;date\nArtist;;Song;1704100000\n", "semicolons (;)"},
           {"Artist;;Song;1704100000\n", "semicolons (;)"},
           {"artist\talbum\ttrack\tdate\nArtist\t\tSong\t1704100000\n", "tabs"}}) {
    const std::string file = write(h.dir + "/scrobbles.csv", text);
    std::string out, err;
    EXPECT_EQ(run("history import " + q(file) + on, &out, &err), 1) << text << out;
    EXPECT_NE(err.find(file + ": its rows are separated by " + said + ", not commas: a Last.fm export is comma-separated CSV"),
              std::string::npos)
        << text << "\n" << err;
  }
  // A comma-separated export whose names hold semicolons still imports.
  const std::string fine = write(h.dir + "/fine.csv", "artist,album,track,date\nArtist,A;B;C,Song,1704100000\n");
  EXPECT_EQ(run_json("history import " + q(fine) + " --json" + on)["imported"], 1);
}

// Hostile pass 22. H22P-5: a Last.fm CSV saved in Latin-1 or Windows-1252 (a spreadsheet's "CSV"
// in its locale's code page) was imported with every accented name turned into U+FFFD: its
// scrobbles all unresolved, exit 0. It is refused as a JSON export is, naming the line, the column
// and the byte. H22P-6: UTF-32 with its byte order mark was called "UTF-16 text", UTF-16 without
// one "binary data, not text". H22P-7: JSON lines ending with a carriage return alone (an old Mac
// OS file: the whole file is one line) were "cut short (the file is truncated)". Nothing imported.
TEST(HistoryInputs, ACsvNotInUtf8AndOtherEncodingsAreNamed) {
  OneSongHistory h(0);
  const std::string on = " --db " + q(h.db);
  const std::string csv = "artist,album,track,date\nArtist,,Song,1704100000\nTon\xe9,Alb,Song,1704103600\n";
  std::string utf16le, utf32 = std::string("\xFF\xFE\0\0", 4);
  for (const char c : csv) {
    utf16le += std::string{c, '\0'};
    utf32 += std::string{c, '\0', '\0', '\0'};
  }
  const std::string listen = R"({"listened_at": 1704100000, "track_metadata": {"artist_name": "Artist", "track_name": "Song"}})";
  for (const auto& [name, text, said] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"latin1.csv", csv, "latin1.csv line 3: holds bytes that are not UTF-8 (byte 0xE9 at column 4)"},
           {"utf32.csv", utf32, "utf32.csv: not a history export clapsearch reads: UTF-32 text; save it as UTF-8"},
           {"utf16.csv", utf16le, "utf16.csv: not a history export clapsearch reads: UTF-16 text (little-endian, without a byte order mark)"},
           {"mac.jsonl", listen + "\r" + listen + "\r", "its lines end with a carriage return alone"}}) {
    const std::string file = write(h.dir + "/" + name, text);
    std::string out, err;
    EXPECT_EQ(run("history import " + q(file) + on, &out, &err), 1) << name << out;
    EXPECT_NE(err.find(said), std::string::npos) << name << "\n" << err;
    EXPECT_EQ(err.find("truncated"), std::string::npos) << name << "\n" << err;
  }
  EXPECT_EQ(run_json("history --json" + on)["plays"], 0);
  // A listens file whose last line is cut is still said to be cut short.
  const std::string cut = write(h.dir + "/cut.jsonl", listen + "\n" + listen.substr(0, 40));
  std::string out, err;
  EXPECT_EQ(run("history import " + q(cut) + on, &out, &err), 1) << out;
  EXPECT_NE(err.find("cut.jsonl line 2: cut short (the file is truncated)"), std::string::npos) << err;
  // The same CSV in UTF-8 imports.
  const json fine = run_json("history import " + q(write(h.dir + "/utf8.csv", "artist,album,track,date\nArtist,,Song,1704100000\n")) +
                             " --json" + on);
  EXPECT_EQ(fine["imported"], 1) << fine;
}

}  // namespace
}  // namespace clap
