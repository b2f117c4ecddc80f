// clapsearch serve under attack (issue 33), over real HTTP on loopback: a library of real
// encoded files and hostile ones (an empty file, a link to a private file, files swapped after
// indexing, a link out of the library) indexed by the real CLI, a server::Server in this
// process, cpp-httplib's client and raw sockets. docs/security.md says what is guaranteed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/server.h"
#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ffmpeg;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

const std::string kSecret = "-----BEGIN OPENSSH PRIVATE KEY----- not for the web";

// A library whose root is reached through a symbolic link (a legitimate setup), holding real
// audio and the hostile files of issue 33.
struct HostileLibrary {
  std::string dir = test::temp_dir() + "/server-security";
  std::string real_music = dir + "/real-music";
  std::string music = dir + "/music";  // -> real-music
  std::string outside = dir + "/outside";
  std::string db = dir + "/library.db";
  std::string secret = outside + "/id_rsa";
  std::string tone;

  HostileLibrary() {
    fs::remove_all(dir);
    tone = ffmpeg(real_music + "/tone.mp3", "-f lavfi -i \"sine=f=440:d=12\" -ac 1 -ar 44100");
    ffmpeg(real_music + "/swapped-for-link.mp3", "-f lavfi -i \"sine=f=550:d=11\" -ac 1 -ar 44100");
    ffmpeg(real_music + "/swapped-for-file.mp3", "-f lavfi -i \"sine=f=660:d=11\" -ac 1 -ar 44100");
    ffmpeg(outside + "/elsewhere.mp3", "-f lavfi -i \"sine=f=770:d=11\" -ac 1 -ar 44100");
    write_file(real_music + "/empty.mp3", "");
    write_file(secret, kSecret);
    fs::create_directory_symlink(outside, real_music + "/linked-folder");  // a folder link out of the library
    fs::create_symlink(secret, real_music + "/notes.mp3");                 // a file link to a private file
    fs::create_directory_symlink(real_music, music);
    // The links out are indexed (--follow-links-out; by default index leaves them out, LinksOut.*),
    // so that the server's own refusal of them is what these tests see.
    test::index_library(music, db, test::case_dir("tiny-unfused"), "--follow-links-out");
  }
};

HostileLibrary& hostile() {
  static HostileLibrary lib;
  return lib;
}

class Running : public RunningServer {
 public:
  explicit Running(ServerOptions o) : RunningServer(std::move(o), hostile().db, 10) {}
};

Running& shared_server() {
  static Running r{ServerOptions{}};
  return r;
}

std::string audio_path(Running& s, const std::string& display_path) {
  return "/api/tracks/" + std::to_string(s.id_of(display_path)) + "/audio";
}

// What `fd` receives until the peer closes, the socket's timeout passes, or `done(received)`.
std::string receive(int fd, const std::function<bool(const std::string&)>& done = {}) {
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (done && done(got)) break;
  }
  return got;
}

