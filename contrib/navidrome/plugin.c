// clapsearch's Navidrome plugin: Navidrome's sonic-similarity and similar-songs calls, forwarded
// to a running `clapsearch serve` (its /api/sonic/ routes, docs/integrations.md) through
// Navidrome's http_send host function, answers passed back in Navidrome's shapes.
//
// WebAssembly (wasm32) without libc: the Extism imports and the few helpers it needs (a bump
// heap, a JSON scanner, URL and JSON escaping, base64) are in plugin_support.c. Navidrome runs
// a fresh instance for every call, so a bump allocator that never frees is enough.
#include "plugin_support.h"

// --- the song reference Navidrome sends, as clapsearch's query parameters ----------------------

// `prefix` "" or "start"/"end" (findSonicPath's parameter names).
static void put_song(Buf* url, Span song, const char* prefix) {
  char name[32];
  const char* keys[][2] = {{"mbid", "Mbid"}, {"isrc", "Isrc"}, {"album", "Album"}};
  for (int i = 0; i < 3; ++i) {
    Buf n = {name, 0, sizeof name};
    n.p[0] = 0;
    if (*prefix) puts_(&n, prefix), puts_(&n, keys[i][1]);
    else puts_(&n, keys[i][0]);
    put_query(url, name, text(member(song, keys[i][0])));
  }
  char* artist = text(member(song, "artist"));
  if (!*artist) {  // v0.63's artists[] when the deprecated artist is absent
    Span artists = member(song, "artists");
    if (artists.n > 2 && artists.p[0] == '[') {
      Span first = {artists.p + 1, artists.n - 1};
      artist = text(member(first, "name"));
    }
  }
  put_query(url, *prefix ? (prefix[0] == 's' ? "startArtist" : "endArtist") : "artist", artist);
  put_query(url, *prefix ? (prefix[0] == 's' ? "startTitle" : "endTitle") : "title", text(member(song, "name")));
  char* ms = number(member(song, "durationMs"));
  if (*ms && !(ms[0] == '0' && ms[1] == 0))
    put_query(url, *prefix ? (prefix[0] == 's' ? "startDurationMs" : "endDurationMs") : "durationMs", ms);
  else
    put_query(url, *prefix ? (prefix[0] == 's' ? "startDuration" : "endDuration") : "duration", number(member(song, "duration")));
}

// GETs `url` through http_send; the body of a 200 answer, or 0 with the error already set.
static char* get(const char* url, size_t* n, int32_t* rc, const char* empty_on_404) {
  Buf req = {0};
  puts_(&req, "{\"request\":{\"method\":\"GET\",\"url\":");
  put_json_string(&req, url);
  const char* token = config("token");
  if (has_control(token)) {  // a header value cannot carry it (CR/LF would split the header)
    *rc = fail("the plugin's token holds a control character (a line break?): set it again");
    return 0;
  }
  if (*token) {
    Buf auth = {0};
    puts_(&auth, "Bearer ");
    puts_(&auth, token);
    puts_(&req, ",\"headers\":{\"Authorization\":");
    put_json_string(&req, auth.p);
    puts_(&req, "}");
  }
  puts_(&req, ",\"timeoutMs\":20000}}");
  const uint64_t in = to_extism(req.p, req.n);
  const uint64_t out = x_http_send(in);
  x_free(in);
  size_t rn = 0;
  char* resp = from_extism(out, &rn);
  if (out) x_free(out);
  if (!resp) {
    *rc = fail("the answer could not be read");
    return 0;
  }
  if (!rn) {
    *rc = fail("Navidrome's http_send answered nothing");
    return 0;
  }
  Span r = {resp, rn};
  Span err = member(r, "error");
  if (err.n) {
    Buf m = {0};
    puts_(&m, "cannot reach clapsearch serve: ");
    puts_(&m, text(err));
    *rc = fail(m.p);
    return 0;
  }
  Span result = member(r, "result");
  char* status = number(member(result, "statusCode"));
  char* body = base64_decode(text(member(result, "body")), n);
  if (empty_on_404 && status[0] == '4' && status[1] == '0' && status[2] == '4' && status[3] == 0) {
    Buf none = {0};
    puts_(&none, empty_on_404);
    *rc = answer(&none);
    return 0;
  }
  if (!(status[0] == '2' && status[1] == '0' && status[2] == '0' && status[3] == 0)) {
    Span b = {body, *n};
    Buf m = {0};
    puts_(&m, "HTTP ");
    puts_(&m, *status ? status : "(no status)");
    puts_(&m, ": ");
    const char* error = text(member(b, "error"));
    if (*error) {
      puts_(&m, error);
      puts_(&m, ": ");
      puts_(&m, text(member(b, "detail")));
    } else {
      // Not clapsearch's JSON (a proxy's HTML page, a server that is not clapsearch): its first
      // bytes, control characters as '?', so the log says who answered.
      puts_(&m, "not clapsearch's answer: ");
      for (size_t i = 0; i < *n && i < 120; ++i) {
        const char c = (unsigned char)body[i] < 0x20 || body[i] == 0x7F ? '?' : body[i];
        put(&m, &c, 1);
      }
    }
    *rc = fail(m.p);
    return 0;
  }
  if (!body) {
    *rc = fail("the answer could not be read");
    return 0;
  }
  return body;
}

