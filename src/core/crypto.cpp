#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "core/error.h"
#include "core/sha256.h"

namespace clap {

namespace {

constexpr size_t kNonce = 12, kTag = 16, kKey = 32;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) throw Error("AES-256-GCM: out of memory");
  return ctx;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

void check_key(std::string_view key) {
  if (key.size() != kKey) throw Error("AES-256-GCM: the key must be 32 bytes, not " + std::to_string(key.size()));
}

}  // namespace

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw Error("the system's random generator failed");
  return out;
}

std::string aes256gcm_seal(std::string_view key, std::string_view plaintext, std::string_view context) {
  check_key(key);
  const std::string nonce = random_bytes(kNonce);
  CipherCtx ctx = new_ctx();
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  unsigned char* body = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  int len = 0, total = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
      (!context.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(context), static_cast<int>(context.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), body, &len, bytes(plaintext), static_cast<int>(plaintext.size())) != 1)
    throw Error("AES-256-GCM: encryption failed");
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), body + total, &len) != 1) throw Error("AES-256-GCM: encryption failed");
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), body + total) != 1)
    throw Error("AES-256-GCM: encryption failed");
  return out;
}

std::string aes256gcm_open(std::string_view key, std::string_view sealed, std::string_view context) {
  check_key(key);
  if (sealed.size() < kNonce + kTag) throw Error("AES-256-GCM: the sealed value is too short");
  const std::string_view nonce = sealed.substr(0, kNonce);
  const std::string_view body = sealed.substr(kNonce, sealed.size() - kNonce - kTag);
  std::string tag(sealed.substr(sealed.size() - kTag));
  CipherCtx ctx = new_ctx();
  std::string out(body.size(), '\0');
  int len = 0;
  unsigned char* dst = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
      (!context.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(context), static_cast<int>(context.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, bytes(body), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag.data()) != 1)
    throw Error("AES-256-GCM: decryption failed");
  int tail = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), dst + len, &tail) != 1)
    throw Error("the value was not sealed with this key (its authentication tag does not match)");
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &n, EVP_md5(), nullptr) != 1) throw Error("MD5 failed");
  return to_hex(digest, n);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace clap
