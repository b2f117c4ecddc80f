// The OpenSubsonic server under /rest/ (issue 54): every Subsonic app (phones, desktops) browses,
// plays and gets sonic similarity from clapsearch.
//
// The contract is the OpenSubsonic spec (github opensubsonic/open-subsonic-api: openapi/ and its
// pages), Subsonic API 1.16.1 with the OpenSubsonic additions. Each endpoint answers at
// /rest/NAME and /rest/NAME.view, by GET or by form POST (the formPost extension); the answer is
// the spec's `subsonic-response` envelope as XML (the default, namespace
// http://subsonic.org/restapi) or as JSON with f=json. Failures are HTTP 200 with status "failed"
// and the spec's error code, as Subsonic clients expect; only a route that does not exist (and
// /rest/ while the index has no user) is an HTTP 404.
//
// A thin front end like the /api/ routes: an endpoint reads its parameters from a Call, asks the
// service layer (the library snapshot, its MusicCatalog, the accounts and user data), and fills
// the members of the envelope as JSON (ojson). One serializer (subsonic.cpp) writes that tree as
// JSON, or as XML by the rule the spec's two forms follow: a scalar member is an attribute, an
// object member a child element, an array one element per item (a scalar item as the element's
// text), and a member named "value" the element's text; the few scalar members the XSD makes
// child elements with text (ArtistInfo's biography, AlbumInfo's notes, their URLs and
// musicBrainzId) are named in the serializer's table (xsd_text_element).
//
// The endpoints live by concern, each file with its own table: subsonic_system.cpp (ping,
// license, extensions, tokenInfo, getUser/getUsers), subsonic_browse.cpp, subsonic_media.cpp (stream, download, cover art,
// lyrics), subsonic_sonic.cpp (similar songs, the sonicSimilarity extension),
// subsonic_userdata.cpp (stars, ratings, scrobbles, playlists); subsonic_auth.cpp holds the
// users' authentication, subsonic_records.cpp the records (Child, AlbumID3, ArtistID3).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/server.h"
#include "service/library.h"
#include "service/music_catalog.h"
#include "service/records.h"
#include "service/user_data.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace clap::server::subsonic {

using service::ojson;

inline constexpr const char* kApiVersion = "1.16.1";  // the Subsonic API version answered
// The largest form POST (formPost extension) a /rest/ request may send: server.cpp refuses a
// longer declared body before reading it; thousands of song ids fit.
inline constexpr size_t kMaxFormBytes = size_t{1} << 20;
// The most fields a form POST holds: a playlist or a queue of 20,000 songs and a few more. Each
// field costs about 100 bytes once parsed (before anyone is signed in): 1 MB of "a&" was
// 500,000 fields, 100 MB a request (H10S-5).
inline constexpr size_t kMaxFormFields = 25000;
inline constexpr const char* kServerType = "clapsearch";
inline constexpr const char* kServerVersion = "0.1.0";
inline constexpr const char* kXmlNamespace = "http://subsonic.org/restapi";

// A refused request: the spec's error code (0 generic, 10 missing parameter, 20/30 version,
// 40 wrong username or password, 41 token auth not for this user, 42 mechanism not supported,
// 43 conflicting mechanisms, 44 invalid API key, 50 not authorised, 70 not found) and a message.
struct Failure {
  int code = 0;
  std::string message;
};

// The code of a parameter whose value cannot be used (not a number, out of its range, not
// true/false, given twice, text too long or not UTF-8): 10, as for a missing one. The spec's one
// explicit rule says so (savePlayQueueByIndex: a currentIndex outside the queue "must" be 10),
// and Subsonic's own server answered a value it could not parse with 10 (a binding error is its
// MISSING_PARAMETER). 0 stays for what no parameter value causes (a server limit, a failure),
// 70 for an id that names nothing.
inline constexpr int kBadParameter = 10;

// The user a request authenticated as.
struct RestUser {
  int64_t id = 0;
  std::string name;
  bool admin = false;
};

// What the requesting user starred, rated and played: every Child, AlbumID3 and ArtistID3 they
// are shown carries it (starred, userRating, playCount, played), as apps show it in every list.
struct UserMarks {
  service::UserData::Starred starred;
  service::UserData::Ratings ratings;
  std::shared_ptr<const service::UserData::PlayTally> tally;  // kept between requests (UserData::play_tally)
  const service::UserData::PlayTally& plays() const { return *tally; }
};

// A list written item by item as the answer is written, not held whole: a folder of 100,000
// files as one tree of Child records took some 40 times the answer's size (a 77 MB answer, a
// 4.3 GB peak). `item(i)` makes the i-th record; each is written and dropped before the next.
struct LazyList {
  size_t count = 0;
  std::function<ojson(size_t)> item;
};

