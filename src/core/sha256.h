// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface: one-shot helpers for buffers and
// files, and an incremental hasher for data that arrives in pieces (downloads, streams).
// Digests are returned as 64 lowercase hex characters, the form the Hugging Face hub uses
// in its ETags and `sha256sum` prints.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace clap {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t len);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Finishes the hash; the hasher is reset and can be reused for new data afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();
  void reset();
  uint64_t bytes() const { return bytes_; }  // bytes fed since the last reset

 private:
  void* ctx_ = nullptr;  // EVP_MD_CTX
  uint64_t bytes_ = 0;
};

std::string sha256_hex(const void* data, size_t len);
inline std::string sha256_hex(std::string_view data) { return sha256_hex(data.data(), data.size()); }
// Hash of a whole file (symlinks followed), read in chunks. Throws clap::Error naming the file.
std::string sha256_file(const std::string& path);

std::string to_hex(const uint8_t* bytes, size_t len);
// True for exactly 64 hex digits (either case): the form of a sha256 digest.
bool is_sha256_hex(std::string_view s);

}  // namespace clap