// The input, and the URL of a route with the count from the input.
static Span input(void) {
  const size_t n = (size_t)x_input_length();
  char* p = take(n + 1);
  for (size_t i = 0; p && i < n; ++i) p[i] = (char)x_input_load_u8(i);
  Span s = {p, p ? n : 0};
  return s;
}

// The manifest's default for baseUrl (manifest.json, config.schema): Navidrome does not fill a
// schema's defaults in, so a plugin enabled without a configuration gets no baseUrl at all, and
// the plugin applies the default itself.
#define DEFAULT_BASE_URL "http://127.0.0.1:8411"

// The input's count when it is a whole number, 0 or above, as written ("" for anything else:
// absent, negative, a fraction, a string, null): what is passed on to serve, which answers 0
// with an empty list. Anything else is not sent, so serve uses its route's default count, and
// the plugin bounds the answer by that default too (count_limit).
static const char* whole_count(Span v) {
  const char* digits = number(v);
  if (!*digits) return digits;
  for (const char* c = digits; *c; ++c)
    if (*c < '0' || *c > '9') return "";
  return digits;
}

// What is wrong with the host and port of a baseUrl after its http:// (0 when nothing): no host
// (`http://`, `http://:8411`, `http://::1:8411`) was sent as `http:/api/...`, which a URL parser
// reads as the host "api" ("host api is not allowed", naming no setting), or failed as "invalid
// URL"; a port out of range likewise; a backslash is a slash to one URL parser and part of the
// user name to another, so they disagree on the host; an @ in a password ends the user:password
// for one and is refused by Go's (hostile pass 21).
static const char* authority_problem(const char* after_scheme) {
  const char* end = after_scheme;
  while (*end && *end != '/') ++end;
  for (const char* c = after_scheme; *c; ++c)
    if (*c == '\\') return " holds a backslash: write the address with / alone, e.g. " DEFAULT_BASE_URL;
  const char* host = after_scheme;
  int ats = 0;
  for (const char* c = after_scheme; c < end; ++c)
    if (*c == '@') host = c + 1, ++ats;  // after the user:password@ of a proxy
  // Two: an @ inside the password, which Go's URL parser refuses ("invalid userinfo").
  if (ats > 1) return " has an @ inside its user:password@: write that @ as %40";
  const char* host_end = host;
  if (*host == '[') {
    while (host_end < end && *host_end != ']') ++host_end;
    if (host_end == end) return " has a [ with no ] around its host: write it whole, e.g. " DEFAULT_BASE_URL;
    ++host_end;
  } else {
    while (host_end < end && *host_end != ':') ++host_end;
  }
  if (host_end == host || (*host == '[' && host_end == host + 2))
    return " names no host: write it whole, e.g. " DEFAULT_BASE_URL;
  if (host_end == end) return 0;
  if (*host_end != ':') return " has something after its host that is not :PORT: write it whole, e.g. " DEFAULT_BASE_URL;
  unsigned long port = 0;
  const char* digit = host_end + 1;
  for (; digit < end && *digit >= '0' && *digit <= '9' && port <= 65535; ++digit) port = port * 10 + (unsigned long)(*digit - '0');
  if (digit != end || digit == host_end + 1 || port < 1 || port > 65535)
    return " has a port that is not a number from 1 to 65535: write it whole, e.g. " DEFAULT_BASE_URL;
  return 0;
}

