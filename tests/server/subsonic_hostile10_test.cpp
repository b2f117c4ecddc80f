// Hostile pass 10 on the /rest/ server (issue 53), on a real server (a thread of this process)
// over a real index: the long lists a user makes for themselves (a play queue of 20,000 songs, a
// bookmark on every song) and an artist's top songs (5,000 a call) are written record by record
// and take a long answer's turn, as playlists, folders and searches do.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/running_server.h"
#include "server/subsonic.h"
#include "server/written_tracks.h"
#include "store/store.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

constexpr int kSongs = 1500;  // past kLongAnswerItems

using test_tracks::count_of;

// One artist of kSongs songs: a real file, the others written into the index as the indexer
// would (their files are never opened by the lists).
std::string make_many_songs_index() {
  return test_tracks::written_index("subsonic-hostile10", "-metadata album=Long -metadata artist=Wide", kSongs - 1,
                                    [](int i, store::Track& t, std::vector<float>&) {
                                      const int n = i + 1;  // song1 .. song1499 beside real.flac
                                      t.path += "/song" + std::to_string(n) + ".mp3";
                                      t.size = 1000 + n;
                                      t.title = "Song <" + std::to_string(n) + ">";
                                      t.artist = "Wide";
                                      t.album = "Long";
                                    })
      .db;
}

const std::string& many_songs_index() {
  static const std::string db = make_many_songs_index();
  return db;
}

std::string get(httplib::Client& client, const std::string& query) {
  auto r = client.Get("/rest/" + query + "&v=1.16.1&c=test&u=alice&p=pw");
  if (!r) throw std::runtime_error("no response to " + query);
  return r->body;
}

json rest(httplib::Client& client, const std::string& query) {
  return json::parse(get(client, query + "&f=json"))["subsonic-response"];
}

json post(httplib::Client& client, const std::string& endpoint, const std::string& form) {
  auto r = client.Post("/rest/" + endpoint, "v=1.16.1&c=test&u=alice&p=pw&f=json&" + form, "application/x-www-form-urlencoded");
  if (!r) throw std::runtime_error("no response to " + endpoint);
  return json::parse(r->body)["subsonic-response"];
}

// H10S-2: getTopSongs (5,000 songs a call), getPlayQueue and getPlayQueueByIndex (20,000) and
// getBookmarks (one per song of the library, each with up to 10,000 bytes of comment) built their
// whole answer as one tree and took no long answer's turn, so 16 of them at once held 16 trees
// (the class of H8S-6 and H9S-4). Each is now written record by record and takes a turn.
TEST(SubsonicHostile10, AUsersLongListsAreWrittenRecordByRecord) {
  RunningServer server(ServerOptions{}, many_songs_index(), 60);
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(60, 0);

  uint64_t made = subsonic::lazy_records_made();
  int64_t turns = subsonic::long_answers_taken();
  const json top = rest(client, "getTopSongs?artist=Wide&count=5000");
  ASSERT_EQ(top["status"], "ok") << top.dump().substr(0, 300);
  ASSERT_EQ(top["topSongs"]["song"].size(), static_cast<size_t>(kSongs));
  EXPECT_GE(subsonic::lazy_records_made() - made, static_cast<uint64_t>(kSongs));
  EXPECT_GE(subsonic::long_answers_taken() - turns, 1);
  EXPECT_EQ(count_of(get(client, "getTopSongs?artist=Wide&count=5000"), "<song "), static_cast<size_t>(kSongs));
  std::vector<std::string> ids;
  for (const json& s : top["topSongs"]["song"]) ids.push_back(s["id"]);

  // A queue of every song, the first twice.
  std::string form = "current=" + ids[0];
  for (const std::string& id : ids) form += "&id=" + id;
  form += "&id=" + ids[0];
  const json saved = post(client, "savePlayQueue", form);
  ASSERT_EQ(saved["status"], "ok") << saved.dump();
  for (const std::string endpoint : {"getPlayQueue", "getPlayQueueByIndex"}) {
    made = subsonic::lazy_records_made();
    turns = subsonic::long_answers_taken();
    const json queue = rest(client, endpoint + "?x=1");
    ASSERT_EQ(queue["status"], "ok") << endpoint;
    const json& q = queue[endpoint == "getPlayQueue" ? "playQueue" : "playQueueByIndex"];
    ASSERT_EQ(q["entry"].size(), static_cast<size_t>(kSongs + 1)) << endpoint;
    EXPECT_EQ(q["entry"][0]["id"], ids[0]);
    EXPECT_EQ(q["entry"][kSongs]["id"], ids[0]);
    EXPECT_GE(subsonic::lazy_records_made() - made, static_cast<uint64_t>(kSongs + 1)) << endpoint;
    EXPECT_GE(subsonic::long_answers_taken() - turns, 1) << endpoint;
    EXPECT_EQ(count_of(get(client, endpoint + "?x=1"), "<entry "), static_cast<size_t>(kSongs + 1)) << endpoint;
  }

  // A bookmark on every song, each with a comment.
  for (size_t i = 0; i < ids.size(); ++i) {
    const json marked = post(client, "createBookmark", "id=" + ids[i] + "&position=" + std::to_string(1000 + i) + "&comment=at%20" +
                                                           std::to_string(i) + "%0Aand%20%3Cmore%3E");
    ASSERT_EQ(marked["status"], "ok") << marked.dump();
  }
  made = subsonic::lazy_records_made();
  turns = subsonic::long_answers_taken();
  const json marks = rest(client, "getBookmarks?x=1");
  ASSERT_EQ(marks["status"], "ok");
  ASSERT_EQ(marks["bookmarks"]["bookmark"].size(), static_cast<size_t>(kSongs));
  EXPECT_GE(subsonic::lazy_records_made() - made, static_cast<uint64_t>(kSongs));
  EXPECT_GE(subsonic::long_answers_taken() - turns, 1);
  json last;
  for (const json& b : marks["bookmarks"]["bookmark"])
    if (b["entry"]["id"] == ids.back()) last = b;
  ASSERT_TRUE(last.is_object());
  EXPECT_EQ(last["position"], 1000 + kSongs - 1);
  EXPECT_EQ(last["comment"], "at " + std::to_string(kSongs - 1) + "\nand <more>");
  EXPECT_EQ(last["username"], "alice");
  const std::string xml = get(client, "getBookmarks?x=1");
  EXPECT_EQ(count_of(xml, "<bookmark "), static_cast<size_t>(kSongs));
  EXPECT_EQ(count_of(xml, "<entry "), static_cast<size_t>(kSongs));
  EXPECT_NE(xml.find("comment=\"at 0&#10;and &lt;more&gt;\""), std::string::npos) << xml.substr(0, 600);

  // Empty lists stay empty lists.
  ASSERT_EQ(post(client, "savePlayQueue", "x=1")["status"], "ok");
  EXPECT_FALSE(rest(client, "getPlayQueue?x=1").contains("playQueue"));
  EXPECT_EQ(rest(client, "getTopSongs?artist=Nobody")["topSongs"]["song"], json::array());
}

