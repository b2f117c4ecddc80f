// A Subsonic app that pauses a transcoded stream (stops reading it) and plays on: the slow-reader
// rules (connection.h: the write timeout, the 8 KB/s rate) cut it after --timeout, and a transcode
// cannot be asked for again from where it stopped, so the song was lost. A stream of /rest/ is
// now held paused for RequestDeadlines::pause_s in all, within a bounded number of such streams
// per user. Real server (a thread of this process), real index, a raw socket client that reads,
// pauses and reads on; the limits are made small so that the test takes seconds.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using Clock = std::chrono::steady_clock;

// One /rest/stream read by hand over a socket with a small receive buffer, so that a pause of
// the reader stops the server's writes at once.
class StreamReader {
 public:
  StreamReader(int port, const std::string& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int small = 2048;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~StreamReader() { ::close(fd_); }
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // Reads until `body` bytes of the body are in (0: all of it: its Content-Length, or a chunked
  // body's last chunk), the server closes or resets the connection, or `limit` passes. False
  // when the body stopped short.
  bool read_body(size_t body, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until && !complete(body)) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      bytes_.append(buf, static_cast<size_t>(n));
      if (!head_read_ && bytes_.find("\r\n\r\n") != std::string::npos) {
        head_read_ = true;
        const std::string head = bytes_.substr(0, bytes_.find("\r\n\r\n"));
        if (const size_t at = head.find("Content-Length: "); at != std::string::npos) length_ = std::stoull(head.substr(at + 16));
        chunked_ = head.find("Transfer-Encoding: chunked") != std::string::npos;
      }
    }
    return complete(body);
  }
  bool complete(size_t body) const {
    if (!head_read_) return false;
    if (body) return body_bytes() >= body;
    if (length_) return body_bytes() >= *length_;
    return chunked_ && bytes_.size() >= 5 && bytes_.compare(bytes_.size() - 5, 5, "0\r\n\r\n") == 0;
  }
  size_t body_bytes() const {
    const size_t head = bytes_.find("\r\n\r\n");
    return head == std::string::npos ? 0 : bytes_.size() - head - 4;
  }
  const std::string& bytes() const { return bytes_; }
  std::optional<size_t> length() const { return length_; }

 private:
  int fd_ = -1;
  std::string bytes_;
  std::optional<size_t> length_;
  bool head_read_ = false, chunked_ = false;
};

class PausedStreams : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir();
    const std::string music = dir_ + "/music";
    test::ffmpeg(music + "/long.flac", "-f lavfi -i \"sine=f=440:d=40:sample_rate=44100\" -metadata title=Long");
    test::index_library(music, dir_ + "/library.db", test::case_dir("tiny-unfused"));
    std::ofstream(dir_ + "/pw") << "pw\n";
    std::string out, err;
    for (const char* user : {"alice", "bob"})
      ASSERT_EQ(test::run_cli(std::string("user add ") + user + " --db " + test::quoted(dir_ + "/library.db") + " < " +
                                  test::quoted(dir_ + "/pw"),
                              &out, &err),
                0)
          << err;
  }
  // The slow-reader rules at their smallest (a 1 s write timeout, 1 s of grace), a small send
  // buffer (else the kernel takes the whole answer at once), and pauses of 3 s, one per user.
  static ServerOptions options() {
    ServerOptions o;
    o.timeout_s = 1;
    o.response_grace_s = 1;
    o.send_buffer_bytes = 4096;
    o.stream_pause_s = 3;
    o.paused_streams_per_user = 1;
    o.max_transcodes = 4;
    return o;
  }
  // A 64 kbit/s MP3 transcode of the song, sent chunked, or with estimateContentLength.
  static std::string stream_of(const std::string& user, bool estimate = false) {
    return "/rest/stream?u=" + user + "&p=pw&v=1.16.1&c=test&id=1&format=mp3&maxBitRate=64" +
           (estimate ? "&estimateContentLength=true" : "");
  }
  static std::string dir_;
};
std::string PausedStreams::dir_;

constexpr size_t kBeforePause = 16 << 10;

