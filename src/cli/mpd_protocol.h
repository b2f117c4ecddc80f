// MPD's line protocol, spoken here byte by byte: the connection (TCP or a local socket), the
// greeting, commands with quoted arguments, and answers read line by line within bounds.
//
// Why not libmpdclient: its API hands every answer line over as C strings, so a NUL inside a line
// cut the line unseen (`state: play\0ing` was read as "play", `file: URI\0junk` as "URI";
// hostile pass 18, H18P-1). Here each line is a std::string of the bytes MPD sent, and a line
// holding a NUL, a line that is not MPD's protocol, or an answer past its bounds is an MpdError
// naming the server: the radio never acts on part of a line.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace clap::cli {

// The server cannot be reached, the connection broke, or the server spoke something that is not
// MPD's protocol: the radio reconnects (or --once exits 1).
class MpdError : public Error {
 public:
  using Error::Error;
};

// Where MPD listens: "HOST", "HOST:PORT", "[IPv6]:PORT" or a local socket path ("/run/mpd/socket").
struct MpdAddress {
  std::string host;  // a host name, an address or a socket path ('@' first: an abstract socket)
  unsigned port = 0; // 0 = MPD's default, 6600 (none for a socket)
  std::string text() const;  // as people write it, for messages
};

// Bounds on one answer (R11C-6): a server that never stops sending is given up, not read for
// ever. A real MPD's status, `config`, `add` and `idle` answers are a few dozen lines; its queue
// is at most max_playlist_length songs (16384 by default) of about a dozen lines each.
struct AnswerBounds {
  uint64_t lines;
  uint64_t bytes;
  std::chrono::seconds time;
};
inline constexpr AnswerBounds kShortAnswer{4096, 1 << 20, std::chrono::seconds(60)};
inline constexpr AnswerBounds kQueueAnswer{16u << 20, 512u << 20, std::chrono::seconds(300)};

// One part of an answer: the answer to one command (a command list answers each command in turn,
// parts separated by "list_OK").
struct AnswerPart {
  std::string what;  // the command, for messages: "`status`"
  AnswerBounds bounds;
};

// How an answer ended: "OK", or "ACK [code@n] {command} message" (MPD refused the command; the
// connection is still usable).
struct AnswerEnd {
  bool refused = false;
  std::string message;  // MPD's message after an ACK, as it sent it (shown through terminal_text)
};

class MpdLink {
 public:
  // Connects and reads MPD's greeting ("OK MPD 0.23.5"). `io_timeout`: the longest wait for any
  // one read or write (a server silent that long is stuck). Throws MpdError.
  MpdLink(const MpdAddress& address, std::chrono::milliseconds io_timeout);
  ~MpdLink();
  MpdLink(const MpdLink&) = delete;
  MpdLink& operator=(const MpdLink&) = delete;

  // Sends one command: the name, then each argument quoted as MPD reads it ('"' and '\\'
  // escaped). The caller checks arguments for line breaks and NUL first (line_protocol_safe).
  void send(std::string_view command, const std::vector<std::string>& arguments = {});
  // Sends lines as they are (a command list), each ended by '\n'.
  void send_lines(const std::vector<std::string>& lines);

  // Reads one answer to its end: each "name: value" line goes to on_pair(part, name, value),
  // `part` counting the "list_OK"s seen (a command list sent by command_list_ok_begin: `parts`
  // has one entry per command; a single command: one entry, and no "list_OK" may come). Throws MpdError (naming the part's command) on a line holding a NUL,
  // a line that is neither a pair nor an answer's end, a closed connection, a silence longer
  // than the I/O timeout, or an answer past its part's bounds.
  using PairSink = std::function<void(size_t part, std::string_view name, std::string_view value)>;
  AnswerEnd read_answer(const std::vector<AnswerPart>& parts, const PairSink& on_pair);
  // As read_answer, the pairs not needed.
  AnswerEnd skip_answer(const std::string& what);

  // Waits until the server has something to say or `other_fd` is readable, with no timeout.
  // True: the server (or data it already sent) is ready; false: other_fd is.
  bool wait_readable(int other_fd);

  const MpdAddress& address() const { return address_; }

 private:
  [[noreturn]] void lost(const std::string& what, const std::string& reason) const;
  // The next line, without its '\n', within the answer's bounds (bytes counting the
  // `bytes_before` of its earlier lines; `deadline` is the whole answer's). `subject` names the
  // answer in messages: "its answer to `status`", "its greeting".
  std::string next_line(const std::string& subject, const AnswerBounds& bounds, uint64_t bytes_before,
                        std::chrono::steady_clock::time_point deadline);
  void write_all(const std::string& bytes);

  MpdAddress address_;
  std::chrono::milliseconds io_timeout_;
  int fd_ = -1;
  std::string in_;     // bytes received and not yet read as lines
  size_t in_pos_ = 0;  // where the next line starts in in_
};

}  // namespace clap::cli
