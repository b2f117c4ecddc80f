// clapsearch serve, over real HTTP on loopback: a library of real encoded files indexed by the
// real CLI, a server::Server in this process, cpp-httplib's client. Every documented route (the
// API document and the route table agree), search, filters, seeds, uploads, the map, the
// coverage of a progressive index, and audio Range requests. Error statuses, limits and the
// token rule are in server_errors_test.cpp, an index changed under the server in
// server_live_test.cpp (split by concern to keep files under ~800 lines); the shared library and
// server are serve_library.h.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "search/filter.h"
#include "serve_library.h"
#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using namespace serve_cases;

// --- the API document and the routes ------------------------------------------------------------

// The route table (Server::routes, the one list the server registers) and the served document
// agree both ways: every route documented under its path and method with the table's summary,
// every documented operation a route, and each route's pattern matching its documented path.
TEST(ServeApi, EveryRouteIsDocumentedAndEveryDocumentedRouteAnswers) {
  Running& s = shared_server();
  const json doc = s.get_json("/api/openapi.json");
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> documented, served;
  std::map<std::pair<std::string, std::string>, std::string> documented_summary, served_summary;
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      std::transform(m.begin(), m.end(), m.begin(), ::toupper);
      documented.insert({m, path});
      documented_summary[{m, path}] = op.value("summary", "");
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
    }
  for (const Route& r : Server::routes()) {
    EXPECT_TRUE(served.insert({r.method, r.path}).second) << "twice in the table: " << r.method << " " << r.path;
    served_summary[{r.method, r.path}] = r.summary;
    EXPECT_FALSE(r.summary.empty()) << r.method << " " << r.path;
    const std::string example_path = std::regex_replace(r.path, std::regex(R"(\{[^/}]+\})"), "7");
    EXPECT_TRUE(std::regex_match(example_path, std::regex(r.pattern))) << r.pattern << " does not match " << r.path;
  }
  EXPECT_EQ(documented, served);
  EXPECT_EQ(documented_summary, served_summary);

  // Each documented route, with real arguments, answers 200.
  const int64_t id = id_of(s, "a440.mp3");
  const std::string sid = std::to_string(id);
  const std::map<std::string, std::string> example = {
      {"/api/status", "/api/status"},
      {"/api/search", "/api/search?q=a%20pure%20tone&q=noise&k=2"},
      {"/api/tracks", "/api/tracks?folder=noise"},
      {"/api/tracks/{id}", "/api/tracks/" + sid},
      {"/api/tracks/{id}/audio", "/api/tracks/" + sid + "/audio"},
      {"/api/tracks/{id}/scores", "/api/tracks/" + sid + "/scores?q=tone"},
      {"/api/similar", "/api/similar?track=" + sid},
      {"/api/like", "/api/like?track=" + sid},
      {"/api/classify", "/api/classify?label=tone&label=noise"},
      {"/api/analyze", "/api/analyze?q=tone"},
      {"/api/map", "/api/map"},
      {"/api/openapi.json", "/api/openapi.json"},
      {"/api/sonic/resolve", "/api/sonic/resolve?artist=Demo&title=A440"},
      {"/api/sonic/getSonicSimilarTracks", "/api/sonic/getSonicSimilarTracks?path=a440.mp3&count=2"},
      {"/api/sonic/findSonicPath", "/api/sonic/findSonicPath?startPath=a440.mp3&endPath=chirp.flac&count=3"},
      {"/api/sonic/search", "/api/sonic/search?q=a%20pure%20tone&count=2"},
      {"/api/sonic/similarToArtist", "/api/sonic/similarToArtist?artist=Demo&count=2"},
      {"/api/sonic/similarToAlbum", "/api/sonic/similarToAlbum?album=Tones&count=2"},
      {"/api/artists", "/api/artists?q=a%20pure%20tone&k=2"},
      {"/api/albums", "/api/albums?like=Tones"},
      {"/api/users", "/api/users"},
      {"/api/taste", "/api/taste"},
      {"/api/mixes", "/api/mixes"},
  };
  // This library has no user: a user's taste and mixes are a 404 saying how to add one (their 200s:
  // ForYouApi.*, tests/server/mix_playlists_test.cpp, and the OpenAPI test).
  const std::map<std::string, int> status_here = {{"/api/taste", 404}, {"/api/mixes", 404}};
  for (const auto& [method, path] : documented) {
    if (method == "POST") {
      httplib::MultipartFormDataItems items = {{"file", read_file(library().chirp), "chirp.flac", "audio/flac"}};
      auto r = s.client().Post(example.at(path).c_str(), items);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200) << method << " " << path << ": " << r->body;
      continue;
    }
    ASSERT_TRUE(example.count(path)) << "no example request for " << path;
    auto r = s.client().Get(example.at(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status_here.count(path) ? status_here.at(path) : 200) << path << ": " << r->body.substr(0, 300);
  }
}

