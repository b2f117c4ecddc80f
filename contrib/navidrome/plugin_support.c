// Support code of the Navidrome plugin (plugin_support.h says what is here).
#include "plugin_support.h"

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
int out_of_memory;

void start_call(void) {
  heap_used = 0;
  out_of_memory = 0;
}

void* take(size_t n) {
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


// The end of the heap's last allocation.
static unsigned char* heap_top(void) { return (unsigned char*)(((size_t)&__heap_base + 7) & ~(size_t)7) + heap_used; }

int put(Buf* b, const char* s, size_t n) {
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
size_t slen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
int puts_(Buf* b, const char* s) { return put(b, s, slen(s)); }

// --- Extism memory ------------------------------------------------------------------------------

// Eight bytes a host call where it can (an answer of megabytes is millions of calls byte by byte).
uint64_t to_extism(const char* s, size_t n) {
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
char* from_extism(uint64_t off, size_t* n) {
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
int32_t fail(const char* message) {
  static char m[1024];
  const char* prefix = out_of_memory ? "clapsearch: the answer is larger than the plugin's memory (64 MiB); ask for fewer songs: "
                                     : "clapsearch: ";
  size_t n = 0;
  for (const char* s = prefix; *s && n < sizeof m; ++s) m[n++] = *s;
  for (const char* s = message ? message : ""; *s && n < sizeof m; ++s) m[n++] = *s;
  x_error_set(to_extism(m, n));
  return -1;
}

int32_t answer(const Buf* b) {
  if (out_of_memory || !b->p) return fail("the answer could not be written");  // never half an answer
  x_output_set(to_extism(b->p, b->n), b->n);
  return 0;
}

// A configuration value ("" when absent), with the spaces, tabs and line breaks pasted around it
// in Navidrome's form taken off (H11P-5: a baseUrl with them failed as "invalid URL"; a token
// pasted with its line break was refused, hostile pass 16). A NUL inside the value would end the
// C string there and the rest would go unseen, so it is kept visible: as a control character
// (0x01), which the callers refuse.
char* config(const char* key) {
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

int starts_with_nocase(const char* s, const char* prefix) {  // prefix in lower case
  for (; *prefix; ++s, ++prefix)
    if ((*s >= 'A' && *s <= 'Z' ? *s + 32 : *s) != *prefix) return 0;
  return 1;
}

int has_control(const char* s) {
  for (; *s; ++s)
    if ((unsigned char)*s < 0x20 || *s == 0x7F) return 1;
  return 0;
}

// --- a JSON scanner (enough for Navidrome's requests and clapsearch's answers) -----------------


const char* ws(const char* p, const char* e) {
  while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

// The end of the value starting at p (0 when malformed).
const char* skip(const char* p, const char* e) {
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
Span member(Span obj, const char* key) {
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

int is_string(Span v) { return v.n >= 2 && v.p[0] == '"'; }

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
char* text(Span v) {
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
char* number(Span v) {
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

void put_json_string(Buf* b, const char* s) {
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

void put_query(Buf* b, const char* name, const char* value) {
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

char* base64_decode(const char* s, size_t* out_n) {
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
