// The REST API's routes (JSON under /api/). Each route parses and bounds its input, calls the
// service layer's query API on the snapshot it holds for the request, and formats the answer;
// errors are {"error", "detail"} with the status the README's API section lists.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/server.h"
#include "service/library.h"
#include "service/status.h"

namespace httplib {
class Server;
class DataSink;
class ContentReader;
struct Request;
struct Response;
}

namespace clap::server {

// {"error": error, "detail": detail} as text (any bytes made valid UTF-8).
std::string error_body(const std::string& error, const std::string& detail);

// An error's detail with every indexed folder left out of the paths it names (a track named
// relative to its folder, as answers name it): used by /api/ and /rest/ alike.
std::string without_roots(std::string detail, std::vector<std::string> roots);

// The model as a response header names it (X-Clapsearch-Model): its id and revision, or for a
// model loaded from a folder or file (whose id is that path on the server) the folder's name and
// the first 12 hex digits of its content hash. Never a server path.
std::string public_model_name(const store::ModelIdentity& m);

// Writes bytes [offset, offset + length) of an open file to sink: true only when every byte was
// written; false, which ends the response, when the file cannot give them (shrunk or truncated
// under the stream, unreadable) or the client is gone. It never answers true having written
// less, so a stream over a file that changes cannot keep a server thread looping.
bool stream_file_range(int fd, size_t offset, size_t length, httplib::DataSink& sink);

// The audio file of a track, opened for streaming, with its size; or the HttpError that says why
// it is not served (docs/security.md, "Audio"). Only the path the index holds for this id is
// ever opened, and it is served only when
//  - the track was indexed as audio: one that could not be indexed (an empty file, a text file
//    with an audio name, a link to anything) has no audio, 410, never its bytes;
//  - the last component is not a symbolic link (O_NOFOLLOW);
//  - once every link is resolved, it lies inside an indexed root, and the file opened is that
//    real file (device and inode);
//  - it is the file that was indexed: the size and modification time the index holds.
// Whatever else reads the file (the Subsonic server's transcoding, cover and lyrics) reads this
// descriptor, never the path again.
// With `follow_links_out` (--follow-links-out) a file outside every root, reached through a link
// the indexer was allowed to follow, is served too, when it is still the file indexed: its size,
// modification time and ctime (which no user can set back) those the index holds; a link
// pointed elsewhere since is refused.
std::shared_ptr<int> open_track_audio(const service::LibrarySnapshot& snap, const store::Track& t, size_t& size,
                                      bool follow_links_out = false);

// Answers an open file of `size` bytes (> 0) with Range as /api/tracks/{id}/audio does: 200 with
// the whole file, 206 with one range (an end past the end clamped, a suffix), 416 for a range
// starting past the end; several ranges get the whole file. The bytes are streamed from `file`.
void serve_file_ranges(const httplib::Request& req, httplib::Response& res, std::shared_ptr<int> file, size_t size,
                       const std::string& content_type);

// Answers `status` with a JSON body (or another of `content_type`), then closes the connection:
// what the client sent after the headers and was not read (a body refused unread, or cut at the
// limit) must not be taken for its next request.
void answer_and_close(httplib::Response& res, int status, const std::string& json_body,
                      const std::string& content_type = "application/json; charset=utf-8");

struct Upload;

// The routes are one table (Api::endpoints, in api.cpp): each row names its method, its path as
// openapi.json documents it, cpp-httplib's pattern, the summary of its documentation and its
// handler. install() registers the table, routes() returns it, and a test checks it against
// openapi.json both ways, so a route cannot be added without its documentation. The handlers
// live by concern: api_search.cpp (search, similar, like, classify, analyze), api_tracks.cpp
// (tracks, audio, scores), api_sonic.cpp (media servers' /api/sonic/*, artists and albums),
// api_for_you.cpp (users, taste, mixes), api.cpp (the table, status, map, the API document).
class Api {
 public:
  // `reopen` is called when a request finds that the index's active embedding set changed
  // under its library (service::ModelChanged): it must install (set_library) a library of the
  // new set, or throw. The request is then answered again, once, on the new library.
  Api(std::shared_ptr<service::Library> library, const ServerOptions& options, std::function<void()> reopen = {});
  void install(httplib::Server& http);
  // The library new requests use. A request holds the one it started with until it is answered
  // (every part of an answer comes from one library: one model, one snapshot source).
  std::shared_ptr<service::Library> library() const;
  void set_library(std::shared_ptr<service::Library> library);
  // A non-empty reason makes every route but the page answer 503 with it (the index could
  // not be reloaded); empty clears it.
  void set_unavailable(const std::string& reason);
  static const std::vector<Route>& routes();

 private:
  struct Endpoint;
  static const std::vector<Endpoint>& endpoints();

  // The library of the request this thread is answering (pinned by guarded()).
  static service::Library& lib();

  // Runs `handler` as every route runs: 503 while unavailable (when `check_available`), the
  // library pinned for the request, answered again once on a new library when the model
  // changed under it (ModelChanged), and every error made a JSON answer.
  void guarded(const httplib::Request& req, httplib::Response& res,
               const std::function<void(const httplib::Request&, httplib::Response&)>& handler, bool check_available = true);

  // The handlers, one per row of the table (GET unless named otherwise).
  using Request = httplib::Request;
  using Response = httplib::Response;
  void openapi_document(const Request& req, Response& res);
  void status(const Request& req, Response& res);
  void library_map(const Request& req, Response& res);
  void search(const Request& req, Response& res);
  void similar(const Request& req, Response& res);
  void like_track(const Request& req, Response& res);
  // POST /api/like: reads its body itself (streamed, bounded), then answers as GET does.
  void like_upload(const Request& req, Response& res, const httplib::ContentReader& reader);
  void like(const Request& req, Response& res, const Upload* upload);  // upload: POST's, or null for GET
  void classify(const Request& req, Response& res);
  void analyze(const Request& req, Response& res);
  void tracks(const Request& req, Response& res);
  void track(const Request& req, Response& res);
  void track_audio(const Request& req, Response& res);
  void track_scores(const Request& req, Response& res);
  void artists(const Request& req, Response& res);
  void albums(const Request& req, Response& res);
  void sonic_resolve(const Request& req, Response& res);
  void sonic_similar_tracks(const Request& req, Response& res);
  void sonic_path(const Request& req, Response& res);
  void sonic_similar_to_artist(const Request& req, Response& res);
  void sonic_similar_to_album(const Request& req, Response& res);
  void sonic_search(const Request& req, Response& res);
  // api_for_you.cpp: the index's users, a user's taste centres and saved mixes (issue 55).
  void users(const Request& req, Response& res);
  void taste(const Request& req, Response& res);
  void mixes(const Request& req, Response& res);

  mutable std::mutex library_mutex_;
  std::shared_ptr<service::Library> library_;
  std::function<void()> reopen_;
  const ServerOptions& options_;
  std::mutex unavailable_mutex_;
  std::string unavailable_;
  // The store's counts take ~1 s for 240,000 windows: read once per library generation.
  std::mutex status_mutex_;
  int64_t status_generation_ = -1;
  std::shared_ptr<const service::LibraryStatus> status_;

  std::string unavailable();
};

}  // namespace clap::server