// How many records of lazy lists the writers have made since the process started (tests check
// that a long list is written record by record, not built as one tree).
uint64_t lazy_records_made();

// One request to /rest/NAME, as an endpoint sees it. Parameters come from the query string and
// a form body alike (req.params).
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  service::Library& lib;
  const service::LibrarySnapshot& snap;
  const service::MusicCatalog& catalog;
  const RestUser& user;
  const ServerOptions& options;
  std::string address;  // the client's IP address

  bool has(const std::string& name) const;
  // The value of a one-value parameter, "" when absent. Given twice: Failure 10 naming it (the
  // second value is never dropped without a word).
  std::string param(const std::string& name) const;
  // The value, or Failure 10 when the parameter is absent or empty.
  std::string required(const std::string& name) const;
  // Every value of a repeatable parameter (id, songId, songIdToAdd, ...), in order.
  std::vector<std::string> all(const std::string& name) const;
  // A whole number in [lo, hi], `def` when absent; Failure 10 (kBadParameter) naming it when
  // not a number or out of range.
  int64_t integer(const std::string& name, int64_t def, int64_t lo, int64_t hi) const;
  // true/false (any case), 1/0; `def` when absent; Failure 10 on anything else.
  bool boolean(const std::string& name, bool def) const;
  // The track of a song id: Failure 70 when no song has it.
  const store::Track& song(const std::string& id) const;
  // The user's marks, read once per request on first use.
  const UserMarks& marks() const;

  // An answer of `items` songs, albums or artists is about to be built: past kLongAnswerItems it
  // waits for a turn (long_answer_turn_, held until the answer is written).
  void long_answer(size_t items) const;

  mutable std::shared_ptr<const UserMarks> marks_ = nullptr;
  mutable std::shared_ptr<void> long_answer_turn_ = nullptr;
  // The answer's lazy lists: lazy_list() keeps one and returns what stands for it in the body
  // (an array member's value); the writer (answer) makes its items as it writes them.
  mutable std::vector<LazyList> lazy = {};
  ojson lazy_list(size_t count, std::function<ojson(size_t)> item) const;
};

// Building a long answer holds about 10 times its size while the tree and its text are made: a
// playlist of 20,000 songs (12 MB of XML) held 130 MB, and 16 requests for it at once took the
// server to 2.3 GB. At most kLongAnswersAtOnce answers of more than kLongAnswerItems items are
// built at once; the others wait their turn within the request budget (503 past it).
inline constexpr size_t kLongAnswerItems = 1000;
inline constexpr int kLongAnswersAtOnce = 2;
// The most long answers built at once since the process started.
int long_answers_peak();
// How many long answers took a turn since the process started (the tests read it).
int64_t long_answers_taken();

// The signed-in user's stars, plays, playlists, queue and bookmarks, for this call's library.
service::UserData user_data(const Call& call);

// An endpoint: `answer` fills the members of a successful envelope (status, version, type,
// serverVersion and openSubsonic are added by the dispatcher); `raw` writes call.res itself
// (binary answers: stream, download, getCoverArt). Either throws Failure to answer with the
// envelope's error instead.
struct Endpoint {
  const char* name;
  void (*answer)(Call& call, ojson& body) = nullptr;
  void (*raw)(Call& call) = nullptr;
};

// The endpoint tables, one per concern file; the dispatcher joins them (a name in two tables is
// a startup error).
const std::vector<Endpoint>& system_endpoints();
const std::vector<Endpoint>& browse_endpoints();
const std::vector<Endpoint>& list_endpoints();  // album lists, random songs, search (subsonic_lists.cpp)
const std::vector<Endpoint>& media_endpoints();
const std::vector<Endpoint>& sonic_endpoints();
const std::vector<Endpoint>& userdata_endpoints();
const std::vector<Endpoint>& queue_endpoints();  // play queue and bookmarks (subsonic_queue.cpp)

// The extensions getOpenSubsonicExtensions lists: {name, versions}. Each concern adds the ones
// it implements here (subsonic_system.cpp).
struct Extension {
  const char* name;
  std::vector<int> versions;
};
const std::vector<Extension>& extensions();

// A text a client sets that is stored and sent back (a player name, a bookmark's comment):
// `value` when at most `max_bytes`, valid UTF-8 and without NUL (a PostgreSQL column refuses
// anything else, and a name shown as U+FFFD is not the one sent) or other control characters
// (tab and line breaks allowed when `multiline`); else Failure 0 naming `parameter` and the
// reason. Every route that keeps such a text checks it so (playlist names and comments too).
std::string stored_text(const std::string& parameter, const std::string& value, size_t max_bytes, bool multiline = false);
// Whether `text` holds a C0 control character or DEL (tab, CR and LF allowed when `multiline`).
bool holds_control_character(std::string_view text, bool multiline);
// The most bytes of a player name (the `c` parameter) kept with a play queue or a now-playing entry.
constexpr size_t kMaxClientNameBytes = 200;

