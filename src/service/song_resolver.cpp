#include "service/song_resolver.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/one_line_text.h"
#include "service/composed_text.h"

namespace clap::service {
namespace {

// The longest name a reference is compared by. Tags are read up to 4,096 bytes (audio/decode.h
// kMaxTagBytes) and paths are at most 4,096 (PATH_MAX); 64 KiB leaves room for any spelling of
// one (decomposed, NFD, is at most 3 times longer; runs of spaces fold to one). Folding costs
// about 0.35 us a byte: a listen's 300 MB artist took 4 minutes to import and a 2 GiB one would
// take 10 (hostile pass 16, H16S-4). A longer name is left out, and the reason for no match says so.
constexpr size_t kMaxReferenceNameBytes = size_t{64} << 10;

// --- UTF-8 -----------------------------------------------------------------------------------

// Code points of `s`; a byte that does not start a well-formed sequence becomes U+FFFD.
std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + size_t(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto n = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((n >> 6) != 0x2) ok = false;
      else c = (c << 6) | (n & 0x3F);
    }
    if (ok && ((len == 2 && c < 0x80) || (len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
               (len == 4 && (c < 0x10000 || c > 0x10FFFF))))
      ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(c);
    i += size_t(len);
  }
  return out;
}

void encode(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// --- folding ---------------------------------------------------------------------------------

// The base letters of U+00C0..U+00FF and U+0100..U+017F, as runs of (count, letters): "é" -> "e".
struct Run {
  int count;
  const char* base;
};
constexpr Run kLatin1[] = {{6, "a"}, {1, "ae"}, {1, "c"}, {4, "e"}, {4, "i"}, {1, "d"}, {1, "n"}, {5, "o"}, {1, " "},
                           {1, "o"}, {4, "u"},  {1, "y"}, {1, "th"}, {1, "ss"},
                           {6, "a"}, {1, "ae"}, {1, "c"}, {4, "e"}, {4, "i"}, {1, "d"}, {1, "n"}, {5, "o"}, {1, " "},
                           {1, "o"}, {4, "u"},  {1, "y"}, {1, "th"}, {1, "y"}};
constexpr Run kLatinExtendedA[] = {{6, "a"},  {8, "c"}, {4, "d"}, {10, "e"}, {8, "g"}, {4, "h"}, {10, "i"}, {2, "ij"},
                                   {2, "j"},  {3, "k"}, {10, "l"}, {7, "n"}, {2, "n"}, {6, "o"}, {2, "oe"}, {6, "r"},
                                   {8, "s"},  {6, "t"}, {12, "u"}, {2, "w"}, {3, "y"}, {6, "z"}, {1, "s"}};

const char* latin_base(char32_t c) {
  auto find = [](const auto& runs, int at) -> const char* {
    for (const Run& r : runs) {
      if (at < r.count) return r.base;
      at -= r.count;
    }
    return nullptr;
  };
  if (c >= 0xC0 && c <= 0xFF) return find(kLatin1, int(c - 0xC0));
  if (c >= 0x100 && c <= 0x17F) return find(kLatinExtendedA, int(c - 0x100));
  return nullptr;
}

constexpr char32_t kApostrophe = U'\'';

// One code point folded (case, accents, compatibility forms), appended to `out`. Brackets of
// every kind become ( and ), dashes -, quotes that act as apostrophes '; other punctuation is
// kept for the structural rules and turned into spaces at the end (is_separator).
void fold(char32_t c, std::u32string& out) {
  if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;  // fullwidth ASCII
  if (c == 0x3000 || c == 0x00A0) c = U' ';
  if (c >= U'A' && c <= U'Z') c += 0x20;
  if (c < 0x80) {
    if (c == U'[' || c == U'{') c = U'(';
    if (c == U']' || c == U'}') c = U')';
    if (c == U'`') c = kApostrophe;
    out.push_back(c);
    return;
  }
  if (const char* base = latin_base(c)) {
    for (const char* p = base; *p; ++p) out.push_back(char32_t(static_cast<unsigned char>(*p)));
    return;
  }
  switch (c) {
    case 0x2018: case 0x2019: case 0x201B: case 0x2032: case 0x00B4: case 0x02BC:
      out.push_back(kApostrophe);
      return;
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
      out.push_back(U'-');
      return;
    case 0x3010: case 0x300C: case 0x300E: case 0x3014: case 0x3008: case 0x300A: case 0x3016:
      out.push_back(U'(');
      return;
    case 0x3011: case 0x300D: case 0x300F: case 0x3015: case 0x3009: case 0x300B: case 0x3017:
      out.push_back(U')');
      return;
    case 0x00B9: out.push_back(U'1'); return;
    case 0x00B2: out.push_back(U'2'); return;
    case 0x00B3: out.push_back(U'3'); return;
    case 0x00AA: out.push_back(U'a'); return;
    case 0x00BA: out.push_back(U'o'); return;
    case 0x00B5: out.push_back(0x03BC); return;  // micro sign -> Greek mu
    case 0xFB00: out += U"ff"; return;
    case 0xFB01: out += U"fi"; return;
    case 0xFB02: out += U"fl"; return;
    case 0xFB03: out += U"ffi"; return;
    case 0xFB04: out += U"ffl"; return;
    case 0x0401: case 0x0451: out.push_back(0x0435); return;  // Ё ё -> е
    case 0x03C2: out.push_back(0x03C3); return;               // final sigma
    case 0x0386: case 0x03AC: out.push_back(0x03B1); return;  // Greek letters with tonos
    case 0x0388: case 0x03AD: out.push_back(0x03B5); return;
    case 0x0389: case 0x03AE: out.push_back(0x03B7); return;
    case 0x038A: case 0x03AF: out.push_back(0x03B9); return;
    case 0x038C: case 0x03CC: out.push_back(0x03BF); return;
    case 0x038E: case 0x03CD: out.push_back(0x03C5); return;
    case 0x038F: case 0x03CE: out.push_back(0x03C9); return;
    default: break;
  }
  if (c >= 0x0391 && c <= 0x03A9 && c != 0x03A2) c += 0x20;  // Greek capitals
  else if (c >= 0x0410 && c <= 0x042F) c += 0x20;           // Cyrillic capitals
  else if (c >= 0x0400 && c <= 0x040F) c += 0x50;
  else if (c >= 0x0300 && c <= 0x036F) return;  // combining marks (a decomposed accent)
  out.push_back(c);
}

bool is_word(char32_t c) {
  if (c < 0x80) return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9');
  if (c <= 0xBF || c == 0xD7 || c == 0xF7) return false;      // Latin-1 punctuation and symbols
  if (c >= 0x2000 && c <= 0x2BFF) return false;                // general punctuation, symbols, arrows
  if (c >= 0x2E00 && c <= 0x2E7F) return false;                // supplemental punctuation
  if (c >= 0x3000 && c <= 0x303F) return c >= 0x3005 && c <= 0x3007;  // CJK punctuation, but 々 〆 〇
  if (c == 0x30FB || c == 0xFF65) return false;                // katakana middle dot
  if (c >= 0xFE30 && c <= 0xFE4F) return false;                // CJK compatibility forms
  if (c == 0xFFFD) return false;
  return true;
}

std::u32string_view trim(std::u32string_view s) {
  while (!s.empty() && !is_word(s.front()) && s.front() != U'(') s.remove_prefix(1);
  while (!s.empty() && !is_word(s.back()) && s.back() != U')') s.remove_suffix(1);
  return s;
}

bool contains(std::u32string_view s, std::u32string_view w) { return s.find(w) != std::u32string_view::npos; }

// A whole word of `s` (between non-word characters).
bool has_word(std::u32string_view s, std::u32string_view w) {
  for (size_t at = s.find(w); at != std::u32string_view::npos; at = s.find(w, at + 1)) {
    const bool start = at == 0 || !is_word(s[at - 1]);
    const bool end = at + w.size() == s.size() || !is_word(s[at + w.size()]);
    if (start && end) return true;
  }
  return false;
}

// "feat. X", "ft. X", "featuring X" (and "with X" inside brackets, the streaming services' form).
bool is_feat(std::u32string_view inner, bool bracketed) {
  inner = trim(inner);
  for (std::u32string_view p : {U"feat.", U"feat ", U"ft.", U"featuring "})
    if (inner.substr(0, p.size()) == p) return true;
  return bracketed && inner.substr(0, 5) == U"with ";
}

// A suffix naming an edition of the same recording ("remastered 2011", "mono", "album version"),
// not another recording ("live", "remix", "acoustic version", "radio edit").
bool is_edition(std::u32string_view inner) {
  for (std::u32string_view w : {U"live", U"remix", U"mix", U"acoustic", U"demo", U"instrumental", U"edit", U"karaoke",
                                U"cover", U"reprise", U"session", U"sessions", U"unplugged", U"take", U"rehearsal"})
    if (has_word(inner, w)) return false;
  if (contains(inner, U"remaster")) return true;
  for (std::u32string_view w : {U"album version", U"single version", U"original version", U"lp version", U"mono version",
                                U"stereo version"})
    if (contains(inner, w)) return true;
  if (has_word(inner, U"version")) return false;  // "extended version", "short version": another length
  for (std::u32string_view w : {U"mono", U"stereo", U"explicit", U"clean", U"deluxe", U"bonus track", U"anniversary"})
    if (has_word(inner, w)) return true;
  return false;
}

// Bracketed groups that are featuring parts or editions, removed (nested brackets inside one stay with it).
std::u32string drop_groups(const std::u32string& s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'(') {
      out.push_back(s[i++]);
      continue;
    }
    int depth = 0;
    size_t j = i;
    for (; j < s.size(); ++j) {
      if (s[j] == U'(') ++depth;
      else if (s[j] == U')' && --depth == 0) break;
    }
    const size_t end = j < s.size() ? j + 1 : s.size();  // an unclosed group runs to the end
    const std::u32string_view inner(s.data() + i + 1, (j < s.size() ? j : s.size()) - i - 1);
    if (is_feat(inner, true) || is_edition(inner)) out.push_back(U' ');
    else out.append(s, i, end - i);
    i = end;
  }
  return out;
}

}  // namespace

