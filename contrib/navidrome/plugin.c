// clapsearch's Navidrome plugin: Navidrome's sonic-similarity and similar-songs calls, forwarded
// to a running `clapsearch serve` (its /api/sonic/ routes, docs/integrations.md) through
// Navidrome's http_send host function, answers passed back in Navidrome's shapes.
//
// WebAssembly (wasm32) without libc: the Extism imports are declared here, and the few helpers
// it needs (a JSON scanner, URL and JSON escaping, base64) are written out below. Navidrome runs
// a fresh instance for every call, so a bump allocator that never frees is enough.
#include <stddef.h>
#include <stdint.h>

#define IMPORT_ENV(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define IMPORT_USER(name) __attribute__((import_module("extism:host/user"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name), visibility("default")))

IMPORT_ENV("input_length") extern uint64_t x_input_length(void);
IMPORT_ENV("input_load_u8") extern uint32_t x_input_load_u8(uint64_t);
IMPORT_ENV("alloc") extern uint64_t x_alloc(uint64_t);
IMPORT_ENV("free") extern void x_free(uint64_t);
IMPORT_ENV("length") extern uint64_t x_length(uint64_t);
IMPORT_ENV("load_u8") extern uint32_t x_load_u8(uint64_t);
IMPORT_ENV("store_u8") extern void x_store_u8(uint64_t, uint32_t);
IMPORT_ENV("load_u64") extern uint64_t x_load_u64(uint64_t);
IMPORT_ENV("store_u64") extern void x_store_u64(uint64_t, uint64_t);
IMPORT_ENV("output_set") extern void x_output_set(uint64_t, uint64_t);
IMPORT_ENV("error_set") extern void x_error_set(uint64_t);
IMPORT_ENV("config_get") extern uint64_t x_config_get(uint64_t);
IMPORT_USER("http_send") extern uint64_t x_http_send(uint64_t);

// clang emits calls to these.
void* memcpy(void* d, const void* s, size_t n) {
  unsigned char* a = d;
  const unsigned char* b = s;
  while (n--) *a++ = *b++;
  return d;
}
void* memset(void* d, int c, size_t n) {
  unsigned char* a = d;
  while (n--) *a++ = (unsigned char)c;
  return d;
}

// --- memory: one bump heap per call -------------------------------------------------------------

// The heap starts where the linker's data ends (__heap_base) and grows the instance's memory as
// it fills, up to kMaxHeap: an answer of up to Navidrome's 10 MiB body limit is held three times
// (the host's base64 JSON, the decoded body, the reshaped output). A fixed 4 MB heap failed at
// about 1 MB of answer, and the failure went unseen: a string cut short, an answer parsed from
// address 0. Any allocation that fails now sets out_of_memory, and the call fails saying so.
extern unsigned char __heap_base;
#define kMaxHeap ((size_t)64 << 20)
#define kPage ((size_t)65536)
static size_t heap_used;
static int out_of_memory;

static void* take(size_t n) {
  const size_t base = ((size_t)&__heap_base + 7) & ~(size_t)7;
  n = (n + 7) & ~(size_t)7;
  if (n > kMaxHeap || heap_used + n > kMaxHeap) {
    out_of_memory = 1;
    return 0;
  }
  const size_t end = base + heap_used + n;
  const size_t have = __builtin_wasm_memory_size(0) * kPage;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + kPage - 1) / kPage) == (size_t)-1) {
    out_of_memory = 1;
    return 0;
  }
  void* p = (unsigned char*)base + heap_used;
  heap_used += n;
  return p;
}

// A growing byte string.
typedef struct {
  char* p;
  size_t n, cap;
} Buf;

// The end of the heap's last allocation.
static unsigned char* heap_top(void) { return (unsigned char*)(((size_t)&__heap_base + 7) & ~(size_t)7) + heap_used; }

static int put(Buf* b, const char* s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n + 1) cap *= 2;
    // The buffer last taken grows where it is (a bump heap frees nothing: copying it to each
    // larger place would use twice its final size).
    if (b->p && (unsigned char*)b->p + b->cap == heap_top() && take(cap - b->cap)) {
      b->cap = cap;
    } else {
      char* p = take(cap);
      if (!p) return 0;
      if (b->n) memcpy(p, b->p, b->n);
      b->p = p;
      b->cap = cap;
    }
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 1;
}
static size_t slen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
static int puts_(Buf* b, const char* s) { return put(b, s, slen(s)); }

// --- Extism memory ------------------------------------------------------------------------------

