// What the API's handlers share (internal to src/server/api*.cpp): the refusal a handler throws,
// the bounded reading of parameters, the terms of a mixed query, and the track records the
// answers carry. Every parameter reader throws HttpError 400 on a bad value.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"
#include "service/records.h"
#include "service/seeds.h"

namespace httplib {
struct Request;
class Response;
}

namespace clap::server {

// A request the route refuses, with the status it answers.
struct HttpError {
  int status;
  std::string error, detail;
  bool close = false;  // the request body was not read to its end: the connection must not go on
};

// Any bytes (paths and tags may hold invalid UTF-8) become valid JSON text: invalid sequences
// are replaced by U+FFFD.
std::string dump(const service::ojson& j);
void send(httplib::Response& res, const service::ojson& j);

// --- parameters ------------------------------------------------------------------------------

// A text at most 2,000 bytes of valid UTF-8, not blank.
std::string text_value(const std::string& name, const std::string& v);
// Every value of `name` (at least one, at most `max`), each a text_value.
// A parameter that takes one value, given more than once (track=1&track=2, where=A&where=B):
// 400 naming it. Before, the first value was used and the others dropped without a word (a
// second filter silently lost). q, label, seed, text, not and not_like take several values.
void refuse_repeated_params(const httplib::Request& req);
std::vector<std::string> texts_param(const httplib::Request& req, const std::string& name, int max);
// The text of `name`, or "" when it is absent or empty.
std::string optional_text(const httplib::Request& req, const std::string& name);
int64_t int_param(const httplib::Request& req, const std::string& name, int64_t def, int64_t lo, int64_t hi);
double num_param(const httplib::Request& req, const std::string& name, double def, double lo, double hi);
// Present without a value, 1 or true: true; 0 or false: false, in any case; absent: false.
bool flag_param(const httplib::Request& req, const std::string& name);

// The track of an id's text, as a URL's path names it (/api/tracks/ID): 404 when it is not a
// whole number or not in the index (no such resource).
const store::Track& track_of(const service::LibrarySnapshot& snap, const std::string& id_text);
// `value` of parameter `name` when it is a track id (a whole number); else 400 (bad input).
const std::string& track_id_value(const std::string& name, const std::string& value);
// The track named by ?track= (or ?NAME=): 400 when it is missing or not a whole number, 404
// when no track has that id.
const store::Track& track_param(const httplib::Request& req, const service::LibrarySnapshot& snap,
                                const std::string& name = "track");

// where, per_artist, per_album (service/filters.h): a bad expression is a 400 carrying the
// parser's message (reason, column, the expression with a caret); its length and nesting are
// bounded by the parser (search::kMaxFilterLength, kMaxFilterDepth).
service::ResultRules rules_param(const httplib::Request& req, int64_t max_cap);
// where alone (the media-server routes, whose caps have their own names).
search::Filter where_param(const httplib::Request& req);

// The server's music-only rule (ServerOptions::exclude) added to `rules`, unless exclude=false.
service::ResultRules music_only(service::ResultRules rules, const httplib::Request& req, const search::Filter& rule,
                                const service::LibrarySnapshot& snap);

// --- mixed queries (service/seeds.h) ---------------------------------------------------------

// seed, not_like (track ids of this index, ID[:WEIGHT]), text, not (TEXT[:WEIGHT]), each
// repeatable: the terms of a mixed query, `first` (an id; empty: none) first. Texts only where
// `texts` (search takes its texts as q).
std::vector<service::QueryTerm> seed_terms_param(const httplib::Request& req, int max, bool texts, const std::string& first = "");
// A resolved query's terms as the answer echoes them.
service::ojson terms_json(const service::MixedQuery& q);
bool has_seed_terms(const httplib::Request& req, bool texts);
// The terms resolved (seeds: tracks of this index only): a bad weight or an empty list is a
// 400, a seed not in the index a 404.
service::MixedQuery resolve_terms(service::Library& lib, const service::LibrarySnapshot& snap,
                                  const std::vector<service::QueryTerm>& terms, bool need_positive = true);

// --- records ---------------------------------------------------------------------------------

std::string audio_url(int64_t id);
// The folder of a track relative to its indexed root ("." at the root).
std::string folder_of(const service::LibrarySnapshot& snap, const store::Track& t);
// A track as GET /api/tracks lists it.
service::ojson track_record(const service::LibrarySnapshot& snap, const store::Track& t);
// Adds what the page needs beside a CLI record: where it is shown and how to play it.
void add_playback(const service::LibrarySnapshot& snap, service::ojson& j, int64_t track_id, double start);
std::string lower(std::string s);

}  // namespace clap::server
