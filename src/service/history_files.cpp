// Reading a history export: the file (mapped, or a zip's members inflated), the format's
// detection and the time formats the exports write. The formats' parsers are in
// history_listenbrainz.cpp and history_lastfm.cpp.
#include "service/history_files.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <iterator>
#include <span>
#include <tuple>

#include "checkpoint/zip_directory.h"
#include "core/error.h"
#include "core/json_problem.h"
#include "core/mapped_file.h"
#include "core/regular_file.h"
#include "core/utc_time.h"

#include <nlohmann/json.hpp>

namespace clap::service {

const char* history_format_name(HistoryFormat format) {
  switch (format) {
    case HistoryFormat::ListenBrainz: return "listenbrainz";
    case HistoryFormat::LastFm: return "lastfm";
    case HistoryFormat::Auto: break;
  }
  return "auto";
}

HistoryFormat parse_history_format(std::string_view word) {
  if (word == "listenbrainz") return HistoryFormat::ListenBrainz;
  if (word == "lastfm") return HistoryFormat::LastFm;
  if (word == "auto" || word.empty()) return HistoryFormat::Auto;
  throw InvalidArgument("unknown history format '" + std::string(word) + "' (listenbrainz, lastfm or auto)");
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): no
// timegm, whose result depends on the C library's idea of the zone database.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  void spaces() {
    while (!done() && (s[i] == ' ' || s[i] == ',')) ++i;
  }
  // A run of 1..max digits.
  bool number(int64_t& v, size_t max_digits) {
    const size_t start = i;
    v = 0;
    while (!done() && i - start < max_digits && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
    return i > start;
  }
};

int month_of(std::string_view word) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  if (word.size() < 3) return 0;
  std::string w(word.substr(0, 3));
  for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int m = 0; m < 12; ++m)
    if (w == kMonths[m]) return m + 1;
  return 0;
}

// "[T ]HH:MM[:SS[.fff]]" then an optional "Z" or "+HH:MM" / "-HHMM" offset; adds to `seconds`.
bool parse_clock(Cursor& c, int64_t& seconds) {
  if (c.done()) return true;
  if (!c.eat('T')) c.spaces();
  if (c.done()) return true;
  int64_t h = 0, m = 0, sec = 0;
  if (!c.number(h, 2) || !c.eat(':') || !c.number(m, 2)) return false;
  if (c.eat(':')) {
    if (!c.number(sec, 2)) return false;
    if (c.eat('.'))
      while (!c.done() && std::isdigit(static_cast<unsigned char>(c.peek()))) ++c.i;
  }
  if (h > 23 || m > 59 || sec > 60) return false;
  seconds += h * 3600 + m * 60 + sec;
  while (c.peek() == ' ') ++c.i;
  if (c.eat('Z')) return c.done();
  if (c.peek() == '+' || c.peek() == '-') {
    const int sign = c.s[c.i++] == '-' ? -1 : 1;
    int64_t oh = 0, om = 0;
    if (!c.number(oh, 2)) return false;
    c.eat(':');
    c.number(om, 2);
    if (oh > 23 || om > 59) return false;
    seconds -= sign * (oh * 3600 + om * 60);
  } else if (c.s.substr(c.i) == "UTC" || c.s.substr(c.i) == "GMT") {
    c.i = c.s.size();
  }
  return c.done();
}

}  // namespace