TEST(ServeApi, SearchCarriesTheCliFieldsAndAPlayUrlAtTheBestWindow) {
  Running& s = shared_server();
  const json got = s.get_json("/api/search?q=a%20pure%20tone&k=3");
  ASSERT_EQ(got["queries"].size(), 1u);
  const json& results = got["queries"][0]["results"];
  ASSERT_EQ(results.size(), 3u);

  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " search 'a pure tone' -k 3 --json --db '" + library().db + "'", &out, &err),
            0)
      << err;
  const json cli = json::parse(out);
  ASSERT_EQ(cli.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    for (const auto& [key, value] : cli[i].items()) EXPECT_EQ(results[i][key], value) << "field " << key << " of result " << i;
    const std::string play = results[i]["play_url"], audio = results[i]["audio_url"];
    ASSERT_EQ(play.rfind(audio + "#t=", 0), 0u) << play;
    EXPECT_EQ(std::stod(play.substr(audio.size() + 3)), results[i]["best_start"].get<double>()) << play;
    EXPECT_GE(i == 0 ? 1.0 : results[i - 1]["score"].get<double>(), results[i]["score"].get<double>());
  }
}

// The music-only rule (ServerOptions::exclude, serve's --exclude-rule or the settings file's): its
// tracks are in no list of search, similar, like or artists, unless a request says exclude=false.
TEST(ServeApi, TheMusicOnlyRuleLeavesItsTracksOutUnlessExcludeFalse) {
  ServerOptions o;
  o.exclude = search::Filter::parse("genre = \"noise\"");
  Running s(o);
  auto paths = [](const json& results) {
    std::set<std::string> out;
    for (const auto& r : results) out.insert(r["display_path"]);
    return out;
  };
  const std::string chirp = std::to_string(id_of(s, "chirp.flac"));
  EXPECT_EQ(paths(s.get_json("/api/search?q=noise&k=3")["queries"][0]["results"]), (std::set<std::string>{"a440.mp3", "chirp.flac"}));
  EXPECT_EQ(paths(s.get_json("/api/search?q=noise&k=3&exclude=false")["queries"][0]["results"]).size(), 3u);
  EXPECT_EQ(paths(s.get_json("/api/similar?track=" + chirp)["results"]), (std::set<std::string>{"a440.mp3"}));
  EXPECT_EQ(paths(s.get_json("/api/similar?track=" + chirp + "&exclude=false")["results"]).size(), 2u);
  for (const auto& r : s.get_json("/api/like?track=" + chirp + "&k=10")["results"]) EXPECT_NE(r["display_path"], "noise/pink.ogg");
  EXPECT_EQ(s.get_json("/api/search?q=x&exclude=maybe", 400)["detail"], "exclude: true or false");
}

