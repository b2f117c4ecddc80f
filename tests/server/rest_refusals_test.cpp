// Refusals of /rest/ requests are Subsonic failure envelopes (H12P-9's 414 and its siblings,
// hostile pass 13, H13S-3): a Subsonic client reads `subsonic-response` whatever the status, and
// took the REST API's {error, detail} (a header line over 8 KB, a form POST over 1 MB or not a
// form, a method /rest/ does not take) for no answer. A request line over the whole head's limit
// (64 KB) was answered with nothing at all: the connection just closed (H13S-4). Request lines
// cpp-httplib does not take had no path, and got the REST API's form (H14S-2, H15S-2).
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/raw_http.h"
#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

const std::string& library_db() {
  static const std::string db = [] {
    const std::string shared = test::shared_fixture("server-rest-refusals", [](const std::string& dir) {
      test::ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"sine=f=440:d=4\"");
      test::index_library(dir + "/music", dir + "/library.db", test::case_dir("tiny-unfused"));
    });
    return shared + "/library.db";
  }();
  return db;
}

// The answer's status line and body.
std::pair<std::string, std::string> split(const Received& r) {
  const size_t end = r.bytes.find("\r\n\r\n");
  return {r.bytes.substr(0, r.bytes.find("\r\n")), end == std::string::npos ? "" : r.bytes.substr(end + 4)};
}