// H10S-5: a form POST is parsed before anyone is signed in, each field costing about 100 bytes
// (twice while it was copied in): 1 MB of "a&" was 500,000 fields and 100 MB for one request from
// anyone, 16 at once 1.6 GB. A form holds at most kMaxFormFields fields; the largest playlist,
// 20,000 songs, still fits.
TEST(SubsonicHostile10, AFormOfTooManyFieldsIsRefusedBeforeItIsParsed) {
  RunningServer server(ServerOptions{}, many_songs_index(), 60);
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(60, 0);
  std::string empty;
  for (size_t i = 0; i < subsonic::kMaxFormFields; ++i) empty += "a&";  // kMaxFormFields + 1 fields (the last one empty)
  auto refused = client.Post("/rest/ping?f=json", empty, "application/x-www-form-urlencoded");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413);
  const json failed = json::parse(refused->body)["subsonic-response"];
  EXPECT_EQ(failed["status"], "failed") << refused->body.substr(0, 300);
  EXPECT_EQ(failed["error"]["message"], "the form holds 25001 fields; at most 25000 are read");

  const std::string first = rest(client, "getTopSongs?artist=Wide&count=1")["topSongs"]["song"][0]["id"];
  std::string songs = "name=biggest";
  for (int i = 0; i < 20000; ++i) songs += "&songId=" + first;
  const json made = post(client, "createPlaylist", songs);
  ASSERT_EQ(made["status"], "ok") << made.dump().substr(0, 300);
  EXPECT_EQ(made["playlist"]["songCount"], 20000);
}

// The bytes a raw request got, until the server closed the connection (or 20 s passed).
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    char buf[8192];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

// H10S-4: a transcode is written as it is made, in chunks (Transfer-Encoding: chunked), also to
// an HTTP/1.0 client, which RFC 9112 (6.1) forbids: such a client knows no chunks and kept each
// chunk's size line in the audio. An HTTP/1.0 client gets the audio as it is, ended by the
// connection's end; an HTTP/1.1 client still gets chunks.
TEST(SubsonicHostile10, AnHttp10ClientGetsATranscodeWithoutChunks) {
  RunningServer server(ServerOptions{}, many_songs_index(), 60);
  httplib::Client client("127.0.0.1", server.port());
  std::string id;  // the one real file
  const json top = rest(client, "getTopSongs?artist=Wide&count=5000");
  for (const json& s : top["topSongs"]["song"])
    if (s["suffix"] == "flac") id = s["id"];
  ASSERT_FALSE(id.empty()) << top.dump().substr(0, 600);
  const std::string target = "/rest/stream?u=alice&p=pw&v=1.16.1&c=test&format=mp3&id=" + id;
  for (const std::string connection : {"", "Connection: Keep-Alive\r\n"}) {
    const std::string got = raw_exchange(server.port(), "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" + connection + "\r\n");
    const size_t end = got.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << got.substr(0, 300);
    const std::string head = got.substr(0, end), body = got.substr(end + 4);
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: audio/mpeg"), std::string::npos) << head;
    EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
    // MP3 from its first byte (an ID3 tag or a frame), not a chunk size line.
    ASSERT_GT(body.size(), 10000u) << head;
    EXPECT_TRUE(body.rfind("ID3", 0) == 0 || (static_cast<unsigned char>(body[0]) == 0xFF)) << body.substr(0, 16);
    EXPECT_EQ(body.find("\r\n0\r\n\r\n"), std::string::npos);
  }
  const std::string chunked = raw_exchange(server.port(), "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(chunked.substr(0, chunked.find("\r\n\r\n")).find("Transfer-Encoding: chunked"), std::string::npos) << chunked.substr(0, 300);
}

}  // namespace
}  // namespace clap::server