// The plugin's baseUrl as the first part of every request, or 0 with the error set. What Go's
// URL parser would read otherwise than meant is refused here, naming baseUrl: a query or a
// fragment (`http://host:8411/?x`, `…#top`) put the route inside it, so serve's start page or
// another route answered ("no sonicMatch", or songs of the wrong request), and an address
// without http:// (`127.0.0.1:8411`, as a new user writes it) failed as an unreadable URL that
// did not say which setting (hostile pass 16). A path is kept (serve behind a proxy at
// /clapsearch/), and so is a user:password@ for such a proxy.
static int base_url(Buf* url, int32_t* rc) {
  const char* base = config("baseUrl");
  if (!*base) base = DEFAULT_BASE_URL;
  size_t bn = slen(base);
  const char* problem = 0;
  if (!starts_with_nocase(base, "http://") && !starts_with_nocase(base, "https://"))
    problem = " is not an http:// or https:// address: write it whole, e.g. " DEFAULT_BASE_URL;
  else if (has_control(base))
    problem = " holds a control character: set it again";
  else
    for (const char* c = base; *c; ++c)
      if (*c == '?' || *c == '#' || *c == ' ') {
        problem = *c == ' ' ? " holds a space: set it again" : " holds a query or a fragment (? or #): give serve's address alone, e.g. " DEFAULT_BASE_URL;
        break;
      }
  if (!problem) problem = authority_problem(base + (starts_with_nocase(base, "https://") ? 8 : 7));
  if (problem) {
    Buf m = {0};
    puts_(&m, "the plugin's baseUrl '");
    for (size_t i = 0; i < bn && i < 200; ++i) {
      const char c = (unsigned char)base[i] < 0x20 || base[i] == 0x7F ? '?' : base[i];
      put(&m, &c, 1);
    }
    puts_(&m, "'");
    puts_(&m, problem);
    *rc = fail(m.p);
    return 0;
  }
  while (bn && base[bn - 1] == '/') --bn;
  return put(url, base, bn);
}

static int route(Buf* url, const char* path, Span in, int32_t* rc) {
  if (!base_url(url, rc)) return 0;
  puts_(url, path);
  puts_(url, "?excludeDuplicates=true");
  put_query(url, "count", whole_count(member(in, "count")));
  return 1;
}

// A JSON string of the server's answer written again, unescaped and escaped: copied as it came,
// a raw line break or control character inside it (JSON does not allow them; clapsearch never
// sends one, a hostile or broken server may) made the whole answer one Navidrome cannot read
// (hostile pass 12). "" for anything that is not a string (absent, null).
static void put_string_again(Buf* out, Span value) {
  if (!is_string(value)) {
    puts_(out, "\"\"");
    return;
  }
  size_t i = 0;
  while (i < value.n && (unsigned char)value.p[i] >= 0x20) ++i;
  if (i == value.n) put(out, value.p, value.n);  // as clapsearch writes every string: kept as it is, no copy
  else put_json_string(out, text(value));
}

// A number Navidrome's Go types hold: `integer` for an int field (durationMs: "1.5e3" failed the
// whole answer's unmarshal), else any number of at most 30 digits before the point and an
// exponent of at most 30 (1e400 is a valid JSON number no float holds). Anything else is "".
static const char* number_for_go(Span v, int integer) {
  const char* digits = number(v);
  size_t whole = 0, i = digits[0] == '-';
  while (digits[i] >= '0' && digits[i] <= '9') ++i, ++whole;
  if (integer) return digits[i] == 0 && whole <= 18 ? digits : "";
  if (whole > 30) return "";
  while (digits[i] && digits[i] != 'e' && digits[i] != 'E') ++i;
  if (!digits[i]) return digits;
  ++i;
  if (digits[i] == '+' || digits[i] == '-') ++i;
  size_t exponent = 0;
  while (digits[i]) exponent = exponent * 10 + (size_t)(digits[i++] - '0'), exponent = exponent > 1000 ? 1000 : exponent;
  return exponent <= 30 ? digits : "";
}

// `"key":value`, a string (put_string_again) or a number (0 when absent or not one Go holds).
static void put_string_member(Buf* out, const char* key, Span value) {
  puts_(out, ",\"");
  puts_(out, key);
  puts_(out, "\":");
  put_string_again(out, value);
}
static void put_number_member(Buf* out, const char* key, Span value, int integer) {
  puts_(out, ",\"");
  puts_(out, key);
  puts_(out, "\":");
  const char* digits = number_for_go(value, integer);
  puts_(out, *digits ? digits : "0");
}