TEST(RestRefusals, AreSubsonicEnvelopesInTheFormatAsked) {
  RunningServer s(ServerOptions{}, library_db(), 20);
  const std::string host = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  const std::string json_ping = "/rest/ping?f=json&u=u&p=p&v=1.16.1&c=t";
  const struct {
    const char* what;
    std::string request, status;
  } cases[] = {
      {"a header line over 8 KB", "GET " + json_ping + host + "X-Big: " + std::string(10000, 'b') + "\r\n\r\n", "400"},
      {"a form POST over 1 MB", "POST " + json_ping + host +
                                    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000000\r\n\r\nx=1",
       "413"},
      {"a POST that is not a form", "POST " + json_ping + host + "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nx=1", "415"},
      {"a method /rest/ does not take", "PUT " + json_ping + host + "Content-Length: 0\r\n\r\n", "404"},
      {"a request line over the head's limit", "GET " + json_ping + "&x=" + std::string(200000, 'a') + host + "\r\n", "431"},
      // H14S-2: request lines cpp-httplib does not take had no path, and got the REST API's form.
      {"a method HTTP/1.1 does not define", "PROPFIND " + json_ping + host + "\r\n", "400"},
      {"a method that is no method", "<svg/onload=alert(1)> " + json_ping + host + "\r\n", "400"},
      {"another HTTP version", "GET " + json_ping + " HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "400"},
      // H15S-2: nor did lines whose words are apart by tabs, or that hold a control character; a
      // tab before the version kept the version in the target (f=json<TAB>HTTP/1.1: XML).
      {"words apart by tabs", "GET\t" + json_ping + "\tHTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "400"},
      {"a tab before the version", "GET /rest/ping?u=u&p=p&v=1.16.1&c=t&f=json\tHTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "400"},
      {"a NUL in the target", "GET /rest/ping?x=" + std::string(1, '\0') + "&" + json_ping.substr(11) + host + "\r\n", "400"},
      {"a NUL in the method", "GE" + std::string(1, '\0') + "T " + json_ping + host + "\r\n", "400"},
  };
  for (const auto& c : cases) {
    const auto [line, body] = split(exchange(s.port(), c.request));
    EXPECT_EQ(line.rfind("HTTP/1.1 " + c.status, 0), 0u) << c.what << ": " << line;
    const auto envelope = nlohmann::json::parse(body, nullptr, false);
    if (!envelope.is_object() || !envelope.contains("subsonic-response")) {
      ADD_FAILURE() << c.what << ": " << body.substr(0, 300);
      continue;
    }
    EXPECT_EQ(envelope["subsonic-response"]["status"], "failed") << c.what;
    EXPECT_EQ(envelope["subsonic-response"]["error"]["code"], 0) << c.what;
  }
  // Without f=json: XML, as every Subsonic answer.
  const auto [xml_line, xml] = split(exchange(s.port(), "GET /rest/ping?u=u" + host + "X-Big: " + std::string(10000, 'b') + "\r\n\r\n"));
  EXPECT_NE(xml.find("<subsonic-response"), std::string::npos) << xml_line << " " << xml.substr(0, 300);
  // A head that comes too slowly (408).
  ServerOptions slow;
  slow.head_timeout_s = 1;
  RunningServer t(slow, library_db(), 20);
  const auto [late_line, late] = split(exchange(t.port(), "GET " + json_ping + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  EXPECT_EQ(late_line.rfind("HTTP/1.1 408", 0), 0u) << late_line;
  EXPECT_NE(late.find("\"subsonic-response\""), std::string::npos) << late.substr(0, 300);
  // The REST API's routes keep their form, and a line over the head's limit gets an answer too.
  const auto [api_line, api] = split(exchange(s.port(), "GET /api/search?q=" + std::string(200000, 'a') + host + "\r\n"));
  EXPECT_EQ(api_line.rfind("HTTP/1.1 431", 0), 0u) << api_line;
  EXPECT_NE(api.find("\"error\":"), std::string::npos) << api.substr(0, 300);
}

// Hostile pass 18 left it (pass 19): a request line over cpp-httplib's 8 KB limit was answered
// in the format its first 8 KB asked for, so createPlaylist of 1,500 songs by GET with f=json
// after the songIds (as subsonic-api and most clients put their parameters last) got XML, which
// a JSON client cannot read. The whole line is read up to the head's limit (64 KB): f=json
// anywhere in it is the answer's format; in a line over 64 KB, what came after is not read.
TEST(RestRefusals, AFormatAskedAfterTheFirst8KbOfALongRequestLineIsTheAnswersFormat) {
  RunningServer s(ServerOptions{}, library_db(), 20);
  const std::string host = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string songs;
  for (int i = 0; i < 1500; ++i) songs += "&songId=" + std::to_string(100000 + i);
  const struct {
    const char* what;
    std::string request, status;
  } cases[] = {
      {"f=json last, a 20 KB line", "GET /rest/createPlaylist.view?u=u&p=p&v=1.16.1&c=t&name=big" + songs + "&f=json" + host, "414"},
      {"absolute-form", "GET http://127.0.0.1/rest/createPlaylist?u=u&name=big" + songs + "&f=json" + host, "414"},
      {"f=json at 60 KB", "GET /rest/ping?x=" + std::string(60000, 'a') + "&f=json" + host, "414"},
      {"f=json at 60 KB, the line over 64 KB", "GET /rest/ping?x=" + std::string(60000, 'a') + "&f=json&y=" + std::string(10000, 'b') + host, "431"},
  };
  for (const auto& c : cases) {
    const auto [line, body] = split(exchange(s.port(), c.request));
    EXPECT_EQ(line.rfind("HTTP/1.1 " + c.status, 0), 0u) << c.what << ": " << line;
    const auto envelope = nlohmann::json::parse(body, nullptr, false);
    ASSERT_TRUE(envelope.is_object() && envelope.contains("subsonic-response")) << c.what << ": " << line << " " << body.substr(0, 300);
    EXPECT_EQ(envelope["subsonic-response"]["status"], "failed") << c.what;
  }
  // Past the head's limit nothing is read: XML, as for no f.
  const auto [cut_line, cut] = split(exchange(s.port(), "GET /rest/ping?x=" + std::string(70000, 'a') + "&f=json" + host));
  EXPECT_NE(cut.find("<subsonic-response"), std::string::npos) << cut_line << " " << cut.substr(0, 300);
}

// H16S-1: a Subsonic client whose server address ends in '/' sends "//rest/ping" (the address and
// "/rest/ping"), and got the REST API's 404 {error, detail}, which it cannot read. A path is read
// with its runs of '/' merged and its dot segments taken out (as nginx and Go's ServeMux read it),
// by every check as by the routes: the token guards "//api/status" as it guards "/api/status".
TEST(RestRefusals, APathIsReadWithItsSlashesMergedAndDotSegmentsOut) {
  static const std::string db = [] {
    const std::string shared = test::shared_fixture("server-rest-paths", [](const std::string& dir) {
      test::ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"sine=f=440:d=4\"");
      test::index_library(dir + "/music", dir + "/library.db", test::case_dir("tiny-unfused"));
      std::ofstream(dir + "/pw") << "bobpw\n";
      std::string err;
      if (test::run_cli("user add bob --db " + test::quoted(dir + "/library.db") + " < " + test::quoted(dir + "/pw"), nullptr, &err) != 0)
        throw std::runtime_error("user add: " + err);
    });
    return shared + "/library.db";
  }();
  ServerOptions o;
  o.token = "paths-secret";
  RunningServer s(o, db, 20);
  const std::string auth = "?u=bob&p=bobpw&v=1.16.1&c=t&f=json", host = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const std::string path : {"//rest/ping", "///rest/ping.view", "/rest//ping", "/./rest/ping", "/x/../rest/ping",
                                 "/../rest/./ping", "http://127.0.0.1//rest/ping"}) {
    const auto [line, body] = split(exchange(s.port(), "GET " + path + auth + host + "\r\n"));
    EXPECT_EQ(line, "HTTP/1.1 200 OK") << path << ": " << body.substr(0, 300);
    const auto envelope = nlohmann::json::parse(body, nullptr, false);
    EXPECT_TRUE(envelope.is_object() && envelope.contains("subsonic-response") &&
                envelope["subsonic-response"]["status"] == "ok") << path << ": " << body.substr(0, 300);
  }
  // A refusal of such a line is the Subsonic API's too (its words apart by tabs: no path parsed).
  const auto [tab_line, tab] = split(exchange(s.port(), "GET\t//rest/ping" + auth + "\tHTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(tab.find("\"subsonic-response\""), std::string::npos) << tab_line << " " << tab.substr(0, 300);
  // The REST API's token is asked for whatever the path's form, and the merged path is served.
  for (const std::string path : {"//api/status", "/api//status", "/rest/../api/status", "/./api/status"}) {
    const auto [no_token, refused] = split(exchange(s.port(), "GET " + path + host + "\r\n"));
    EXPECT_EQ(no_token, "HTTP/1.1 401 Unauthorized") << path << ": " << refused.substr(0, 300);
    const auto [with_token, status] = split(exchange(s.port(), "GET " + path + host + "Authorization: Bearer paths-secret\r\n\r\n"));
    EXPECT_EQ(with_token, "HTTP/1.1 200 OK") << path << ": " << status.substr(0, 300);
  }
  // A name with a '/' after it (/rest/ping/) or none (/rest/) is told what an endpoint's path is.
  // Before (pass 17), /rest/ping/ reached no route: "not found: no such page"; /rest/ was "no such endpoint: ".
  for (const auto& [path, says] : std::vector<std::pair<std::string, std::string>>{
           {"/rest/ping/", "no such endpoint: ping/ (an endpoint is /rest/NAME with no '/' after it: /rest/ping)"},
           {"/rest/getSong/x", "no such endpoint: getSong/x (an endpoint is /rest/NAME with no '/' after it: /rest/getSong)"},
           {"/rest/", "no endpoint named: the Subsonic API's endpoints are /rest/NAME (/rest/ping, /rest/getLicense, ...)"}}) {
    const auto [line, body] = split(exchange(s.port(), "GET " + path + auth + host + "\r\n"));
    EXPECT_EQ(line, "HTTP/1.1 404 Not Found") << path;
    const auto envelope = nlohmann::json::parse(body, nullptr, false);
    ASSERT_TRUE(envelope.is_object() && envelope.contains("subsonic-response")) << path << ": " << body.substr(0, 300);
    EXPECT_EQ(envelope["subsonic-response"]["error"]["message"], says) << path;
  }
}

}  // namespace
}  // namespace clap::server
