// Reading listening-history exports (issue 55, "One history"): what other services kept of what
// a person played, as a list of listens the history import resolves against the library
// (service/history.h) and `clapsearch eval --history` replays.
//
// Formats:
//   * ListenBrainz: the export as it arrives (a zip holding listens/YYYY/M.jsonl, one listen per
//     line), a single .jsonl of such lines, or an older export's JSON array of listens. A listen is
//     {"listened_at": unix seconds (or date text), "track_metadata": {"artist_name", "track_name",
//     "release_name", "additional_info": {"recording_mbid", "isrc", "duration_ms" | "duration"},
//     "mbid_mapping": {"recording_mbid", ...}}}; the MBID ListenBrainz mapped (mbid_mapping) is
//     taken when the submitting player sent none.
//   * Last.fm: a scrobble export as the common export tools write it: CSV with a header row
//     (columns named artist, album, track or title or name, and uts / timestamp / date / time /
//     utc_time, optionally track_mbid or mbid) or without one (artist,album,track,date: the
//     lastfm-to-csv layout), or JSON (an array of scrobbles, or of Last.fm API pages
//     {"track": [...]} / {"recenttracks": {"track": [...]}}, whose fields may be {"#text": ...}
//     objects; a "now playing" entry is no scrobble and is left out).
// Times are unix seconds (milliseconds when the number is that large) or UTC date text
// ("2021-01-31T12:34:56Z", "2021-01-31 12:34", "31 Jan 2021 12:34", "31 Jan 2021, 12:34").
//
// A file is all or nothing: empty, truncated (a last line cut short, a damaged zip entry) or
// wrong-shaped (an entry without a time, artist or title; a time that is not one) is a clap::Error
// naming the file, the entry (zip member and line, or row) and the reason, and no listen is returned.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace clap::service {

enum class HistoryFormat { Auto, ListenBrainz, LastFm };

// "listenbrainz", "lastfm", "auto"; parse_history_format throws clap::InvalidArgument naming the word.
const char* history_format_name(HistoryFormat format);
HistoryFormat parse_history_format(std::string_view word);

// What a history file looks like from its first 64 KiB (on to the end of its first line when that
// is longer: one JSON line is one listen, its keys in any order), named as --format names it: "listenbrainz"
// (a zip, or JSON with "listened_at" or "track_metadata"), "beets" (JSON lines with beets' counts:
// "play_count", "skip_count", "last_played"), "lastfm" (JSON scrobbles with "recenttracks",
// "uts" or "date", or a CSV header), "spotify" (Spotify's streaming history: "ms_played" or
// "msPlayed", which no --format reads), "clapsearch" (`clapsearch history export`'s own lines, which
// no --format reads either); "" when it cannot tell. A --format that disagrees is an
// error naming the file and both formats (check_history_format), not a parser's confused first
// complaint ("names no song" for a ListenBrainz export read as beets, hostile pass 5 H5-12).
std::string history_file_looks_like(std::string_view text, bool zip);
// Throws clap::Error "<path>: not <asked>..." when the file looks like another format than
// `asked` ("listenbrainz", "lastfm", "beets"; "auto" refuses only beets statistics, which
// are counts, not listens, and are imported with --format beets). A Spotify streaming history is
// refused under any --format, as what it is (read as Last.fm it was "a scrobble without a time"),
// and so is clapsearch's own export; so is binary data (a NUL byte where the text would start:
// "<path>: not a history export: binary data, not text ...").
void check_history_format(const std::string& path, std::string_view text, bool zip, std::string_view asked);

// One listen as the export tells it. Any of the identifiers may be empty; duration_s 0 = unknown.
struct Listen {
  int64_t played_at = 0;  // unix seconds, UTC
  std::string artist, title, album;
  std::string mbid, isrc;  // recording MBID, ISRC
  double duration_s = 0;
  std::string where;  // where it was in the file ("listens/2023/5.jsonl line 12", "row 7"), for reports
};

struct HistoryFile {
  HistoryFormat format = HistoryFormat::Auto;  // the format read (never Auto)
  std::vector<Listen> listens;                 // in file order
};

// Reads the export at `path`; `format` Auto detects it (a zip or a listen object/array:
// ListenBrainz; a scrobble array or CSV: Last.fm). Throws clap::Error "<path>: <reason>".
HistoryFile read_history_file(const std::string& path, HistoryFormat format = HistoryFormat::Auto);

// The same, streamed: the listens are handed to `take` in batches, in file order, as they are
// read, and what was handed over is not kept (a million listens held at once took 1.2 GB): a
// JSON-lines export a few tens of MB of text at a time (its pages dropped once parsed), a zip a
// member at a time; a JSON array or a Last.fm export whole. The error of a bad file comes after
// the batches before it were handed over: a caller must not write anything before this returns.
// Returns the format read.
using ListenBatch = std::function<void(std::vector<Listen>&& listens)>;
HistoryFormat read_history_file(const std::string& path, HistoryFormat format, const ListenBatch& take);

// The parsers behind it, on bytes already read (tests, fuzzing); `where` names the file in errors.
std::vector<Listen> parse_listenbrainz_text(std::string_view text, const std::string& where);
// JSON lines of listens (no array) whose first line is line `first_line` of the file; blank text
// gives no listens (the caller decides whether a file without any is an error). `ends_file`: the
// text is the file's end (a bad last line is then a file cut short).
std::vector<Listen> parse_listenbrainz_lines(std::string_view text, const std::string& where, size_t first_line,
                                             bool ends_file = true);
std::vector<Listen> parse_lastfm_csv(std::string_view text, const std::string& where);
std::vector<Listen> parse_lastfm_json(std::string_view text, const std::string& where);

// A time as the exports write it (above) in unix seconds, negative for a date before 1970 (which
// check_play_time refuses as such); false when `text` is none (a date that does not exist, such
// as 31 Feb, included).
bool parse_history_time(std::string_view text, int64_t& unix_s);

// A play's time is a moment already past: from 1970 to tomorrow (a day of clock skew allowed, as
// /rest/scrobble allows). A play kept "in the future" would stay the last one played for years,
// leaving its song out of every mix. Throws clap::Error "<where>: ..." otherwise.
void check_play_time(int64_t unix_s, const std::string& where);

// What is wrong with `text` (one line or a whole file) that nlohmann's parser refused with `e`,
// in words: "column 12: NaN is not a JSON number (JSON has no NaN or infinity)", "column 40: the
// text ends inside a value (cut short?)", "column 3: not JSON here (at "xyz")". `history import`
// showed nlohmann's own "[json.exception.parse_error.101] parse error at line 1, column 12:
// syntax error while parsing value - invalid literal; last read: ..." (hostile pass 9).
std::string json_problem(std::string_view text, const std::exception& e);

}  // namespace clap::service