// --- authentication (subsonic_auth.cpp) ----------------------------------------------------

// Whether /rest/ answers at all: at least one user exists in the index (else /rest/* is 404).
bool rest_enabled(service::Library& lib);
// The user the request authenticates as (u + p / p=enc: / t + s token auth, or apiKey), or
// throws Failure (10, 40-44). `address` is the client's IP (wrong credentials are rate-limited
// per address).
RestUser authenticate(const httplib::Request& req, const std::string& address, service::Library& lib,
                      std::chrono::seconds lockout);
// The same lockout for the REST API's token (serve --token, chosen by the owner, 8 characters at
// least): how long wrong tokens from `address` must wait (0: it may try), and a wrong one noted.
std::chrono::seconds token_lockout_wait(const std::string& address, std::chrono::seconds lockout);
void wrong_token(const std::string& address, std::chrono::seconds lockout);

// --- records (subsonic_records.cpp) ----------------------------------------------------------

// RFC 3339 date-time in UTC ("2026-11-26T20:11:37Z") of unix seconds.
std::string date_time(int64_t unix_s);
// A track's stored length in whole units (1: the spec's `duration` in seconds; 1000: durationMs),
// rounded; 0 ("unknown") for a length no audio has (store::known_duration_s: a damaged row's NaN,
// infinity or negative value, whose cast was undefined: a playlist holding a song whose length
// SQLite held as text summed to -9223372036854775803 s).
int64_t whole_duration(double stored_s, int64_t units_per_second = 1);
// A song as the spec's Child (isDir false). The second form is for front ends without a Call
// (the /api/sonic/ routes answer with the same records).
ojson child(const Call& call, const store::Track& t);
ojson child(const service::LibrarySnapshot& snap, const service::MusicCatalog& catalog, const store::Track& t);
// A folder as a Child (isDir true), and as the Directory getMusicDirectory answers (with its
// children).
ojson folder_child(const Call& call, const service::CatalogFolder& f);
ojson directory(const Call& call, const service::CatalogFolder& f);
// The songs of these track ids that the library has, as a lazy list of Child records.
ojson song_list(const Call& call, const std::vector<int64_t>& track_ids);
// AlbumID3 (without its songs; add "song" for AlbumID3WithSongs) and ArtistID3.
ojson album_id3(const Call& call, const service::CatalogAlbum& a);
ojson artist_id3(const Call& call, const service::CatalogArtist& a);
// The Content-Type and suffix of a file by its name (audio/mpeg, mp3; ...).
std::string content_type_of_path(const std::string& path);
std::string suffix_of_path(const std::string& path);

// --- browse helpers (subsonic_browse.cpp), shared with subsonic_lists.cpp -----------------------

// An album as a Child (isDir true, its id the album's), as getAlbumList and search2 list albums
// and getMusicDirectory opens them; an artist as the spec's Artist (id, name).
ojson album_child(const Call& call, const service::CatalogAlbum& a);
ojson artist_ref(const service::CatalogArtist& a);
// The musicFolderId parameter: 0 when absent; Failure 70 when no music folder has that id.
int music_folder_param(const Call& call);
// A size/count parameter with the spec's default and maximum: a larger value is cut to the
// maximum (as Subsonic servers do: apps ask for more than 500), a negative or non-number refused.
int64_t count_param(const Call& call, const std::string& name, int64_t def, int64_t max);

// --- the dispatcher (subsonic.cpp) -----------------------------------------------------------

// The envelope as the client asked for it (f=json: JSON, else XML), for `status` "ok" with
// `body`'s members, or "failed" with `failure`.
// `lazy`: the lists body's placeholders stand for (Call::lazy_list).
void answer(const httplib::Request& req, httplib::Response& res, ojson body, const std::vector<LazyList>* lazy = nullptr);
void answer_failure(const httplib::Request& req, httplib::Response& res, const Failure& failure, int http_status = 200);
// The XML form of an envelope (exposed for tests and the sonic /api/ routes).
std::string to_xml(const ojson& envelope);

class Rest {
 public:
  // `library` returns the library new requests use; `reopen` installs a library of the index's
  // new embedding set (as Api's), called once when a request finds the model changed.
  Rest(std::function<std::shared_ptr<service::Library>()> library, std::function<void()> reopen, const ServerOptions& options);
  void install(httplib::Server& http);

 private:
  void dispatch(const httplib::Request& req, httplib::Response& res);
  std::function<std::shared_ptr<service::Library>()> library_;
  std::function<void()> reopen_;
  const ServerOptions& options_;
};

}  // namespace clap::server::subsonic