bool parse_history_time(std::string_view text, int64_t& unix_s) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return false;
  // A plain number: unix seconds, or milliseconds (anything past the year 5138 in seconds).
  if (std::all_of(text.begin(), text.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.'; })) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return false;
    if (v >= 1e11) v /= 1000;
    if (v >= 1e11) return false;
    unix_s = static_cast<int64_t>(v);
    return true;
  }
  Cursor c{text};
  int64_t y = 0, mo = 0, d = 0;
  if (std::isdigit(static_cast<unsigned char>(c.peek()))) {
    int64_t first = 0;
    const size_t start = c.i;
    c.number(first, 4);
    if (c.i - start == 4 && c.eat('-')) {  // 2021-01-31
      y = first;
      if (!c.number(mo, 2) || !c.eat('-') || !c.number(d, 2)) return false;
    } else {  // 31 Jan 2021
      d = first;
      c.spaces();
      const size_t word = c.i;
      while (!c.done() && std::isalpha(static_cast<unsigned char>(c.peek()))) ++c.i;
      mo = month_of(text.substr(word, c.i - word));
      c.spaces();
      if (mo == 0 || !c.number(y, 4)) return false;
    }
  } else {
    return false;
  }
  // A date before 1970 is a time (negative unix seconds): check_play_time then says it is before
  // 1970, where "1969-12-31 is not a time" sent the user looking for a typo (hostile pass 22).
  if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
  int64_t seconds = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400;
  if (!parse_clock(c, seconds)) return false;
  unix_s = seconds;
  return true;
}

void check_play_time(int64_t unix_s, const std::string& where) {
  const int64_t tomorrow = static_cast<int64_t>(std::time(nullptr)) + 86400;
  if (unix_s < 0)
    throw Error(where + ": played before 1970 (unix " + std::to_string(unix_s) + "): a play's time is from 1970-01-01 on");
  if (unix_s > tomorrow)
    throw Error(where + ": played in the future (" + utc_date_time(unix_s) + ", unix " + std::to_string(unix_s) +
                "): a wrong time, or milliseconds where seconds belong");
}

