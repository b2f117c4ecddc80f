// Last.fm scrobble exports (service/history_files.h): CSV with or without a header row, and
// JSON (scrobbles, or the API's recenttracks pages as export tools save them).
#include <algorithm>
#include <nlohmann/json.hpp>

#include <unicode/utf8.h>

#include <cstdint>
#include <cstdio>

#include "core/csv.h"
#include "core/error.h"
#include "core/json_problem.h"
#include "core/utf8.h"
#include "service/history_files.h"

namespace clap::service {
namespace {

using json = nlohmann::json;

// The names export tools give each column (lower case), best first.
const std::vector<std::string> kArtist = {"artist", "artist_name", "artist name", "artistname"};
const std::vector<std::string> kAlbum = {"album", "album_name", "album name", "release", "release_name"};
const std::vector<std::string> kTitle = {"track", "title", "name", "track_name", "track name", "song", "trackname"};
const std::vector<std::string> kTime = {"uts", "timestamp", "unix", "unix_timestamp", "date_uts", "played_at", "utc_time",
                                        "date", "time", "datetime", "date_time", "scrobble_time", "listened_at"};
const std::vector<std::string> kMbid = {"track_mbid", "recording_mbid", "mbid"};

int column_of(const std::vector<std::string>& header, const std::vector<std::string>& names) {
  for (const std::string& name : names)
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
  return -1;
}

// A CSV export that is not UTF-8 (a spreadsheet's "CSV" saved in its locale's code page: Latin-1,
// Windows-1252) was read as it was: every accented name became U+FFFD, its scrobbles went
// unresolved and the import said exit 0 (hostile pass 22, H22P-5). JSON exports are refused for
// it (json_problem's words); a CSV is now too, naming the line, the column and the byte.
void check_csv_utf8(std::string_view text, const std::string& where) {
  if (is_valid_utf8(text)) return;
  size_t line = 1;
  for (size_t pos = 0; pos <= text.size(); ++line) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view one = text.substr(pos, end - pos);
    pos = end + 1;
    if (is_valid_utf8(one)) continue;
    std::string at;
    if (one.size() <= INT32_MAX) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(one.data());
      const auto length = static_cast<int32_t>(one.size());
      for (int32_t i = 0; i < length;) {
        const int32_t start = i;
        UChar32 c;
        U8_NEXT(bytes, i, length, c);  // c < 0: ill-formed
        if (c < 0) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02X", bytes[start]);
          at = " (byte " + std::string(hex) + " at column " + std::to_string(start + 1) + ")";
          break;
        }
      }
    }
    throw Error(where + " line " + std::to_string(line) + ": holds bytes that are not UTF-8" + at +
                " (ill-formed UTF-8, e.g. Latin-1 or Windows-1252): save the file as UTF-8 (a spreadsheet's \"CSV UTF-8\")");
  }
}

}  // namespace