// where / per_artist / per_album (service/filters.h): the CLI's --where, same lists; a bad
// expression is a 400 carrying the parser's message.
TEST(ServeApi, WhereFiltersBeforeRankingAndABadExpressionIsA400) {
  Running& s = shared_server();
  // Two of the three tracks are not the tone: both come back, in the unfiltered order.
  const json all = s.get_json("/api/search?q=a%20pure%20tone&k=3");
  const json got = s.get_json("/api/search?q=a%20pure%20tone&k=2&where=" +
                              httplib::detail::encode_query_param("genre != \"tone\" or folder = \"" + library().music + "/noise\""));
  std::vector<std::string> want;
  for (const auto& r : all["queries"][0]["results"])
    if (r["display_path"] != "a440.mp3") want.push_back(r["display_path"]);
  std::vector<std::string> paths;
  for (const auto& r : got["queries"][0]["results"]) paths.push_back(r["display_path"]);
  EXPECT_EQ(paths, want);
  const json similar = s.get_json("/api/similar?track=" + std::to_string(id_of(s, "chirp.flac")) +
                                  "&where=" + httplib::detail::encode_query_param("genre = \"NOISE\""));
  ASSERT_EQ(similar["results"].size(), 1u);
  EXPECT_EQ(similar["results"][0]["display_path"], "noise/pink.ogg");
  EXPECT_EQ(s.get_json("/api/like?track=" + std::to_string(id_of(s, "chirp.flac")) + "&where=duration%20%3E%2020")["results"].size(), 1u);
  EXPECT_EQ(s.get_json("/api/search?q=x&k=3&per_artist=1")["queries"][0]["results"].size(), 3u);  // one artist (Demo), two without

  const json bad = s.get_json("/api/search?q=x&where=" + httplib::detail::encode_query_param("yaer > 1970"), 400);
  const std::string detail = bad["detail"];
  EXPECT_EQ(detail.rfind("where: unknown field \"yaer\" at column 1; fields are: artist", 0), 0u) << detail;
  EXPECT_NE(detail.find("\n  yaer > 1970\n  ^"), std::string::npos) << detail;
  s.get_json("/api/similar?track=1&where=" + httplib::detail::encode_query_param(std::string(5000, '(')), 400);
  s.get_json("/api/like?track=1&per_album=-1", 400);
}

// seed / text / not / not_like (service/seeds.h): several seeds as one query, the seeds left out;
// an unknown seed is a 404, a seed that is not a track id, a bad weight or negatives alone a 400.
TEST(ServeApi, SeveralSeedsMakeOneQueryWithoutTheSeeds) {
  Running& s = shared_server();
  const std::string chirp = std::to_string(id_of(s, "chirp.flac")), tone = std::to_string(id_of(s, "a440.mp3"));
  auto ids = [](const json& results) {
    std::set<int64_t> out;
    for (const auto& r : results) out.insert(r["track_id"].get<int64_t>());
    return out;
  };
  const json similar = s.get_json("/api/similar?k=10&seed=" + chirp + "&seed=" + tone + ":0.5&not=noise&text=tone:2");
  EXPECT_EQ(similar["query"]["seed_tracks"].size(), 2u);
  EXPECT_EQ(similar["query"]["terms"][1]["weight"], 0.5);
  EXPECT_EQ(similar["query"]["terms"][2]["value"], "tone");  // seeds, texts, then negatives
  EXPECT_EQ(similar["query"]["terms"][3]["negative"], true);
  const std::set<int64_t> got = ids(similar["results"]);
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(got.count(std::stoll(chirp)) + got.count(std::stoll(tone)), 0u);
  // The CLI's list for the same terms.
  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " similar --seed " + chirp + " --seed " + tone +
                                  ":0.5 --not noise --text tone:2 -k 10 --json --db '" + library().db + "'",
                              &out, &err),
            0)
      << err;
  const json cli = json::parse(out);
  ASSERT_EQ(cli.size(), similar["results"].size());
  for (size_t i = 0; i < cli.size(); ++i) EXPECT_EQ(cli[i]["track_id"], similar["results"][i]["track_id"]);

  EXPECT_EQ(s.get_json("/api/search?q=tone&not=noise")["queries"][0]["results"].size(), 3u);  // a text and a negative
  const json search = s.get_json("/api/search?k=10&seed=" + tone + "&not_like=" + chirp);
  ASSERT_EQ(search["queries"].size(), 1u);
  EXPECT_EQ(ids(search["queries"][0]["results"]).count(std::stoll(tone)), 0u);
  const json like = s.get_json("/api/like?k=10&track=" + chirp + "&text=tone");
  EXPECT_EQ(ids(like["results"]).count(std::stoll(chirp)), 0u);
  EXPECT_EQ(like["query"]["seed_tracks"][0].get<int64_t>(), std::stoll(chirp));

  EXPECT_EQ(s.get_json("/api/similar?track=" + chirp + "&diversity=0.5")["results"].size(), 2u);
  s.get_json("/api/similar?track=" + chirp + "&diversity=2", 400);
  s.get_json("/api/similar?seed=999999", 404);
  // A seed is a track id of the index: a path, even of an indexed file, is not looked up (no
  // value of a request reaches the file system); it is not a track id, so it is bad input.
  s.get_json("/api/similar?seed=" + httplib::detail::encode_query_param(library().chirp), 400);
  s.get_json("/api/similar?not_like=" + httplib::detail::encode_query_param(library().a440) + "&seed=" + chirp, 400);
  EXPECT_NE(s.get_json("/api/similar?seed=" + chirp + ":nan", 400)["detail"].get<std::string>().find("finite number above 0"),
            std::string::npos);
  s.get_json("/api/similar?not=noise", 400);
  s.get_json("/api/like?not=noise&text=tone", 400);  // no audio seed to vote with
}

