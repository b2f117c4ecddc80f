#include "core/utf8.h"
#include "core/one_line_text.h"

namespace clap {

bool sanitize_utf8(std::string_view in, std::string& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  // Fast path: scan until the first invalid byte.
  auto valid_at = [&](size_t pos, size_t& len) -> bool {
    unsigned char b = s[pos];
    if (b < 0x80) {
      len = 1;
      return true;
    }
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      len = 1;  // 80..BF, C0, C1, F5..FF: never valid, one replacement each
      return false;
    }
    size_t k = 1;
    for (; k <= size_t(need); ++k) {
      if (pos + k >= n) break;
      unsigned char c = s[pos + k];
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
    }
    len = k;  // bytes of the (possibly partial) sequence
    return k == size_t(need) + 1;
  };
  size_t len = 0;
  while (i < n && valid_at(i, len)) i += len;
  if (i == n) return false;
  out.assign(in.data(), i);
  while (i < n) {
    if (valid_at(i, len)) {
      out.append(in.data() + i, len);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += len;
  }
  return true;
}

std::string one_line_text(std::string_view in, size_t max_bytes) {
  std::string valid;
  if (sanitize_utf8(in, valid)) in = valid;
  std::string out;
  for (size_t i = 0; i < in.size();) {
    const auto c = static_cast<unsigned char>(in[i]);
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;  // valid UTF-8 now
    const bool c1 = c == 0xC2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) < 0xA0;  // U+0080-U+009F
    if (out.size() + (c < 0x20 || c == 0x7F || c1 ? 1 : n) > max_bytes) break;
    if (c < 0x20 || c == 0x7F || c1) out += ' ';
    else out.append(in.substr(i, n));
    i += n;
  }
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

std::string control_escaped(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size());
  for (const char c : in) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) out.append("\\x").append(1, kHex[b >> 4]).append(1, kHex[b & 15]);
    else out += c;
  }
  return out;
}

std::string echo_excerpt(std::string_view in, size_t max_bytes) {
  if (in.size() <= max_bytes) return control_escaped(in);
  size_t cut = max_bytes;
  // Back to the start of a character: a continuation byte (10xxxxxx) is not one.
  while (cut > 0 && (static_cast<unsigned char>(in[cut]) & 0xC0) == 0x80) --cut;
  return control_escaped(in.substr(0, cut)) + "... (" + std::to_string(in.size()) + " bytes)";
}

}  // namespace clap