// Eight bytes a host call where it can (an answer of megabytes is millions of calls byte by byte).
static uint64_t to_extism(const char* s, size_t n) {
  uint64_t off = x_alloc(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    x_store_u64(off + i, w);
  }
  for (; i < n; ++i) x_store_u8(off + i, (unsigned char)s[i]);
  return off;
}
static char* from_extism(uint64_t off, size_t* n) {
  *n = off ? (size_t)x_length(off) : 0;
  char* s = take(*n + 1);
  if (!s) return 0;
  size_t i = 0;
  for (; i + 8 <= *n; i += 8) {
    const uint64_t w = x_load_u64(off + i);
    memcpy(s + i, &w, 8);
  }
  for (; i < *n; ++i) s[i] = (char)x_load_u8(off + i);
  s[*n] = 0;
  return s;
}

// The message in a buffer of its own: it must be written when the heap is full too.
static int32_t fail(const char* message) {
  static char m[1024];
  const char* prefix = out_of_memory ? "clapsearch: the answer is larger than the plugin's memory (64 MiB); ask for fewer songs: "
                                     : "clapsearch: ";
  size_t n = 0;
  for (const char* s = prefix; *s && n < sizeof m; ++s) m[n++] = *s;
  for (const char* s = message ? message : ""; *s && n < sizeof m; ++s) m[n++] = *s;
  x_error_set(to_extism(m, n));
  return -1;
}

static int32_t answer(const Buf* b) {
  if (out_of_memory || !b->p) return fail("the answer could not be written");  // never half an answer
  x_output_set(to_extism(b->p, b->n), b->n);
  return 0;
}

// A configuration value ("" when absent), with the spaces, tabs and line breaks pasted around it
// in Navidrome's form taken off (H11P-5: a baseUrl with them failed as "invalid URL"; a token
// pasted with its line break was refused, hostile pass 16). A NUL inside the value would end the
// C string there and the rest would go unseen, so it is kept visible: as a control character
// (0x01), which the callers refuse.
static char* config(const char* key) {
  uint64_t k = to_extism(key, slen(key));
  uint64_t v = x_config_get(k);
  x_free(k);
  size_t n = 0;
  char* s = v ? from_extism(v, &n) : 0;
  if (!s) return "";
  for (size_t i = 0; i < n; ++i)
    if (!s[i]) s[i] = 1;
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') ++s, --n;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
  return s;
}

static int starts_with_nocase(const char* s, const char* prefix) {  // prefix in lower case
  for (; *prefix; ++s, ++prefix)
    if ((*s >= 'A' && *s <= 'Z' ? *s + 32 : *s) != *prefix) return 0;
  return 1;
}

static int has_control(const char* s) {
  for (; *s; ++s)
    if ((unsigned char)*s < 0x20 || *s == 0x7F) return 1;
  return 0;
}

// --- a JSON scanner (enough for Navidrome's requests and clapsearch's answers) -----------------

typedef struct {
  const char* p;
  size_t n;
} Span;

static const char* ws(const char* p, const char* e) {
  while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

// The end of the value starting at p (0 when malformed).
static const char* skip(const char* p, const char* e) {
  p = ws(p, e);
  if (p >= e) return 0;
  if (*p == '"') {
    for (++p; p < e; ++p) {
      if (*p == '\\') ++p;
      else if (*p == '"') return p + 1;
    }
    return 0;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; p < e; ++p) {
      if (*p == '"') {
        p = skip(p, e);
        if (!p) return 0;
        --p;
      } else if (*p == '{' || *p == '[') {
        ++depth;
      } else if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
    }
    return 0;
  }
  while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') ++p;
  return p;
}

// The value of `key` in the object `obj` (top-level members only); n = 0 when absent.
static Span member(Span obj, const char* key) {
  Span none = {0, 0};
  const char* e = obj.p + obj.n;
  const char* p = ws(obj.p, e);
  if (p >= e || *p != '{') return none;
  ++p;
  const size_t kn = slen(key);
  for (;;) {
    p = ws(p, e);
    if (p >= e || *p != '"') return none;
    const char* k = p + 1;
    const char* ke = skip(p, e);
    if (!ke) return none;
    p = ws(ke, e);
    if (p >= e || *p != ':') return none;
    p = ws(p + 1, e);
    const char* ve = skip(p, e);
    if (!ve) return none;
    if ((size_t)(ke - 1 - k) == kn) {
      size_t i = 0;
      while (i < kn && k[i] == key[i]) ++i;
      if (i == kn) {
        Span v = {p, (size_t)(ve - p)};
        return v;
      }
    }
    p = ws(ve, e);
    if (p < e && *p == ',') ++p;
    else return none;
  }
}

static int is_string(Span v) { return v.n >= 2 && v.p[0] == '"'; }

static unsigned hexval(char c) {
  return c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 0;
}

static void put_utf8(Buf* b, uint32_t c) {
  char u[4];
  size_t n;
  if (c < 0x80) u[0] = (char)c, n = 1;
  else if (c < 0x800) u[0] = (char)(0xC0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
  else if (c < 0x10000) u[0] = (char)(0xE0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3F)), u[2] = (char)(0x80 | (c & 0x3F)), n = 3;
  else u[0] = (char)(0xF0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3F)), u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), n = 4;
  put(b, u, n);
}

