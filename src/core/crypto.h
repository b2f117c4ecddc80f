// The few cryptographic primitives the accounts of the Subsonic API need (service/accounts.h,
// server/subsonic_auth.cpp), through OpenSSL's libcrypto like sha256.h: random bytes, AES-256-GCM
// sealing of short secrets, MD5 (the Subsonic token: md5(password + salt), the protocol's choice,
// not ours) and a comparison whose time does not depend on where two strings differ.
#pragma once
#include <string>
#include <string_view>

namespace clap {

// `n` bytes from the operating system's random generator (OpenSSL RAND_bytes); throws clap::Error.
std::string random_bytes(size_t n);

// AES-256-GCM with a 32-byte key: returns nonce (12 random bytes) + ciphertext + tag (16 bytes).
// `context` is authenticated but not stored (the same must be given to open): a sealed value
// copied to another context (another user's row) does not open.
std::string aes256gcm_seal(std::string_view key, std::string_view plaintext, std::string_view context);
// The plaintext; throws clap::Error when `sealed` is too short, or was not sealed with this key
// and context (the tag does not match).
std::string aes256gcm_open(std::string_view key, std::string_view sealed, std::string_view context);

// MD5 of `data` as 32 lowercase hex digits.
std::string md5_hex(std::string_view data);

// Whether a and b are equal, in a time that depends on their lengths only (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace clap
