#include "core/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/regular_file.h"

namespace clap {

namespace {

EVP_MD_CTX* ctx_of(void* p) { return static_cast<EVP_MD_CTX*>(p); }

void check(int ok, const char* what) {
  if (ok != 1) throw Error(std::string("sha256: OpenSSL ") + what + " failed");
}

}  // namespace

Sha256::Sha256() {
  ctx_ = EVP_MD_CTX_new();
  if (!ctx_) throw Error("sha256: out of memory");
  reset();
}

Sha256::~Sha256() {
  if (ctx_) EVP_MD_CTX_free(ctx_of(ctx_));
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(other.ctx_), bytes_(other.bytes_) {
  other.ctx_ = nullptr;
  other.bytes_ = 0;
}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (ctx_) EVP_MD_CTX_free(ctx_of(ctx_));
    ctx_ = other.ctx_;
    bytes_ = other.bytes_;
    other.ctx_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void Sha256::reset() {
  if (!ctx_) {  // moved-from: make usable again
    ctx_ = EVP_MD_CTX_new();
    if (!ctx_) throw Error("sha256: out of memory");
  }
  check(EVP_DigestInit_ex(ctx_of(ctx_), EVP_sha256(), nullptr), "DigestInit");
  bytes_ = 0;
}

void Sha256::update(const void* data, size_t len) {
  if (!ctx_) reset();
  if (len == 0) return;
  check(EVP_DigestUpdate(ctx_of(ctx_), data, len), "DigestUpdate");
  bytes_ += len;
}

std::array<uint8_t, 32> Sha256::digest() {
  if (!ctx_) reset();
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  check(EVP_DigestFinal_ex(ctx_of(ctx_), out.data(), &n), "DigestFinal");
  if (n != out.size()) throw Error("sha256: unexpected digest length");
  reset();
  return out;
}

std::string Sha256::hex_digest() {
  const auto d = digest();
  return to_hex(d.data(), d.size());
}

std::string to_hex(const uint8_t* bytes, size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = digits[bytes[i] >> 4];
    s[2 * i + 1] = digits[bytes[i] & 15];
  }
  return s;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

std::string sha256_hex(const void* data, size_t len) {
  Sha256 h;
  h.update(data, len);
  return h.hex_digest();
}

std::string sha256_file(const std::string& path) {
  // Regular files only, opened without waiting: the files hashed are model files found at
  // derived names, where a FIFO would block the open forever.
  const int fd = open_regular_file(path);
  if (fd < 0) throw Error(path + ": cannot open for hashing: " + open_error(errno));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(path + ": read error while hashing: " + std::strerror(err));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return h.hex_digest();
}

}  // namespace clap