// Navidrome's SongRef (name, path, artist, album, albumArtist, mbid, isrc, duration, durationMs)
// of clapsearch's entry, an OpenSubsonic Child (title, musicBrainzId, isrc as an array, duration
// in whole seconds) with durationMs, the exact length.
static void put_song_ref(Buf* out, Span entry) {
  puts_(out, "{\"name\":");
  put_string_again(out, member(entry, "title"));
  put_string_member(out, "path", member(entry, "path"));
  put_string_member(out, "artist", member(entry, "artist"));
  put_string_member(out, "album", member(entry, "album"));
  put_string_member(out, "albumArtist", member(entry, "displayAlbumArtist"));
  put_string_member(out, "mbid", member(entry, "musicBrainzId"));
  Span isrc = member(entry, "isrc"), first = {0, 0};
  if (isrc.n > 2 && isrc.p[0] == '[') {  // the first ISRC of the array
    const char* p = ws(isrc.p + 1, isrc.p + isrc.n);
    const char* end = skip(p, isrc.p + isrc.n);
    if (end) first.p = p, first.n = (size_t)(end - p);
  }
  put_string_member(out, "isrc", first);
  put_number_member(out, "duration", member(entry, "duration"), 0);
  put_number_member(out, "durationMs", member(entry, "durationMs"), 1);
  put(out, "}", 1);
}

// serve's default counts of the routes the plugin calls (server/api_sonic.cpp): what it answers
// when no count is sent.
#define kSimilarCount ((size_t)10)
#define kPathCount ((size_t)25)
#define kCountCap ((size_t)100000000)  // far above any list Navidrome asks for (serve's limit is 1000)

// The most songs the plugin gives back: the input's count when it is a whole number, 0 or above
// (0: none, as serve answers 0), else `route_default`, the count serve's route uses when none is
// sent (10; 25 for a path). Navidrome takes every song the plugin gives, so the answer is bounded
// whatever the server sends: a count of 0, -1 or "5" gave Navidrome all of a server's 40,000 songs
// when it ignored count (hostile pass 14, R14P-2).
static size_t count_limit(Span in, size_t route_default) {
  const char* digits = whole_count(member(in, "count"));
  if (!*digits) return route_default;
  size_t limit = 0;
  for (const char* c = digits; *c; ++c) {
    if (limit > kCountCap) return kCountCap;
    limit = limit * 10 + (size_t)(*c - '0');
  }
  return limit > kCountCap ? kCountCap : limit;
}

// clapsearch's sonicMatch array re-shaped: {"song": SongRef, "similarity": s} for the sonic
// calls, or the bare SongRefs for the similar-songs calls; at most `limit` songs.
// Navidrome takes every song the plugin gives, whatever count it asked for
// (navidrome-plugin-abi.md); clapsearch's serve honours count, a broken or hostile server may
// not: 40,000 songs came back for 5 (an Instant Mix of 40,000), or the plugin's memory ran out
// writing them (hostile pass 13, H13P-3).
#define kBodyLimit ((size_t)10 << 20)  // Navidrome's limit on a plugin's HTTP answer
// At most this many songs fit in 10 MiB with room to spare: about 2 KiB a song, where
// clapsearch serve's songs are a few hundred bytes.
#define kFewSongs ((size_t)5000)
static int32_t reshape(char* body, size_t n, const char* list_key, int with_similarity, size_t limit) {
  Span all = {body, n};
  Span matches = member(all, "sonicMatch");
  if (matches.n < 2 || matches.p[0] != '[') {
    if (n < kBodyLimit) return fail("unexpected answer from clapsearch serve (no sonicMatch)");
    // Asked for few songs, the answer cannot reach 10 MiB but by the server sending more than it
    // was asked (one that ignores count): fewer songs would not help (hostile pass 13, R13P-4).
    if (limit <= kFewSongs) {
      static char m[200];
      static const char head[] = "the server sent too much: its answer reached Navidrome's 10 MiB limit, although ";
      static const char tail[] = " songs were asked for (is the plugin's clapsearch URL a clapsearch serve?)";
      size_t k = 0;
      for (const char* c = head; *c; ++c) m[k++] = *c;
      char digits[24];
      size_t d = 0;
      size_t v = limit;
      do digits[d++] = (char)('0' + v % 10), v /= 10;
      while (v);
      while (d) m[k++] = digits[--d];
      for (const char* c = tail; *c; ++c) m[k++] = *c;
      m[k] = 0;
      return fail(m);
    }
    return fail("the answer was cut at Navidrome's 10 MiB limit: ask for fewer songs");
  }
  Buf out = {0};
  puts_(&out, "{\"");
  puts_(&out, list_key);
  puts_(&out, "\":[");
  const char* p = matches.p + 1;
  const char* e = matches.p + matches.n - 1;
  int first = 1;
  size_t songs = 0;
  for (;;) {
    if (songs == limit) break;
    p = ws(p, e);
    if (p >= e) break;
    const char* end = skip(p, e);
    if (!end) break;
    if (*p != '{') {  // null, a number, a string: no song (it stopped the list, dropping the songs after it)
      p = ws(end, e);
      if (p < e && *p == ',') ++p;
      continue;
    }
    Span m = {p, (size_t)(end - p)};
    Span entry = member(m, "entry");
    if (!first) put(&out, ",", 1);
    first = 0;
    ++songs;
    if (with_similarity) {
      puts_(&out, "{\"song\":");
      put_song_ref(&out, entry);
      puts_(&out, ",\"similarity\":");
      const char* similarity = number_for_go(member(m, "similarity"), 0);  // a number Go holds, or 0
      puts_(&out, *similarity ? similarity : "0");
      put(&out, "}", 1);
    } else {
      put_song_ref(&out, entry);
    }
    p = ws(end, e);
    if (p < e && *p == ',') ++p;
  }
  puts_(&out, "]}");
  return answer(&out);
}