std::vector<Listen> parse_lastfm_csv(std::string_view text, const std::string& where) {
  check_csv_utf8(text, where);
  const CsvRows rows = parse_csv(std::string(text), where);
  if (rows.empty()) throw Error(where + ": the history file is empty");
  // A header row names its columns; a data row has a time in it. The time decides: a headerless
  // export's first scrobble may be named like a column (Pink Floyd's "Time", a song called "Song"
  // or "Name", an album "Album"), and a header row holds no time.
  // A spreadsheet's "CSV" in a locale whose decimal mark is a comma is separated by ';' (Excel
  // in German or French), and a TSV by tabs: one column each row, which was "row 1: 1 columns,
  // expected 4 (artist,album,track,date) - truncated or not a Last.fm export" (hostile pass 21).
  if (rows[0].size() == 1)
    for (const char separator : {';', '\t'})
      if (std::count(rows[0][0].begin(), rows[0][0].end(), separator) >= 2)
        throw Error(where + ": its rows are separated by " + (separator == ';' ? "semicolons (;)" : "tabs") +
                    ", not commas: a Last.fm export is comma-separated CSV (save it again as CSV with commas)");
  std::vector<std::string> first;
  for (const std::string& cell : rows[0]) first.push_back(ascii_lower(trim_space(cell)));
  int artist = 0, album = 1, title = 2, time = 3, mbid = -1;
  size_t start = 0;
  const bool has_time = std::any_of(rows[0].begin(), rows[0].end(), [](const std::string& cell) {
    int64_t unix_s = 0;
    return parse_history_time(cell, unix_s);
  });
  const bool header =
      !has_time && (column_of(first, kArtist) >= 0 || column_of(first, kTitle) >= 0 || column_of(first, kTime) >= 0);
  if (header) {
    artist = column_of(first, kArtist);
    album = column_of(first, kAlbum);
    title = column_of(first, kTitle);
    time = column_of(first, kTime);
    mbid = column_of(first, kMbid);
    if (artist < 0 || title < 0 || time < 0)
      throw Error(where + ": the header row names no " + std::string(artist < 0 ? "artist" : title < 0 ? "track" : "time") +
                  " column (a Last.fm export has artist, album, track and time columns)");
    start = 1;
  }
  std::vector<Listen> out;
  out.reserve(rows.size() - start);
  const int needed = std::max({artist, album, title, time, mbid});
  for (size_t r = start; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string at = where + " row " + std::to_string(r + 1);
    if (static_cast<int>(row.size()) <= needed)
      throw Error(at + ": " + std::to_string(row.size()) + " columns, expected " + std::to_string(needed + 1) +
                  (header ? " (as the header row)" : " (artist,album,track,date)") + " - truncated or not a Last.fm export");
    Listen l;
    l.where = at;
    l.artist = trim_space(row[artist]);
    l.title = trim_space(row[title]);
    if (album >= 0) l.album = trim_space(row[album]);
    if (mbid >= 0) l.mbid = trim_space(row[mbid]);
    if (!parse_history_time(row[time], l.played_at))
      throw Error(at + ": '" + row[time].substr(0, 64) + "' is not a time (unix seconds or a date such as 31 Jan 2021 12:34)");
    check_play_time(l.played_at, at);
    if (l.artist.empty() || l.title.empty()) throw Error(at + ": a scrobble without " + std::string(l.artist.empty() ? "artist" : "track"));
    out.push_back(std::move(l));
  }
  if (out.empty()) throw Error(where + ": the history file holds only a header row");
  return out;
}

namespace {

// A field that is text, or an object {"#text": ...} / {"name": ...} (the Last.fm API's shape).
std::string text_of(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    for (const char* inner : {"#text", "name", "text"})
      if (const auto t = it->find(inner); t != it->end() && t->is_string() && !t->get_ref<const std::string&>().empty())
        return t->get<std::string>();
  }
  return "";
}

// The scrobble's time: "date": {"uts": ...} or text or a number, or "uts" / "timestamp" / "time".
// False when there is none, or when the field there is no time: then `unreadable` shows it,
// `"date" {"uts":"1704100000abc"}` (it was "a scrobble without a time" whatever the value was,
// hostile pass 21, as if the field were missing).
bool time_of(const json& obj, int64_t& unix_s, std::string& unreadable) {
  for (const char* key : {"date", "uts", "timestamp", "time", "played_at", "listened_at"}) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) continue;
    bool read = false;
    if (it->is_object()) {
      // A number goes through the text rules too: a negative or non-finite one is no time.
      if (const auto u = it->find("uts"); u != it->end())
        read = u->is_number() ? parse_history_time(u->dump(), unix_s)
                              : u->is_string() && parse_history_time(u->get_ref<const std::string&>(), unix_s);
      else
        read = parse_history_time(text_of(obj, key), unix_s);
    } else if (it->is_number()) {
      read = parse_history_time(it->dump(), unix_s);
    } else if (it->is_string()) {
      read = parse_history_time(it->get_ref<const std::string&>(), unix_s);
    }
    // json_echo, not dump(): a "date" of a million nested arrays overflowed dump()'s recursion
    // (as "listened_at" did, H16S-1; HistoryFiles.DeeplyNestedValuesAreNamedNotFollowed).
    if (!read) {  // appended piece by piece: GCC 12's -Wrestrict misreads "\"" + std::string(key)
      unreadable = '"';
      unreadable += key;
      unreadable += "\" ";
      unreadable += json_echo(*it);
    }
    return read;
  }
  return false;
}