// Reads a little of a stream, pauses `pause`, and reads the rest: whether all of it came.
bool read_pause_read(int port, const std::string& target, std::chrono::milliseconds pause, std::string* why) {
  StreamReader r(port, target);
  if (!r.read_body(kBeforePause)) {
    *why = "the stream did not start: " + r.bytes().substr(0, 300);
    return false;
  }
  std::this_thread::sleep_for(pause);
  const bool whole = r.read_body(0);
  *why = std::to_string(r.body_bytes()) + " bytes" + (r.length() ? " of " + std::to_string(*r.length()) : "") + ", ending " +
         test::quoted(r.bytes().substr(r.bytes().size() - std::min<size_t>(r.bytes().size(), 12)));
  return whole;
}

TEST_F(PausedStreams, AStreamPausedWithinTheLimitPlaysOnAndEachUserHoldsABoundedNumber) {
  RunningServer server(options(), dir_ + "/library.db", 30);
  std::string why;
  // Paused 1.8 s: past the old rules (cut after the 1 s write timeout), within the 3 s allowed.
  EXPECT_TRUE(read_pause_read(server.port(), stream_of("alice"), std::chrono::milliseconds(1800), &why))
      << "a paused stream was cut: " << why;

  // Two of alice's streams paused at once: one user holds one paused stream here, so one is cut;
  // bob's, paused at the same time, plays on (the bound is per user). The first stream's slot was
  // given back when it ended: else neither of these would be held.
  std::string why_a, why_b, why_bob;
  auto a = std::async(std::launch::async, [&] { return read_pause_read(server.port(), stream_of("alice"), std::chrono::milliseconds(1800), &why_a); });
  auto b = std::async(std::launch::async, [&] { return read_pause_read(server.port(), stream_of("alice"), std::chrono::milliseconds(1800), &why_b); });
  const bool bob = read_pause_read(server.port(), stream_of("bob", true), std::chrono::milliseconds(1800), &why_bob);
  const bool first = a.get(), second = b.get();
  EXPECT_NE(first, second) << "alice's two paused streams: " << why_a << "; " << why_b;
  EXPECT_TRUE(bob) << "bob's paused stream was cut: " << why_bob;

  // Paused longer than allowed: cut, as before.
  EXPECT_FALSE(read_pause_read(server.port(), stream_of("alice"), std::chrono::milliseconds(6000), &why))
      << "a stream paused past the limit was held: " << why;
}

// Hostile pass 7 (H7S-3): one user's paused transcodes held every transcode slot (2 by default),
// and every other user's transcode was refused 429 for up to --stream-pause (10 minutes), again
// and again. A user now holds at most half of them.
TEST_F(PausedStreams, OneUserHoldsAtMostHalfTheTranscodes) {
  ServerOptions o = options();  // 4 transcodes
  o.timeout_s = 30;             // no stream is cut while the test holds it
  RunningServer server(o, dir_ + "/library.db", 30);
  StreamReader first(server.port(), stream_of("alice")), second(server.port(), stream_of("alice"));
  ASSERT_TRUE(first.read_body(kBeforePause)) << first.bytes().substr(0, 300);
  ASSERT_TRUE(second.read_body(kBeforePause)) << second.bytes().substr(0, 300);
  // Both stay unread (paused): alice holds 2 of the 4 slots, her third is refused...
  StreamReader third(server.port(), stream_of("alice"));
  third.read_body(0, std::chrono::seconds(10));
  EXPECT_EQ(third.bytes().rfind("HTTP/1.1 429", 0), 0u) << third.bytes().substr(0, 400);
  EXPECT_NE(third.bytes().find("the most one user holds"), std::string::npos) << third.bytes().substr(0, 600);
  // ...and bob's transcode plays.
  StreamReader bob(server.port(), stream_of("bob"));
  EXPECT_TRUE(bob.read_body(kBeforePause)) << bob.bytes().substr(0, 400);
}

// With pauses off (--stream-pause 0) the old rules hold: a 1.8 s pause loses the stream.
TEST_F(PausedStreams, WithPausesOffTheSlowReaderRulesCutAPausedStream) {
  ServerOptions o = options();
  o.stream_pause_s = 0;
  RunningServer server(o, dir_ + "/library.db", 30);
  std::string why;
  EXPECT_FALSE(read_pause_read(server.port(), stream_of("alice"), std::chrono::milliseconds(1800), &why))
      << "a paused stream was held with pauses off: " << why;
}

}  // namespace
}  // namespace clap::server