// A TCP connection to `ip`:`port` (-1 when it cannot be made).
int connect_to(const std::string& ip, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One raw HTTP exchange: sends `request`, reads until the server closes or `timeout_s` passes.
std::string raw_exchange(int port, const std::string& request, int timeout_s = 10, const std::string& ip = "127.0.0.1") {
  const int fd = connect_to(ip, port);
  if (fd < 0) return "";
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const std::string got = receive(fd);
  ::close(fd);
  return got;
}

// --- 1. an error track's audio -----------------------------------------------------------------

TEST(ServeSecurity, AnErrorTrackHasNoAudioAndNoThreadIsLeftSpinning) {
  Running& s = shared_server();
  const std::string empty = audio_path(s, "empty.mp3");
  // More requests than the server has threads: each must be answered, and the server stays up.
  for (int i = 0; i < 20; ++i) {
    auto r = s.client().Get(empty);
    ASSERT_TRUE(r) << "no answer to request " << i << " (a server thread is stuck)";
    EXPECT_EQ(r->status, 410) << r->body;
    const json j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j["error"], "no audio");
  }
  auto r = s.client().Get(empty, {{"Range", "bytes=0-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 410);
  const json status = s.get_json("/api/status");
  EXPECT_EQ(status["errors"], 2);  // empty.mp3 and notes.mp3
  ASSERT_EQ(status["embedding_sets"].size(), 1u);  // the index's one model, active and complete
  EXPECT_TRUE(status["embedding_sets"][0]["active"]);
  EXPECT_TRUE(status["embedding_sets"][0]["complete"]);
}

TEST(ServeSecurity, AStreamEndsWhenItsFileShrinksUnderIt) {
  const std::string path = hostile().dir + "/shrinking.bin";
  write_file(path, std::string(300000, 'x'));
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::truncate(path.c_str(), 100000), 0);
  size_t written = 0;
  httplib::DataSink sink;
  sink.write = [&](const char*, size_t n) {
    written += n;
    return true;
  };
  EXPECT_FALSE(stream_file_range(fd, 0, 300000, sink));  // ends: the bytes announced are not there
  EXPECT_EQ(written, 100000u);
  EXPECT_FALSE(stream_file_range(fd, 200000, 1000, sink));
  EXPECT_TRUE(stream_file_range(fd, 1000, 2000, sink));
  ::close(fd);
}

// --- 2. DNS rebinding: the Host header ---------------------------------------------------------

TEST(ServeSecurity, WithoutATokenOnlyLoopbackAndAllowedHostNamesAreAnswered) {
  Running& s = shared_server();
  const std::string port = std::to_string(s.port());
  for (const std::string& host : std::vector<std::string>{"127.0.0.1", "127.0.0.1:" + port, "localhost", "localhost:" + port, "LocalHost:" + port,
                                  std::string("[::1]"), "[::1]:" + port}) {
    auto r = s.client().Get("/api/status", {{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 200) << host << ": " << r->body;
  }
  for (const std::string& host : std::vector<std::string>{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example", std::string("localhost.evil"),
                                  "rebind.attacker.com:" + port, std::string("[::2]:80"), std::string("0.0.0.0")}) {
    for (const char* path : {"/api/status", "/api/tracks", "/"}) {
      auto r = s.client().Get(path, {{"Host", host}});
      ASSERT_TRUE(r) << host;
      EXPECT_EQ(r->status, 421) << host << " " << path << ": " << r->body;
      const json j = json::parse(r->body, nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error")) << r->body;
      EXPECT_EQ(r->body.find("tone.mp3"), std::string::npos);
    }
  }
  // Not a Host value at all (a port that is not a number, text after an IPv6 address): 400, as
  // RFC 9112 (3.2) says, not 421 (H9S-2).
  for (const std::string host : {"127.0.0.1:80x", "[::1].evil", "localhost:1:2"}) {
    auto r = s.client().Get("/api/status", {{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 400) << host << ": " << r->body;
  }
  // HTTP/1.0 without a Host header.
  const std::string got = raw_exchange(s.port(), "GET /api/tracks HTTP/1.0\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 421", 0), 0u) << got;
  EXPECT_EQ(got.find("tone.mp3"), std::string::npos);

  // --allow-host NAME: a reverse proxy's name is answered, others still are not.
  ServerOptions o;
  o.allowed_hosts = {"Music.Example.org"};
  Running proxied(o);
  auto r = proxied.client().Get("/api/status", {{"Host", "music.example.org"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = proxied.client().Get("/api/status", {{"Host", "music.example.org:443"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = proxied.client().Get("/api/status", {{"Host", "evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421) << r->body;

  // With a token, the token is the rule (as before): any Host with it, none without.
  ServerOptions t;
  t.token = "a-long-secret";
  Running tokened(t);
  r = tokened.client().Get("/api/status", {{"Host", "lan-name.local"}, {"Authorization", "Bearer a-long-secret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = tokened.client().Get("/api/status", {{"Host", "lan-name.local"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
}

// --- 3. symbolic links and swapped files ---------------------------------------------------------

TEST(ServeSecurity, SymlinksCannotLeadOutOfTheLibrary) {
  Running& s = shared_server();
  HostileLibrary& lib = hostile();
  auto refused = [&](const std::string& url, int status, const std::string& what) {
    auto r = s.client().Get(url);
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, status) << what << ": " << r->body.substr(0, 300);
    EXPECT_EQ(r->body.find(kSecret), std::string::npos) << what;
    EXPECT_TRUE(json::parse(r->body, nullptr, false).is_object()) << what << ": " << r->body.substr(0, 300);
    // Where the library lives on this machine is not told.
    EXPECT_EQ(r->body.find(lib.real_music), std::string::npos) << what << ": " << r->body.substr(0, 300);
  };
  // A link with an audio name to a private file: indexed as an error track, never served.
  refused(audio_path(s, "notes.mp3"), 410, "notes.mp3 -> id_rsa");
  // A folder link inside the library leading out of it: the file is outside every root.
  refused(audio_path(s, "linked-folder/elsewhere.mp3"), 404, "linked-folder -> outside");
  // Indexed files swapped afterwards: for a link to the private file, for a hard link to it.
  const std::string to_link = audio_path(s, "swapped-for-link.mp3"), to_file = audio_path(s, "swapped-for-file.mp3");
  fs::remove(lib.real_music + "/swapped-for-link.mp3");
  fs::create_symlink(lib.secret, lib.real_music + "/swapped-for-link.mp3");
  refused(to_link, 404, "swapped for a link to id_rsa");
  fs::remove(lib.real_music + "/swapped-for-file.mp3");
  fs::create_hard_link(lib.secret, lib.real_music + "/swapped-for-file.mp3");
  refused(to_file, 404, "swapped for a hard link to id_rsa");
  auto r = s.client().Get(to_file, {{"Range", "bytes=0-9"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // A file gone since indexing: the reason in the library's terms, not the system's error text.
  fs::remove(lib.real_music + "/swapped-for-link.mp3");
  refused(to_link, 404, "removed");
  r = s.client().Get(to_link);
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("swapped-for-link.mp3: no longer there"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("No such file"), std::string::npos) << r->body;
}

TEST(ServeSecurity, ALibraryRootReachedThroughALinkIsServed) {
  Running& s = shared_server();
  const std::string url = audio_path(s, "tone.mp3");  // under music -> real-music
  const std::string bytes = read_file(hostile().tone);
  auto r = s.client().Get(url);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 300);
  EXPECT_EQ(r->body, bytes);
  r = s.client().Get(url, {{"Range", "bytes=100-199"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, bytes.substr(100, 100));
}

// --- 4. an uploaded playlist ---------------------------------------------------------------------

TEST(ServeSecurity, AnUploadedPlaylistOpensNoOtherFile) {
  Running& s = shared_server();
  // A real encoded file outside the library, and HLS / concat / ffconcat playlists naming it,
  // uploaded under an audio name.
  const std::string secret = ffmpeg(hostile().outside + "/private.mp3", "-f lavfi -i \"sine=f=500:d=12\" -ac 1");
  const std::vector<std::pair<std::string, std::string>> playlists = {
      {"q.mp3", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:13\n#EXTINF:12.0,\n" + secret + "\n#EXT-X-ENDLIST\n"},
      {"q.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:13\n#EXTINF:12.0,\nfile:" + secret + "\n#EXT-X-ENDLIST\n"},
      {"c.mp3", "ffconcat version 1.0\nfile '" + secret + "'\n"},
  };
  for (const auto& [name, text] : playlists) {
    httplib::MultipartFormDataItems items = {{"file", text, name, "audio/mpeg"}};
    auto r = s.client().Post("/api/like", items);
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, 415) << name << ": " << r->body.substr(0, 400);
    EXPECT_EQ(r->body.find(secret), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("/proc/"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("memfd"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(name), std::string::npos) << r->body;  // the client's own name for it
  }
  // The same audio sent itself is searched.
  httplib::MultipartFormDataItems real = {{"file", read_file(secret), "private.mp3", "audio/mpeg"}};
  auto r = s.client().Post("/api/like?k=1", real);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// --- 5. request bodies counted as they arrive ---------------------------------------------------

int64_t peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

TEST(ServeSecurity, AChunkedUploadStopsAtTheLimit) {
  ServerOptions o;
  o.max_upload_bytes = 1 << 20;
  Running s(o);
  constexpr int64_t kBody = 256ll << 20;  // 256 MB offered, chunk by chunk
  std::ofstream("/proc/self/clear_refs") << "5";  // resets the peak (VmHWM) to the current RSS
  const int64_t before = peak_rss_kb();

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::atomic<int64_t> sent{0};
  std::thread sender([&] {
    const std::string head = "POST /api/like HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n";
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0) return;
    std::string chunk(1 << 16, 'x');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    const std::string piece = size_line + chunk + "\r\n";
    while (sent < kBody) {
      if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) return;  // the server closed: done
      sent += static_cast<int64_t>(chunk.size());
    }
    ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  });
  const std::string got = receive(fd, [](const std::string& received) {  // the head and the JSON error
    return received.find("\r\n\r\n") != std::string::npos && received.find("}") != std::string::npos;
  });
  ::shutdown(fd, SHUT_RDWR);
  sender.join();
  ::close(fd);
  const int64_t grew_mb = (peak_rss_kb() - before) >> 10;
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 300);
  EXPECT_NE(got.find("\"error\""), std::string::npos) << got.substr(0, 300);
  EXPECT_LT(sent.load(), kBody / 4) << "the server read on past the limit";
  EXPECT_LT(grew_mb, 64) << "peak memory grew by " << grew_mb << " MB for a body over a 1 MB limit";

  // A declared length over the limit: refused before a byte of the body is read.
  const std::string declared = raw_exchange(
      s.port(), "POST /api/like HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/mpeg\r\nContent-Length: 1073741824\r\n\r\n");
  EXPECT_EQ(declared.rfind("HTTP/1.1 413", 0), 0u) << declared;
  // A body to a route that takes none (cpp-httplib would read it whole first).
  const std::string other = raw_exchange(
      s.port(), "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n");
  EXPECT_EQ(other.rfind("HTTP/1.1 413", 0), 0u) << other;
  // The server goes on answering.
  EXPECT_EQ(s.get_json("/api/status")["ok"], 4);
  // An upload a little over the limit (multipart, with a length) gets its 413 too.
  httplib::MultipartFormDataItems big = {{"file", std::string((1 << 20) + 5000, 'y'), "big.mp3", "audio/mpeg"}};
  auto r = s.client().Post("/api/like", big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
}

// --- 7. slow clients -----------------------------------------------------------------------------

// A POST without Content-Length or Transfer-Encoding has no body (RFC 9112): answered at once,
// not after the server's read timeout (30 s here; the client gives up after 5).
TEST(ServeSecurity, APostWithoutABodyIsAnsweredAtOnce) {
  Running& s = shared_server();
  const std::string got =
      raw_exchange(s.port(), "POST /api/like HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 5);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("upload"), std::string::npos) << got;  // "missing upload": as an empty body is
  // Routes without their own body reader too (cpp-httplib reads those bodies itself), and the
  // Subsonic API's form POST with every parameter in the query.
  for (const std::string head : {"POST /api/search", "PUT /api/status", "PATCH /api/status", "POST /rest/ping"}) {
    const std::string answer = raw_exchange(s.port(), head + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 5);
    EXPECT_EQ(answer.rfind("HTTP/1.1 ", 0), 0u) << head << ": " << answer;
    EXPECT_EQ(answer.find("HTTP/1.1 408"), std::string::npos) << head << ": " << answer;
  }
}

// This machine's first IPv4 address that is not loopback ("" when it has none).
std::string own_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
    char text[INET_ADDRSTRLEN] = {0};
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// Whether `got` holds a whole HTTP response with a Content-Length body.
bool whole_response(const std::string& got) {
  const size_t head_end = got.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const size_t length_at = got.find("Content-Length: ");
  if (length_at == std::string::npos || length_at > head_end) return true;
  return got.size() >= head_end + 4 + std::stoul(got.substr(length_at + 16));
}

// H15S-3: the REST API's token (chosen by the owner, 8 characters at least) could be guessed as fast
// as requests are answered (800 a second from one client), while Subsonic passwords are locked out
// after 5 wrong. Wrong tokens are limited per address the same way; not from loopback (a reverse
// proxy's address: one client would lock every other out).
TEST(ServeSecurity, WrongTokensFromOneAddressAreLimited) {
  const std::string ip = own_address();
  if (ip.empty()) GTEST_SKIP() << "this machine has no IPv4 address besides loopback";
  ServerOptions o;
  o.host = "0.0.0.0";
  o.token = "right-secret";
  Running s(o);
  const auto status = [&](const std::string& token, const std::string& from) {
    const std::string got = raw_exchange(s.port(), "GET /api/status HTTP/1.1\r\nHost: " + ip + "\r\nAuthorization: Bearer " +
                                                       token + "\r\nConnection: close\r\n\r\n", 10, from);
    return got.substr(0, got.find("\r\n")) + (got.find("too many wrong tokens") != std::string::npos ? " (locked)" : "");
  };
  ASSERT_EQ(status("right-secret", ip), "HTTP/1.1 200 OK") << "not reachable at " << ip;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(status("wrong-" + std::to_string(i), "127.0.0.1"), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status("right-secret", "127.0.0.1"), "HTTP/1.1 200 OK");  // loopback: not limited
  for (int i = 0; i < 5; ++i) EXPECT_EQ(status("wrong-" + std::to_string(i), ip), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status("right-secret", ip), "HTTP/1.1 401 Unauthorized (locked)");  // not even checked
  EXPECT_EQ(status("right-secret", "127.0.0.1"), "HTTP/1.1 200 OK");  // another address goes on
}

// A server listening on "::" takes IPv4 connections too, and names their clients by IPv4-mapped
// addresses: a reverse proxy on this machine connecting to 127.0.0.1 is "::ffff:127.0.0.1" there.
// Its wrong tokens were counted as one non-loopback client's, so that 5 of them (any client's,
// behind the proxy) locked every client out (H16S-2: the right token then 401 "too many wrong
// tokens from this address").
TEST(ServeSecurity, WrongTokensFromIpv4LoopbackToAServerOnBothFamiliesAreNotLimited) {
  ServerOptions o;
  o.host = "::";
  o.token = "right-secret";
  std::unique_ptr<Running> s;
  try {
    s = std::make_unique<Running>(o);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "cannot listen on :: (no IPv6 here): " << e.what();
  }
  const auto status = [&](const std::string& token) {
    const std::string got = raw_exchange(s->port(), "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                                        token + "\r\nConnection: close\r\n\r\n");
    return got.substr(0, got.find("\r\n")) + (got.find("too many wrong tokens") != std::string::npos ? " (locked)" : "");
  };
  ASSERT_EQ(status("right-secret"), "HTTP/1.1 200 OK") << "not reachable at 127.0.0.1 through ::";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(status("wrong-" + std::to_string(i)), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status("right-secret"), "HTTP/1.1 200 OK");
}

// At most connections_per_address connections from one client address are served at once;
// loopback is not counted (a reverse proxy's connections all come from there). Connecting to
// this machine's own network address makes the client's address that one, not loopback.
// No sleep guesses when the server has counted or released a connection (under CI's load a
// fixed 300-500 ms was not always enough): a connection is counted before its first request is
// read, so an answer on it means it is counted; a release is waited for, up to 20 s.
TEST(ServeSecurity, ConnectionsFromOneAddressAreBounded) {
  const std::string ip = own_address();
  if (ip.empty()) GTEST_SKIP() << "this machine has no IPv4 address besides loopback";
  ServerOptions o;
  o.host = "0.0.0.0";
  o.token = "per-address-secret";
  o.connections_per_address = 2;
  Running s(o);
  const std::string head = "GET /api/status HTTP/1.1\r\nHost: " + ip + "\r\nAuthorization: Bearer per-address-secret\r\n";
  const std::string request = head + "Connection: close\r\n\r\n";
  // Two connections, each answered once and then left open, idle (kept alive 5 s by the server).
  auto answered_and_kept = [&](int fd) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string keep_alive = head + "\r\n";
    ::send(fd, keep_alive.data(), keep_alive.size(), MSG_NOSIGNAL);
    return receive(fd, whole_response);
  };
  const int first = connect_to(ip, s.port());
  ASSERT_GE(first, 0) << "not reachable at " << ip;
  ASSERT_EQ(answered_and_kept(first).rfind("HTTP/1.1 200", 0), 0u) << "not answered at " << ip;
  const int second = connect_to(ip, s.port());
  ASSERT_GE(second, 0);
  ASSERT_EQ(answered_and_kept(second).rfind("HTTP/1.1 200", 0), 0u) << "a second connection from " << ip << " was refused";
  EXPECT_EQ(raw_exchange(s.port(), request, 5, ip), "") << "a third connection from " << ip << " was served";
  auto r = s.client().Get("/api/status", {{"Authorization", "Bearer per-address-secret"}});  // loopback: not counted
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ::close(first);
  ::close(second);
  std::string again;
  for (int i = 0; i < 200 && again.rfind("HTTP/1.1 200", 0) != 0; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    again = raw_exchange(s.port(), request, 5, ip);
  }
  EXPECT_EQ(again.rfind("HTTP/1.1 200", 0), 0u) << "the bound was not released: " << again;
}

TEST(ServeSecurity, ASlowRequestHeadIsCutAtItsDeadline) {
  ServerOptions o;
  o.http_threads = 2;
  o.head_timeout_s = 2;
  Running s(o);
  // As many slow clients as the server has threads, each sending its head a byte every 200 ms
  // (well within the 30 s socket timeout): each is cut at the head deadline.
  std::atomic<int> cut{0};
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i)
    slow.emplace_back([&] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(s.port()));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return ::close(fd), void();
      const std::string head = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
      const auto start = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - start < std::chrono::seconds(12)) {
        char c;
        const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || ::send(fd, "a", 1, MSG_NOSIGNAL) < 0) {
          if (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) ++cut;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      ::close(fd);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // A normal request meanwhile is answered once a slow one is cut.
  const auto t0 = std::chrono::steady_clock::now();
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(8, 0);
  auto r = c.Get("/api/status");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& t : slow) t.join();
  ASSERT_TRUE(r) << "no answer while slow clients held every thread";
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(took, 5.0);
  EXPECT_EQ(cut.load(), 2) << "a slow request head was not cut at its deadline";
}

// --- 12. a FIFO at a name derived from the database -------------------------------------------

TEST(ServeSecurity, AFifoAtTheWindowIndexNameBlocksNothing) {
  const std::string dir = hostile().dir + "/fifo";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(hostile().db, dir + "/library.db");
  ASSERT_EQ(::mkfifo((dir + "/library.db.windows.faiss").c_str(), 0600), 0);
  std::string out, err;
  const int rc = test::run_command("timeout 60 " + test::cli_command() + " like '" + hostile().tone + "' --db '" + dir +
                                       "/library.db' -k 1 --json",
                                   &out, &err);
  EXPECT_EQ(rc, 0) << (rc == 124 ? "like hung opening the FIFO at <db>.windows.faiss" : err);
  EXPECT_TRUE(json::parse(out, nullptr, false).is_array()) << out;
}

}  // namespace
}  // namespace clap::server