std::string fold_path(std::string_view path) {
  std::u32string s;
  for (char32_t c : decode(composed(path))) fold(c, s);
  std::string out;
  for (char32_t c : s) encode(c, out);
  return out;
}

std::string normalise_name(std::string_view name) {
  std::u32string s;
  for (char32_t c : decode(composed(name))) fold(c, s);
  s = drop_groups(s);
  // " - 2009 Remaster", " - Single Version" (an edition after a spaced dash), repeatedly.
  for (;;) {
    const size_t dash = s.rfind(U" - ");
    if (dash == std::u32string::npos || !is_edition(std::u32string_view(s).substr(dash + 3))) break;
    s.erase(dash);
  }
  // An unbracketed featuring part runs to the end ("Artist feat. Other", "Title ft. Other").
  for (std::u32string_view w : {U" feat.", U" feat ", U" ft.", U" featuring "}) {
    const size_t at = s.find(w);
    if (at != std::u32string::npos && at > 0) s.erase(at);
  }
  std::string out;
  bool space = false;
  for (char32_t c : s) {
    if (c == kApostrophe) continue;  // "Don't" = "Dont"
    if (!is_word(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    encode(c, out);
  }
  return out;
}

std::string normalise_mbid(std::string_view mbid) {
  std::string out;
  for (char c : mbid) {
    if (c == ' ' || c == '\t') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
  }
  return out;
}

std::string normalise_isrc(std::string_view isrc) {
  std::string out;
  for (char c : isrc) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    out.push_back(c >= 'a' && c <= 'z' ? char(c - 32) : c);
  }
  return out;
}

const char* rule_name(MatchRule rule) {
  switch (rule) {
    case MatchRule::Path: return "path";
    case MatchRule::Mbid: return "mbid";
    case MatchRule::Isrc: return "isrc";
    case MatchRule::Tags: return "tags";
    case MatchRule::None: break;
  }
  return "none";
}

namespace {

std::string tags_key(const std::string& artist, const std::string& title) {
  const std::string a = normalise_name(artist), t = normalise_name(title);
  if (a.empty() || t.empty()) return {};
  return a + '\x1f' + t;
}

std::string file_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The reference's path as a suffix: backslashes as slashes, no leading "./" or "/", no "//".
std::string clean_suffix(const std::string& path) {
  std::string s;
  for (char c : path) {
    if (c == '\\') c = '/';
    if (c == '/' && !s.empty() && s.back() == '/') continue;
    s.push_back(c);
  }
  for (;;) {
    if (s.rfind("./", 0) == 0) s.erase(0, 2);
    else if (s.rfind("/", 0) == 0) s.erase(0, 1);
    else break;
  }
  return s;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

SongIndex::SongIndex(const std::vector<store::Track>& tracks)
    : tracks_(tracks), album_keys_(tracks.size()), folded_paths_(tracks.size()) {
  std::vector<size_t> order;
  for (size_t i = 0; i < tracks.size(); ++i) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tracks[a].id < tracks[b].id; });
  for (size_t i : order) {
    const store::Track& t = tracks[i];
    // A path names its file whatever its status, as a track id does (an error track resolves
    // by either); the tags and identifiers of tracks that could not be indexed do not take part.
    by_file_name_[file_name(t.path)].push_back(i);
    folded_paths_[i] = fold_path(t.path);
    by_folded_file_name_[file_name(folded_paths_[i])].push_back(i);
    if (t.status != store::TrackStatus::Ok) continue;
    if (!t.mbid.empty()) by_mbid_[normalise_mbid(t.mbid)].push_back(i);
    if (!t.isrc.empty()) by_isrc_[normalise_isrc(t.isrc)].push_back(i);
    if (const std::string key = tags_key(t.artist, t.title); !key.empty()) by_name_[key].push_back(i);
    album_keys_[i] = normalise_name(t.album);
  }
}

const store::Track* SongIndex::pick(const Positions& candidates, const SongRef& ref) const {
  if (candidates.empty()) return nullptr;
  Positions pool = candidates;
  if (const std::string album = normalise_name(ref.album); !album.empty()) {
    Positions same;
    for (size_t p : pool)
      if (album_keys_[p] == album) same.push_back(p);
    if (!same.empty()) pool = std::move(same);
  }
  // Closest duration (when known), then the smallest id (pool is in id order: the first wins ties).
  size_t best = pool.front();
  double best_gap = ref.duration_s > 0 ? std::fabs(tracks_[best].duration_s - ref.duration_s) : 0;
  for (size_t p : pool) {
    const double gap = ref.duration_s > 0 ? std::fabs(tracks_[p].duration_s - ref.duration_s) : 0;
    if (gap < best_gap) {
      best = p;
      best_gap = gap;
    }
  }
  return &tracks_[best];
}

Resolution SongIndex::resolve(const SongRef& given, const ResolveOptions& options) const {
  Resolution r;
  std::vector<std::string> tried;
  // Names longer than any tag or path can be are left out before anything is folded (see
  // kMaxReferenceNameBytes); the others still decide (an MBID with a 300 MB artist beside it).
  // Copied name by name, so that a long one is never copied (SongRef's every name is listed).
  SongRef ref;
  ref.duration_s = given.duration_s;
  for (const auto& [from, to, what] : {std::tuple{&given.path, &ref.path, "path"}, {&given.mbid, &ref.mbid, "MBID"},
                                       {&given.isrc, &ref.isrc, "ISRC"}, {&given.artist, &ref.artist, "artist"},
                                       {&given.title, &ref.title, "title"}, {&given.album, &ref.album, "album"}}) {
    if (from->size() <= kMaxReferenceNameBytes) *to = *from;
    else
      tried.push_back(std::string("the ") + what + " is " + std::to_string(from->size()) + " bytes long, longer than any " +
                      (to == &ref.path ? "path" : "tag") + " can be (" + std::to_string(kMaxReferenceNameBytes) +
                      " bytes): not compared");
  }
  if (const std::string suffix = clean_suffix(ref.path); !suffix.empty()) {
    const auto ends_with = [](const std::string& path, const std::string& tail) {
      return path == tail || (path.size() > tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0 &&
                              path[path.size() - tail.size() - 1] == '/');
    };
    Positions found;
    if (auto it = by_file_name_.find(file_name(suffix)); it != by_file_name_.end())
      for (size_t p : it->second)
        if (ends_with(tracks_[p].path, suffix)) found.push_back(p);
    // None as written: compared again folded as tags are (fold_path), so a decomposed (NFD)
    // name from macOS or SMB finds the composed (NFC) file, and the other way round.
    if (found.empty()) {
      const std::string folded = fold_path(suffix);
      if (auto it = by_folded_file_name_.find(file_name(folded)); it != by_folded_file_name_.end())
        for (size_t p : it->second)
          if (ends_with(folded_paths_[p], folded)) found.push_back(p);
    }
    if (found.size() == 1) return {&tracks_[found[0]], MatchRule::Path, {}};
    tried.push_back(found.empty() ? "no indexed path ends with \"" + echo_excerpt(suffix) + "\""
                                  : std::to_string(found.size()) + " indexed paths end with \"" + echo_excerpt(suffix) + "\"");
  }
  if (!ref.mbid.empty()) {
    auto it = by_mbid_.find(normalise_mbid(ref.mbid));
    if (it != by_mbid_.end()) return {pick(it->second, ref), MatchRule::Mbid, {}};
    tried.push_back("no track has MBID " + echo_excerpt(ref.mbid));
  }
  if (!ref.isrc.empty()) {
    auto it = by_isrc_.find(normalise_isrc(ref.isrc));
    if (it != by_isrc_.end()) return {pick(it->second, ref), MatchRule::Isrc, {}};
    tried.push_back("no track has ISRC " + echo_excerpt(ref.isrc));
  }
  if (!ref.artist.empty() || !ref.title.empty()) {
    const std::string key = tags_key(ref.artist, ref.title);
    // As the reason quotes them, made only for a reason: each bounded (a 50 MB tag is not echoed
    // whole, R11C-5).
    const auto artist_title = [&] {
      std::string s = "\"";
      s += echo_excerpt(ref.artist);
      s += "\" - \"";
      s += echo_excerpt(ref.title);
      s += '"';
      return s;
    };
    if (key.empty()) {
      tried.push_back("matching by tags needs both artist and title");
    } else if (auto it = by_name_.find(key); it == by_name_.end()) {
      tried.push_back("no track is " + artist_title());
    } else {
      Positions near;
      for (size_t p : it->second)
        if (ref.duration_s <= 0 || std::fabs(tracks_[p].duration_s - ref.duration_s) <= options.duration_tolerance_s)
          near.push_back(p);
      if (!near.empty()) return {pick(near, ref), MatchRule::Tags, {}};
      tried.push_back(artist_title() + " is indexed, but no copy lasts within " +
                      seconds(options.duration_tolerance_s) + " of " + seconds(ref.duration_s));
    }
  }
  if (tried.empty()) tried.push_back("the reference names no path, MBID, ISRC, artist or title");
  for (size_t i = 0; i < tried.size(); ++i) r.reason += (i ? "; " : "") + tried[i];
  return r;
}

}  // namespace clap::service
