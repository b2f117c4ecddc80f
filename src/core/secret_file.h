// Reading a secret's file the user names (`user add --password-file`, `radio --password-file`,
// `serve --token-file`): its first line, from a regular file or from a pipe, as ssh and gpg take
// `--passphrase-file <(pass show music)` (hostile pass 12, R12P-2: a process substitution was
// refused as "not a regular file").
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace clap {

// How long a pipe may take to give its first line (`pass show` may wait for a passphrase typed
// into a pinentry window): a FIFO nobody writes to is then an error, never a hang.
inline constexpr std::chrono::seconds kSecretPipeDeadline{120};

// The first line of `path` (without its line break, nor a CR before it), read until its first
// line break or end: a regular file; a pipe or FIFO - an anonymous one named /dev/fd/N (a process
// substitution), or one in the file system - opened without waiting for a writer, and read
// within `deadline`; "-" standard input (no deadline when it is a terminal: a person types).
// Throws clap::Error naming the file (`what` names its role, "password file") and the reason:
// missing, a folder, a device or socket (/dev/zero, /dev/tty: not a file a secret is kept in), a
// line longer than `max_bytes`, a NUL byte, nothing arrived within the deadline. An empty file
// or line is returned empty: the caller says what it lacks.
std::string read_secret_line(const std::string& path, const std::string& what, uint64_t max_bytes,
                             std::chrono::milliseconds deadline = kSecretPipeDeadline);

// The error for an empty first line, naming `path` ("-": standard input) and its role (`what`):
// "is empty" was said of a file whose first line alone was blank (hostile pass 14, H14C-2), and
// "-: the token file is empty" of standard input.
std::string empty_secret_message(const std::string& path, const std::string& what);

}  // namespace clap