namespace {

// How much text an export may hold: a plain file's size, a zip's members uncompressed in all. A
// million listens take about 1 GB; the bound keeps a sparse file, or a zip whose members claim
// (or inflate to) gigabytes from a few bytes, from taking the machine's memory and time.
constexpr uint64_t kMaxHistoryBytes = uint64_t{2} << 30;

// A zip's listens members claiming more than kMaxHistoryBytes: named as the directory's claim, and
// a claim no deflate stream of the zip's size can hold (deflate packs at most about 1032:1) as a
// damaged or hostile directory ("too large" of a 367-byte zip read as a size, R11C-3).
std::string claims_too_much(const std::string& path, uint64_t claimed, size_t members, uint64_t zip_bytes) {
  constexpr uint64_t kDeflateMaxRatio = 1032;
  std::string s = path + ": too large: its zip directory says its " + std::to_string(members) + " listens file(s) hold " +
                  std::to_string(claimed) + " bytes uncompressed, more than the " + std::to_string(kMaxHistoryBytes >> 30) +
                  " GiB a history export is read up to";
  if (claimed / kDeflateMaxRatio > zip_bytes)
    s += " (and more than a zip of " + std::to_string(zip_bytes) + " bytes can hold: a damaged or hostile directory)";
  return s;
}

// A zip member inflated (stored or deflated: what zip tools write); `what` names it in errors.
// The text grows as the data inflate, never past the size the directory claims (a claim is not
// allocated up front: a member claiming 4 GiB over a few bytes costs nothing), and its CRC-32 is
// checked (raw deflate data carry no checksum of their own: damage could read as other listens).
std::string inflate_member(const ZipEntry& e, std::span<const uint8_t> archive, const std::string& what) {
  // The data span was checked against the archive by ZipDirectory, the claimed sizes against
  // kMaxHistoryBytes by the caller.
  const std::span<const uint8_t> data = archive.subspan(e.data_offset, e.compressed_size);
  std::string out;
  if (e.method == 0) {
    out.assign(reinterpret_cast<const char*>(data.data()), data.size());
  } else if (e.method == 8) {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(what + ": cannot start inflating");
    z.next_in = const_cast<Bytef*>(data.data());
    z.avail_in = static_cast<uInt>(std::min<uint64_t>(data.size(), UINT32_MAX));
    constexpr uint64_t kChunk = uint64_t{1} << 20;
    int rc = Z_OK;
    while (rc == Z_OK) {
      // One byte past the claim is room enough to tell a member longer than it says.
      const uint64_t room = std::min<uint64_t>(kChunk, e.size + 1 - out.size());
      if (room == 0) break;
      const size_t have = out.size();
      out.resize(have + room);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
      z.avail_out = static_cast<uInt>(room);
      rc = inflate(&z, Z_NO_FLUSH);
      out.resize(have + room - z.avail_out);
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out.size() != e.size)
      throw Error(what + ": damaged or truncated (the compressed data " +
                  (rc == Z_STREAM_END ? "hold " + std::to_string(out.size()) + " bytes, not " + std::to_string(e.size)
                   : out.size() > e.size ? "hold more than the " + std::to_string(e.size) + " bytes the zip says"
                                         : std::string("end early")) +
                  ")");
  } else {
    throw Error(what + ": compressed with zip method " + std::to_string(e.method) + " (only stored and deflated members are read)");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < out.size(); at += size_t{1} << 30) {
    const size_t n = std::min(out.size() - at, size_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + at), static_cast<uInt>(n));
  }
  if (static_cast<uint32_t>(crc) != e.crc32) throw Error(what + ": damaged (its CRC-32 does not match the zip's directory)");
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The listens of a ListenBrainz export zip: every listens/**.jsonl member (and a bare
// listens.jsonl / *.json array of listens, as older exports and converters write), in name order.
void read_listenbrainz_zip(std::span<const uint8_t> bytes, const std::string& path, const ListenBatch& take) {
  const ZipDirectory zip(bytes, path);
  std::vector<const ZipEntry*> members;
  for (const ZipEntry& e : zip.entries()) {
    if (e.name.empty() || e.name.back() == '/') continue;
    const bool in_listens = e.name.rfind("listens/", 0) == 0 || e.name.find("/listens/") != std::string::npos;
    const std::string base = e.name.substr(e.name.rfind('/') + 1);
    if ((in_listens && ends_with(e.name, ".jsonl")) || base == "listens.jsonl" || base == "listens.json") members.push_back(&e);
  }
  if (members.empty())
    throw Error(path + ": a zip without listens (a ListenBrainz export holds listens/YYYY/M.jsonl files)");
  // Bounded before anything is inflated (members may even share their data: the sizes they claim count).
  uint64_t claimed = 0;
  for (const ZipEntry* e : members) claimed = e->size > UINT64_MAX - claimed ? UINT64_MAX : claimed + e->size;
  if (claimed > kMaxHistoryBytes) throw Error(claims_too_much(path, claimed, members.size(), bytes.size()));
  // listens/2023/10.jsonl after listens/2023/9.jsonl: by year, then month as numbers.
  std::sort(members.begin(), members.end(), [](const ZipEntry* a, const ZipEntry* b) {
    auto key = [](const std::string& n) {
      int64_t year = 0, month = 0;
      const size_t slash = n.rfind('/');
      const size_t prev = slash == std::string::npos || slash == 0 ? std::string::npos : n.rfind('/', slash - 1);
      const std::string y = prev == std::string::npos ? "" : n.substr(prev + 1, slash - prev - 1);
      const std::string m = slash == std::string::npos ? n : n.substr(slash + 1);
      std::from_chars(y.data(), y.data() + y.size(), year);
      std::from_chars(m.data(), m.data() + m.size(), month);
      return std::make_tuple(year, month, n);
    };
    return key(a->name) < key(b->name);
  });
  size_t empty_members = 0, listens = 0;
  for (const ZipEntry* e : members) {
    const std::string what = path + ": " + e->name;
    const std::string text = inflate_member(*e, bytes, what);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      ++empty_members;
      continue;
    }
    std::vector<Listen> part = parse_listenbrainz_text(text, what);
    listens += part.size();
    take(std::move(part));
  }
  if (listens == 0) throw Error(path + ": the export holds no listens (" + std::to_string(empty_members) + " empty listens files)");
}

// JSON lines read a block at a time: about this much text is parsed (on several threads), its
// listens handed over and its pages dropped before the next block.
constexpr size_t kLinesBlock = size_t{32} << 20;

void read_listenbrainz_lines(const MappedFile& file, std::string_view text, const std::string& path, const ListenBatch& take) {
  size_t listens = 0, line = 1, pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos < text.size()) {
    size_t end = text.size();
    if (text.size() - pos > kLinesBlock) {
      const size_t nl = text.find('\n', pos + kLinesBlock);
      if (nl != std::string_view::npos) end = nl + 1;
    }
    const std::string_view block = text.substr(pos, end - pos);
    std::vector<Listen> part = parse_listenbrainz_lines(block, path, line, end == text.size());
    line += static_cast<size_t>(std::count(block.begin(), block.end(), '\n'));
    listens += part.size();
    if (!part.empty()) take(std::move(part));
    file.release(block.data(), block.size());
    pos = end;
  }
  if (listens == 0) throw Error(path + ": the history file holds no listens");
}

// The first byte that is not white space (after a UTF-8 byte order mark), or '\0'.
char first_sign(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  const size_t at = text.find_first_not_of(" \t\r\n");
  return at == std::string_view::npos ? '\0' : text[at];
}

// Binary data where an export's text would start: 1 GiB of NUL bytes was "the history file is
// empty" (the NUL taken for the end of the text), or "not JSON" read as beets (R11C-3). No export
// holds a NUL byte, but most binary files do within their first 64 KiB, or start with a known
// signature: a gzip-compressed export, a sound file or a tar was read as a Last.fm CSV and called
// "row 1: 1 columns, expected 4 ... truncated" (hostile pass 13, H13C-3). A zip is not looked at here.
void check_not_binary(const std::string& path, std::string_view text) {
  const auto starts = [&](std::string_view sig) { return text.substr(0, sig.size()) == sig; };
  const std::string decompress = "; decompress it first, then import the file it holds";
  if (starts("\x1F\x8B")) throw Error(path + ": not a history export: a gzip-compressed file" + decompress + " (gunzip)");
  if (starts("\xFD" "7zXZ")) throw Error(path + ": not a history export: an xz-compressed file" + decompress + " (unxz)");
  if (starts("BZh") && text.size() > 3 && text[3] >= '1' && text[3] <= '9')
    throw Error(path + ": not a history export: a bzip2-compressed file" + decompress + " (bunzip2)");
  if (starts("\x28\xB5\x2F\xFD")) throw Error(path + ": not a history export: a zstd-compressed file" + decompress + " (unzstd)");
  // beets' library.db is what a beets user holds the counts in, and a new user gives it here
  // (hostile pass 21: "binary data, not text" did not say what to do instead).
  if (starts(std::string_view("SQLite format 3\0", 16)))
    throw Error(path + ": not a history export: an SQLite database (a beets library, or a clapsearch index). A beets "
                "library's play counts are sent by the beets plugin: `beet clapsearch history` (docs/integrations.md); a "
                "clapsearch index's history moves with the index (a copy, or `clapsearch migrate`)");
  // UTF-32's byte order marks first: FF FE 00 00 begins with UTF-16's (it was called UTF-16 text,
  // hostile pass 22, H22P-6).
  if (starts(std::string_view("\xFF\xFE\0\0", 4)) || starts(std::string_view("\0\0\xFE\xFF", 4)))
    throw Error(path + ": not a history export clapsearch reads: UTF-32 text; save it as UTF-8");
  if (starts("\xFF\xFE") || starts("\xFE\xFF"))
    throw Error(path + ": not a history export clapsearch reads: UTF-16 text; save it as UTF-8");
  // UTF-16 without a byte order mark: letters of U+0001..U+00FF (Latin text), a NUL byte after
  // (or before) each one. It was "binary data, not text (a NUL byte at byte 1 ...)" (H22P-6).
  const auto utf16_without_bom = [&](size_t nul_at) {
    const size_t n = std::min<size_t>(text.size() & ~size_t{1}, 64);
    if (n < 4) return false;
    for (size_t i = 0; i < n; i += 2) {
      const unsigned char letter = static_cast<unsigned char>(text[i + 1 - nul_at]);
      if (text[i + nul_at] != '\0' || letter == 0) return false;
    }
    return true;
  };
  if (utf16_without_bom(1) || utf16_without_bom(0))
    throw Error(path + ": not a history export clapsearch reads: UTF-16 text (" +
                (utf16_without_bom(1) ? "little" : "big") + "-endian, without a byte order mark); save it as UTF-8");
  const size_t bom = starts("\xEF\xBB\xBF") ? 3 : 0;
  const size_t at = text.find_first_not_of(" \t\r\n", bom);
  if (at == std::string_view::npos) return;
  const size_t nul = text.substr(0, at + 65536).find('\0', at);
  if (nul != std::string_view::npos)
    throw Error(path + ": not a history export: binary data, not text (a NUL byte at byte " + std::to_string(nul) +
                "; an export is JSON, JSON lines, CSV or a zip)");
}

// What the format is told from: the first 64 KiB, and on to the end of the first line when it is
// longer. One JSON line is one listen or scrobble, whose keys may come in any order: a listen
// whose "listened_at" came after 64 KiB of other keys was called Last.fm (R11C-4). The search
// is linear and the file is in memory already.
// Counted from the first sign: 64 KiB of blank lines before the first listen made a ListenBrainz
// file "not a Last.fm export" (hostile pass 13, H13C-3).
std::string_view detection_head(std::string_view text) {
  constexpr size_t kHead = 65536;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  text.remove_prefix(std::min(text.size(), text.find_first_not_of(" \t\r\n")));
  if (text.size() <= kHead) return text;
  const size_t line_end = text.find('\n', kHead);
  return text.substr(0, line_end == std::string_view::npos ? text.size() : line_end);
}

// ListenBrainz or Last.fm, from the bytes: a listen says "track_metadata" or "listened_at".
HistoryFormat detect(std::string_view text) {
  const char c = first_sign(text);
  if (c == '{' || c == '[') {
    const std::string_view head = detection_head(text);
    if (head.find("\"track_metadata\"") != std::string_view::npos || head.find("\"listened_at\"") != std::string_view::npos)
      return HistoryFormat::ListenBrainz;
  }
  return HistoryFormat::LastFm;
}

}  // namespace

std::string history_file_looks_like(std::string_view text, bool zip) {
  if (zip) return "listenbrainz";
  const char c = first_sign(text);
  const std::string_view head = detection_head(text);
  const auto has = [&](const char* key) { return head.find(key) != std::string_view::npos; };
  if (c == '{' || c == '[') {
    if (has("\"track_metadata\"") || has("\"listened_at\"")) return "listenbrainz";
    if (has("\"ms_played\"") || has("\"msPlayed\"")) return "spotify";
    // `clapsearch history export`'s own lines: {"type": "play"|"star"|"rating", "user", ...}.
    if (has("\"type\"") && has("\"user\"") && has("\"content_hash\"") && (has("\"played_at\"") || has("\"kind\"")))
      return "clapsearch";
    if (has("\"play_count\"") || has("\"skip_count\"") || has("\"last_played\"")) return "beets";
    if (has("\"recenttracks\"") || has("\"uts\"") || has("\"date\"")) return "lastfm";
    return "";
  }
  // A CSV: a first line of at least two columns.
  const std::string_view first = head.substr(0, head.find('\n'));
  return first.find_first_of(",;\t") != std::string_view::npos ? "lastfm" : "";
}

namespace {
const char* format_described(std::string_view name) {
  if (name == "listenbrainz") return "a ListenBrainz export";
  if (name == "lastfm") return "a Last.fm export";
  return "beets statistics";
}
}  // namespace

void check_history_format(const std::string& path, std::string_view text, bool zip, std::string_view asked) {
  if (!zip) check_not_binary(path, text);
  const std::string looks = history_file_looks_like(text, zip);
  if (looks == "spotify")
    throw Error(path + ": a Spotify streaming history (ms_played), which clapsearch does not import: history import "
                       "reads ListenBrainz and Last.fm exports (and beets statistics)");
  // Read as a Last.fm export it was "not JSON (truncated or damaged: … line 2 …)": a sound file
  // called damaged (hostile pass 10, H10C-6).
  if (looks == "clapsearch")
    throw Error(path + ": a `clapsearch history export` file, which history import does not read back: it reads ListenBrainz "
                       "and Last.fm exports (and beets statistics); a history moves with its index (copy the index, or "
                       "`clapsearch migrate`)");
  if (looks.empty() || looks == asked) return;
  // Beets statistics are counts, not listens: only `history import --format beets` takes them.
  if (asked == "auto" || asked.empty()) {
    if (looks == "beets")
      throw Error(path + ": looks like " + format_described(looks) + ", counts rather than listens: import it with --format beets");
    return;
  }
  throw Error(path + ": not " + format_described(asked) + " (--format " + std::string(asked) + "): it looks like " +
              format_described(looks) + "; " + (looks == "beets" ? "" : "leave --format out, or ") + "give --format " + looks);
}

HistoryFile read_history_file(const std::string& path, HistoryFormat format) {
  HistoryFile out;
  out.format = read_history_file(path, format, [&](std::vector<Listen>&& listens) {
    if (out.listens.empty()) out.listens = std::move(listens);
    else std::move(listens.begin(), listens.end(), std::back_inserter(out.listens));
  });
  return out;
}

namespace {

// The export at `path`, or standard input for "-", copied into memory (within the same bound
// either way): a mapping of the file itself would kill the import (SIGBUS) when the file is
// truncated while it is read, and a large export is read for a minute (hostile pass 10, H10C-4).
MappedFile map_history_file(const std::string& path) {
  if (path == "-") return MappedFile::standard_input(kMaxHistoryBytes, "a history export is read up to " +
                                                                           std::to_string(kMaxHistoryBytes >> 30) + " GiB");
  // Opened safely first (a FIFO or a device named by mistake is refused, not read forever).
  const int fd = open_regular_file(path);
  if (fd < 0) throw Error(path + ": cannot read the history file: " + open_error(errno));
  struct stat st {};
  const bool sized = ::fstat(fd, &st) == 0;
  ::close(fd);
  // Before it is mapped: a sparse file of terabytes is a regular file too.
  if (sized && static_cast<uint64_t>(st.st_size) > kMaxHistoryBytes)
    throw Error(path + ": too large (" + std::to_string(st.st_size) + " bytes; a history export is read up to " +
                std::to_string(kMaxHistoryBytes >> 30) + " GiB)");
  return MappedFile::read_into_memory(path, kMaxHistoryBytes,
                                      "a history export is read up to " + std::to_string(kMaxHistoryBytes >> 30) + " GiB");
}

}  // namespace

HistoryFormat read_history_file(const std::string& given, HistoryFormat format, const ListenBatch& take) {
  const MappedFile file = map_history_file(given);
  const std::string& path = file.path();  // "standard input" for "-"
  const std::span<const uint8_t> bytes(file.data(), file.size());
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  const bool zip = ZipDirectory::looks_like_zip(bytes);
  if (!zip) check_not_binary(path, text);
  if (first_sign(text) == '\0') throw Error(path + ": the history file is empty");
  check_history_format(path, text, zip, history_format_name(format));
  if (zip) {
    read_listenbrainz_zip(bytes, path, take);
    return HistoryFormat::ListenBrainz;
  }
  const HistoryFormat read = format == HistoryFormat::Auto ? detect(text) : format;
  const char c = first_sign(text);
  if (read == HistoryFormat::ListenBrainz) {
    if (c == '[') take(parse_listenbrainz_text(text, path));
    else read_listenbrainz_lines(file, text, path, take);
  } else {
    take(c == '{' || c == '[' ? parse_lastfm_json(text, path) : parse_lastfm_csv(text, path));
  }
  return read;
}

// The words are core's (core/json_problem.h: the model's config and tokenizer files use them too).
std::string json_problem(std::string_view text, const std::exception& e) { return clap::json_problem(text, e); }

}  // namespace clap::service