TEST(ServeApi, TimelineScoresEveryWindowAndMarksTheBest) {
  Running& s = shared_server();
  const int64_t id = id_of(s, "a440.mp3");
  const json t = s.get_json("/api/tracks/" + std::to_string(id) + "/scores?q=tone");
  ASSERT_EQ(t["windows"].size(), 4u);  // 24 s: windows at 0, 5, 10, 15
  double best = -2, best_start = -1;
  for (const auto& w : t["windows"])
    if (w["score"].get<double>() > best) best = w["score"], best_start = w["start"];
  EXPECT_EQ(t["best_start"].get<double>(), best_start);
  EXPECT_EQ(t["max"].get<double>(), best);
}

TEST(ServeApi, QueryByExampleFindsTheUploadedTrackWithChunkMatches) {
  Running& s = shared_server();
  httplib::MultipartFormDataItems items = {{"file", read_file(library().a440), "my clip.mp3", "audio/mpeg"}};
  auto r = s.client().Post("/api/like?k=3", items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["query"]["name"], "my clip.mp3");
  EXPECT_EQ(j["chunks"].size(), 4u);
  ASSERT_FALSE(j["results"].empty());
  EXPECT_EQ(j["results"][0]["display_path"], "a440.mp3");
  EXPECT_EQ(j["results"][0]["combined"], 1.0);
  for (const auto& m : j["results"][0]["matches"]) EXPECT_TRUE(m.contains("chunk"));
  // The same query by track id gives the same ranking.
  const json by_id = s.get_json("/api/like?k=3&track=" + std::to_string(id_of(s, "a440.mp3")));
  ASSERT_EQ(by_id["results"].size(), j["results"].size());
  for (size_t i = 0; i < j["results"].size(); ++i) EXPECT_EQ(by_id["results"][i]["track_id"], j["results"][i]["track_id"]);
}