bool now_playing(const json& obj) {
  const auto attr = obj.find("@attr");
  if (attr == obj.end() || !attr->is_object()) return false;
  const auto np = attr->find("nowplaying");
  return np != attr->end() && ((np->is_string() && np->get_ref<const std::string&>() == "true") || (np->is_boolean() && np->get<bool>()));
}

void add_scrobble(const json& s, const std::string& at, std::vector<Listen>& out) {
  if (!s.is_object()) throw Error(at + ": not a scrobble (a JSON object with artist, track and date)");
  if (now_playing(s)) return;
  Listen l;
  l.where = at;
  l.artist = text_of(s, "artist");
  l.album = text_of(s, "album");
  for (const char* key : {"name", "track", "title"})
    if (l.title.empty()) l.title = text_of(s, key);
  l.mbid = text_of(s, "mbid");
  if (l.mbid.empty()) l.mbid = text_of(s, "track_mbid");
  std::string unreadable;
  if (!time_of(s, l.played_at, unreadable))
    throw Error(at + (unreadable.empty() ? ": a scrobble without a time (date, uts or timestamp)"
                                         : ": its " + unreadable + " is not a time (unix seconds or a date such as 31 Jan 2021 12:34)"));
  check_play_time(l.played_at, at);
  if (l.artist.empty() || l.title.empty()) throw Error(at + ": a scrobble without " + std::string(l.artist.empty() ? "artist" : "track"));
  out.push_back(std::move(l));
}

// The scrobbles of a page object, or none when `j` is a scrobble itself. The Last.fm API gives a
// page holding one scrobble as {"recenttracks": {"track": {...}}}: the object, not a list of one
// (its XML turned into JSON), as the last page of an export often is.
std::vector<const json*> page_tracks(const json& j) {
  std::vector<const json*> out;
  if (!j.is_object()) return out;
  const json* page = &j;
  if (const auto rt = j.find("recenttracks"); rt != j.end() && rt->is_object()) page = &*rt;
  for (const char* key : {"track", "scrobbles", "tracks"}) {
    const auto t = page->find(key);
    if (t == page->end()) continue;
    if (t->is_array()) {
      for (const json& s : *t) out.push_back(&s);
      return out;
    }
    if (page != &j && t->is_object()) return {&*t};
  }
  return out;
}

}  // namespace

std::vector<Listen> parse_lastfm_json(std::string_view text, const std::string& where) {
  json all;
  try {
    all = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": not JSON (truncated or damaged: " + json_problem(text, e) + ")");
  }
  std::vector<Listen> out;
  auto add_list = [&](const json& list, const std::string& prefix) {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string at = prefix + "scrobble " + std::to_string(i + 1);
      if (const std::vector<const json*> inner = page_tracks(list[i]); !inner.empty()) {
        for (size_t k = 0; k < inner.size(); ++k)
          add_scrobble(*inner[k], where + " page " + std::to_string(i + 1) + " scrobble " + std::to_string(k + 1), out);
      } else {
        add_scrobble(list[i], where + " " + at, out);
      }
    }
  };
  if (all.is_array()) {
    add_list(all, "");
  } else if (const std::vector<const json*> tracks = page_tracks(all); !tracks.empty()) {
    for (size_t i = 0; i < tracks.size(); ++i) add_scrobble(*tracks[i], where + " scrobble " + std::to_string(i + 1), out);
  } else {
    throw Error(where + ": not a Last.fm export (expected an array of scrobbles or {\"recenttracks\": {\"track\": [...]}})");
  }
  if (out.empty()) throw Error(where + ": the history file holds no scrobbles");
  return out;
}

}  // namespace clap::service