EXPORT("nd_get_sonic_similar_tracks") int32_t nd_get_sonic_similar_tracks(void) {
  start_call();
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/getSonicSimilarTracks", in, &rc)) return rc;
  put_song(&url, member(in, "song"), "");
  size_t n = 0;
  char* body = get(url.p, &n, &rc, 0);
  return body ? reshape(body, n, "matches", 1, count_limit(in, kSimilarCount)) : rc;
}

EXPORT("nd_find_sonic_path") int32_t nd_find_sonic_path(void) {
  start_call();
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/findSonicPath", in, &rc)) return rc;
  put_song(&url, member(in, "startSong"), "start");
  put_song(&url, member(in, "endSong"), "end");
  size_t n = 0;
  char* body = get(url.p, &n, &rc, 0);
  return body ? reshape(body, n, "matches", 1, count_limit(in, kPathCount)) : rc;
}

// Instant Mix of an artist ({"id","name","mbid"?,"count"}) or an album ({"id","name","artist",
// "mbid"?,"count"}): songs like the artist's or the album's, theirs left out.
EXPORT("nd_get_similar_songs_by_artist") int32_t nd_get_similar_songs_by_artist(void) {
  start_call();
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/similarToArtist", in, &rc)) return rc;
  put_query(&url, "artist", text(member(in, "name")));
  size_t n = 0;
  char* body = get(url.p, &n, &rc, "{\"songs\":[]}");
  return body ? reshape(body, n, "songs", 0, count_limit(in, kSimilarCount)) : rc;
}

EXPORT("nd_get_similar_songs_by_album") int32_t nd_get_similar_songs_by_album(void) {
  start_call();
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/similarToAlbum", in, &rc)) return rc;
  put_query(&url, "album", text(member(in, "name")));
  put_query(&url, "artist", text(member(in, "artist")));
  size_t n = 0;
  char* body = get(url.p, &n, &rc, "{\"songs\":[]}");
  return body ? reshape(body, n, "songs", 0, count_limit(in, kSimilarCount)) : rc;
}

// Instant Mix: {"id","name","artist","mbid"?,"count"} of a track -> {"songs":[SongRef]}. A track
// clapsearch does not know is "no data" (empty output), not an error Navidrome would retry.
EXPORT("nd_get_similar_songs_by_track") int32_t nd_get_similar_songs_by_track(void) {
  start_call();
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/getSonicSimilarTracks", in, &rc)) return rc;
  put_song(&url, in, "");
  size_t n = 0;
  char* body = get(url.p, &n, &rc, "{\"songs\":[]}");
  return body ? reshape(body, n, "songs", 0, count_limit(in, kSimilarCount)) : rc;
}