// POST /api/like takes what GET /api/like and the CLI's `like` take: seeds, texts, negatives,
// caps, diversity (the upload the first seed). The answer's list is `like FILE … --json`'s for a
// file outside the index (a file of the index would be a track seed of the CLI, left out).
TEST(ServeApi, AnUploadMixesSeedsAndNegativesAsTheCliLikeDoes) {
  Running& s = shared_server();
  const std::string clip = ffmpeg(test::temp_dir() + "/server-query/clip.mp3", "-f lavfi -i \"sine=f=445:d=12\" -ar 44100");
  const std::string tone = std::to_string(id_of(s, "a440.mp3"));
  const httplib::MultipartFormDataItems items = {{"file", read_file(clip), "clip.mp3", "audio/mpeg"}};
  const std::string params = "k=10&seed=" + tone + ":0.5&text=chirp&not=noise:2&per_artist=1&diversity=0.3";
  auto r = s.client().Post("/api/like?" + params, items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json got = json::parse(r->body);
  EXPECT_EQ(got["query"]["name"], "clip.mp3");
  EXPECT_EQ(got["query"]["seed_tracks"], json::array({std::stoll(tone)}));
  ASSERT_EQ(got["query"]["terms"].size(), 3u);  // the seed, the text, the negative (the upload is not a term)
  EXPECT_EQ(got["query"]["terms"][2]["negative"], true);
  EXPECT_EQ(got["chunks"].size(), 2u + 4u);  // the clip's 12 s, then the seed's 24 s
  std::string out, err;
  ASSERT_EQ(test::run_cli("like '" + clip + "' --seed " + tone +
                                  ":0.5 --text chirp --not noise:2 --per-artist 1 --diversity 0.3 -k 10 --json --db '" +
                                  library().db + "'",
                              &out, &err),
            0)
      << err;
  const json cli = json::parse(out);
  ASSERT_EQ(cli.size(), got["results"].size()) << out << r->body;
  ASSERT_FALSE(cli.empty());
  for (size_t i = 0; i < cli.size(); ++i) {
    json result = got["results"][i];
    for (json& m : result["matches"]) m.erase("chunk");  // what the page adds to each match (the chunk's index)
    for (const auto& [key, value] : cli[i].items()) EXPECT_EQ(result[key], value) << "field " << key << " of result " << i;
  }
  for (const auto& res : got["results"]) EXPECT_NE(res["track_id"].get<int64_t>(), std::stoll(tone));  // a seed

  // Negatives alone beside the upload make a query; a seed not in the index is a 404, a bad weight a 400.
  r = s.client().Post("/api/like?k=3&not=noise", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = s.client().Post("/api/like?seed=999999", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = s.client().Post("/api/like?not=noise:0", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST(ServeApi, MapIsDeterministicWithOnePointPerSearchableTrack) {
  Running& s = shared_server();
  // A second server loads and projects the library on its own: the same map, bit for bit.
  Running other{ServerOptions{}};
  const json a = s.get_json("/api/map"), b = other.get_json("/api/map");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a["points"].size(), s.get_json("/api/status")["ok"].get<size_t>());
  for (const auto& p : a["points"]) EXPECT_TRUE(p["x"].is_number() && p["y"].is_number());
}

// --- audio streaming ---------------------------------------------------------------------------

TEST(ServeAudio, RangesFirstMiddleSuffixAndUnsatisfiable) {
  Running& s = shared_server();
  const std::string url = "/api/tracks/" + std::to_string(id_of(s, "a440.mp3")) + "/audio";
  const std::string bytes = read_file(library().a440);
  const size_t n = bytes.size();

  auto whole = s.client().Get(url);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, bytes);
  EXPECT_EQ(whole->get_header_value("Content-Type"), "audio/mpeg");
  EXPECT_EQ(whole->get_header_value("Accept-Ranges"), "bytes");

  struct Case {
    std::string range;
    size_t first, count;
  };
  for (const Case& c : {Case{"bytes=0-99", 0, 100}, Case{"bytes=1000-1999", 1000, 1000}, Case{"bytes=-300", n - 300, 300},
                        Case{"bytes=500-", 500, n - 500}, Case{"bytes=10-99999999", 10, n - 10}}) {
    auto r = s.client().Get(url, {{"Range", c.range}});
    ASSERT_TRUE(r) << c.range;
    EXPECT_EQ(r->status, 206) << c.range;
    EXPECT_EQ(r->body, bytes.substr(c.first, c.count)) << c.range;
    EXPECT_EQ(r->get_header_value("Content-Range"),
              "bytes " + std::to_string(c.first) + "-" + std::to_string(c.first + c.count - 1) + "/" + std::to_string(n))
        << c.range;
  }
  // Numbers past 64 bits are clamped like any other end past the file (RFC 9110).
  for (const Case& c : {Case{"bytes=0-99999999999999999999", 0, n}, Case{"bytes=-99999999999999999999", 0, n},
                        Case{"bytes=00010-00019", 10, 10}, Case{"BYTES = 5-9", 5, 5}}) {
    auto r = s.client().Get(url, {{"Range", c.range}});
    ASSERT_TRUE(r) << c.range;
    EXPECT_EQ(r->status, 206) << c.range;
    EXPECT_EQ(r->body, bytes.substr(c.first, c.count)) << c.range;
    EXPECT_EQ(r->get_header_value("Content-Range"),
              "bytes " + std::to_string(c.first) + "-" + std::to_string(c.first + c.count - 1) + "/" + std::to_string(n))
        << c.range;
  }
  // A unit other than bytes must be ignored, an invalid range may be: the whole file, 200.
  for (const std::string range : {"items=0-5", "bytes=abc", "bytes=9-3", "bytes=-", "bytes=1-2,x"}) {
    auto r = s.client().Get(url, {{"Range", range}});
    ASSERT_TRUE(r) << range;
    EXPECT_EQ(r->status, 200) << range;
    EXPECT_EQ(r->body, bytes) << range;
  }
  // Other routes ignore such a Range too (cpp-httplib alone answered every route 416).
  auto status = s.client().Get("/api/status", {{"Range", "items=0-5"}});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  for (const std::string& range : {"bytes=" + std::to_string(n) + "-", std::string("bytes=-0"),
                                   std::string("bytes=99999999999999999999-")}) {
    auto r = s.client().Get(url, {{"Range", range}});
    ASSERT_TRUE(r) << range;
    EXPECT_EQ(r->status, 416) << range;
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */" + std::to_string(n)) << range;
  }
}

// Issue 56: a progressive index embeds a few windows a track first. /api/status says how much of
// the library is embedded (tracks complete and first pass only, windows of those planned), and
// each track and result how much of it ("4 of 23 windows"), as `clapsearch status` does.
TEST(ServeApi, StatusAndTracksSayHowMuchIsEmbedded) {
  const std::string dir = library().dir + "/first-pass";
  fs::remove_all(dir);
  ffmpeg(dir + "/music/low.wav", "-f lavfi -i \"sine=f=330:d=60\" -ar 16000");
  ffmpeg(dir + "/music/high.wav", "-f lavfi -i \"sine=f=990:d=60\" -ar 16000");
  test::index_library(dir + "/music", dir + "/library.db", model_dir(), "--passes 1");
  ServerOptions o;
  o.db = dir + "/library.db";
  Running s(o);
  const json st = s.get_json("/api/status");
  const json& c = st["coverage"];
  EXPECT_EQ(c["complete_tracks"], 0) << st.dump();
  EXPECT_EQ(c["first_pass_tracks"], 2) << st.dump();
  const int windows = c["windows"], total = c["window_total"];  // the first pass's windows of the tracks' all
  EXPECT_GT(windows, 0) << st.dump();
  EXPECT_LT(windows, total) << st.dump();
  EXPECT_NEAR(c["fraction"].get<double>(), double(windows) / double(total), 1e-9);
  std::string out, err;
  ASSERT_EQ(test::run_cli("status --json --db '" + o.db + "'", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["coverage"], c) << "the CLI and the route say the same";
  ASSERT_EQ(test::run_cli("status --db '" + o.db + "'", &out, &err), 0) << err;
  EXPECT_NE(out.find("coverage  " + std::to_string(windows) + " of " + std::to_string(total) + " windows embedded"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0 tracks complete, 2 first pass only"), std::string::npos) << out;
  // The page shows the route's sentence, the one the CLI prints.
  EXPECT_NE(out.find("coverage  " + c["text"].get<std::string>()), std::string::npos) << out << c.dump();
  const json track = s.get_json("/api/tracks/" + std::to_string(s.id_of("low.wav")));
  // The two tracks are alike in length: each holds half the windows embedded, of half the total.
  EXPECT_EQ(track["window_count"], windows / 2) << track.dump();
  EXPECT_EQ(track["window_total"], total / 2) << track.dump();
  const json found = s.get_json("/api/search?q=tone&k=10");
  ASSERT_EQ(found["queries"][0]["results"].size(), 2u) << found.dump();
  for (const json& r : found["queries"][0]["results"]) {
    EXPECT_EQ(r["window_count"], windows / 2) << r.dump();
    EXPECT_EQ(r["window_total"], track["window_total"]) << r.dump();
  }
}
}  // namespace
}  // namespace clap::server