// A JSON string's text, unescaped ("" for anything else).
static char* text(Span v) {
  Buf b = {0};
  put(&b, "", 0);
  if (!is_string(v)) return b.p ? b.p : "";
  const char* p = v.p + 1;
  const char* e = v.p + v.n - 1;
  while (p < e) {
    if (*p != '\\') {
      put(&b, p++, 1);
      continue;
    }
    ++p;
    char c = p < e ? *p++ : 0;
    switch (c) {
      case 'n': put(&b, "\n", 1); break;
      case 't': put(&b, "\t", 1); break;
      case 'r': put(&b, "\r", 1); break;
      case 'b': put(&b, "\b", 1); break;
      case 'f': put(&b, "\f", 1); break;
      case 'u': {
        uint32_t u = 0;
        for (int i = 0; i < 4 && p < e; ++i) u = u * 16 + hexval(*p++);
        if (u >= 0xD800 && u < 0xDC00 && p + 6 <= e && p[0] == '\\' && p[1] == 'u') {
          uint32_t lo = 0;
          for (int i = 2; i < 6; ++i) lo = lo * 16 + hexval(p[i]);
          if (lo >= 0xDC00 && lo < 0xE000) {  // else the next escape is a character of its own
            p += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          }
        }
        // A NUL would end the C string here: "Hello\u0000 (Live)" would be asked for as "Hello",
        // another song. U+FFFD keeps the name whole (and unmatched, as it is). So does a surrogate
        // left alone (JSON allows "\uD800"), which as bytes is not UTF-8: clapsearch refused
        // the whole request (HTTP 400) where an unknown song gets no songs (hostile pass 8).
        put_utf8(&b, u == 0 || (u >= 0xD800 && u < 0xE000) ? 0xFFFD : u);
        break;
      }
      default: put(&b, &c, 1);
    }
  }
  return b.p;
}

// A JSON number as it is written ("" for anything else: a string, null, "-", "1.", "1e"): what
// is copied into an answer must be a number Navidrome can read.
static char* number(Span v) {
  Buf b = {0};
  put(&b, "", 0);
  size_t i = 0;
  const char* p = v.p;
  const size_t n = v.n;
#define DIGITS(at_least_one)                              \
  do {                                                    \
    const size_t from = i;                                \
    while (i < n && p[i] >= '0' && p[i] <= '9') ++i;      \
    if ((at_least_one) && i == from) return b.p;          \
  } while (0)
  if (i < n && p[i] == '-') ++i;
  DIGITS(1);
  if (i < n && p[i] == '.') {
    ++i;
    DIGITS(1);
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    ++i;
    if (i < n && (p[i] == '+' || p[i] == '-')) ++i;
    DIGITS(1);
  }
#undef DIGITS
  if (i != n) return b.p;
  put(&b, p, n);
  return b.p;
}

static void put_json_string(Buf* b, const char* s) {
  put(b, "\"", 1);
  for (; *s; ++s) {
    const unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') put(b, "\\", 1), put(b, s, 1);
    else if (c < 0x20) {
      const char* hex = "0123456789abcdef";
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(b, u, 6);
    } else put(b, s, 1);
  }
  put(b, "\"", 1);
}

static void put_query(Buf* b, const char* name, const char* value) {
  if (!value || !*value) return;
  put(b, "&", 1);
  puts_(b, name);
  put(b, "=", 1);
  const char* hex = "0123456789ABCDEF";
  for (const unsigned char* s = (const unsigned char*)value; *s; ++s) {
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
        *s == '.' || *s == '~')
      put(b, (const char*)s, 1);
    else {
      char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
      put(b, e, 3);
    }
  }
}

static int b64v(char c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
}

static char* base64_decode(const char* s, size_t* out_n) {
  Buf b = {0};
  put(&b, "", 0);
  uint32_t acc = 0;
  int bits = 0;
  for (; *s; ++s) {
    const int v = b64v(*s);
    if (v < 0) continue;  // padding
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const char c = (char)((acc >> bits) & 0xFF);
      put(&b, &c, 1);
    }
  }
  *out_n = b.n;
  return b.p;
}

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
  heap_used = 0;
  out_of_memory = 0;
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
  heap_used = 0;
  out_of_memory = 0;
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
  heap_used = 0;
  out_of_memory = 0;
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
  heap_used = 0;
  out_of_memory = 0;
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
  heap_used = 0;
  out_of_memory = 0;
  Span in = input();
  Buf url = {0};
  int32_t rc = 0;
  if (!route(&url, "/api/sonic/getSonicSimilarTracks", in, &rc)) return rc;
  put_song(&url, in, "");
  size_t n = 0;
  char* body = get(url.p, &n, &rc, "{\"songs\":[]}");
  return body ? reshape(body, n, "songs", 0, count_limit(in, kSimilarCount)) : rc;
}
