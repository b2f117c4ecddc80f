#include "server/subsonic.h"

#include <httplib.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "core/deadline.h"
#include "core/turns.h"
#include "core/error.h"
#include "core/utf8.h"
#include "server/api.h"
#include "server/api_request.h"
#include "server/client_address.h"
#include "server/connection.h"
#include "service/accounts.h"

namespace clap::server::subsonic {

// --- parameters ------------------------------------------------------------------------------

bool Call::has(const std::string& name) const { return req.has_param(name); }

std::string Call::param(const std::string& name) const {
  const size_t n = req.get_param_value_count(name);
  if (n > 1) throw Failure{kBadParameter, "parameter " + name + " given " + std::to_string(n) + " times; it takes one value"};
  return n == 0 ? "" : req.get_param_value(name);
}

std::string Call::required(const std::string& name) const {
  std::string v = param(name);
  if (v.empty()) throw Failure{10, "required parameter is missing: " + name};
  return v;
}

std::vector<std::string> Call::all(const std::string& name) const {
  std::vector<std::string> out;
  const auto range = req.params.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

int64_t Call::integer(const std::string& name, int64_t def, int64_t lo, int64_t hi) const {
  const std::string v = param(name);
  if (v.empty()) return def;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const bool whole = end == v.data() + v.size();
  // A whole number past int64 (count=1e20 written out) is out of the range, not "not a number".
  if ((ec != std::errc() && !(ec == std::errc::result_out_of_range && whole)) || !whole)
    throw Failure{kBadParameter, "parameter " + name + " must be a whole number (got \"" + v.substr(0, 40) + "\")"};
  if (ec == std::errc::result_out_of_range || n < lo || n > hi)
    throw Failure{kBadParameter, "parameter " + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi)};
  return n;
}

bool Call::boolean(const std::string& name, bool def) const {
  std::string v = param(name);
  if (v.empty()) return def;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Failure{kBadParameter, "parameter " + name + " must be true or false"};
}

std::string stored_text(const std::string& parameter, const std::string& value, size_t max_bytes, bool multiline) {
  if (value.size() > max_bytes)
    throw Failure{kBadParameter, "parameter " + parameter + ": at most " + std::to_string(max_bytes) + " bytes (got " +
                         std::to_string(value.size()) + ")"};
  if (!is_valid_utf8(value)) throw Failure{kBadParameter, "parameter " + parameter + ": not valid UTF-8"};
  if (value.find('\0') != std::string::npos) throw Failure{kBadParameter, "parameter " + parameter + ": holds a NUL character"};
  // Control characters (ESC, DEL, ...): a player name is shown to every user by getNowPlaying,
  // and an escape sequence in it would recolour or rewrite a terminal client's screen. A
  // comment may hold line breaks and tabs.
  if (holds_control_character(value, multiline)) throw Failure{kBadParameter, "parameter " + parameter + ": holds a control character"};
  return value;
}

bool holds_control_character(std::string_view text, bool multiline) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && !(multiline && (c == '\t' || c == '\n' || c == '\r'))) || c == 0x7f) return true;
  }
  return false;
}

const store::Track& Call::song(const std::string& id) const {
  const int64_t track = service::MusicCatalog::track_of_song_id(id);
  const store::Track* t = track < 0 ? nullptr : snap.track(track);
  if (!t || t->status != store::TrackStatus::Ok) throw Failure{70, "song not found: " + id.substr(0, 80)};
  return *t;
}

namespace {

Turns& long_answer_turns() {
  static Turns turns(kLongAnswersAtOnce, "waiting for a turn to build a long answer");
  return turns;
}

}  // namespace

int long_answers_peak() { return long_answer_turns().peak(); }
int64_t long_answers_taken() { return long_answer_turns().taken(); }

void Call::long_answer(size_t items) const {
  if (items <= kLongAnswerItems || long_answer_turn_) return;
  long_answer_turns().take();
  // When the answer is written, its tree's many small blocks are free but kept by this thread's
  // malloc arena (each HTTP thread has its own, and only an arena's top is given back): 16
  // threads that each once built a 20,000-song playlist held 2.2 GB between them, one at a time.
  // They go back to the system as the turn ends.
  // The pointer is the turns' own (not null): a null one made `long_answer_turn_` test false, so
  // a second call (the dispatcher's, after getPlaylist's own) took a second turn, and two such
  // requests each held one and waited for another.
  long_answer_turn_ = std::shared_ptr<void>(&long_answer_turns(), [](void*) {
    long_answer_turns().give_back();
    malloc_trim(0);
  });
}

const UserMarks& Call::marks() const {
  if (!marks_) {
    // Its four reads in one call on the accounts connection: one check of the index file before
    // and after, not one per read (getSong stat()ed the index 18 times), and all of one file.
    service::AccountsConnection& connection = service::accounts_connection(lib.location());
    marks_ = connection.with([&](service::Accounts&, store::Store&) {
      const service::UserData data(connection, user.id, snap.library_generation());
      return std::make_shared<const UserMarks>(UserMarks{data.starred(), data.ratings(), data.play_tally()});
    });
  }
  return *marks_;
}

// --- the envelope ----------------------------------------------------------------------------

namespace {

ojson envelope(const char* status) {
  return ojson{{"status", status},
               {"version", kApiVersion},
               {"type", kServerType},
               {"serverVersion", kServerVersion},
               {"openSubsonic", true}};
}

bool wants_json(const httplib::Request& req) {
  // f may be repeated or odd in a failed request: the first value decides, anything but json is XML.
  return req.has_param("f") && req.get_param_value("f") == "json";
}

// Text as XML 1.0 allows it: valid UTF-8 (invalid bytes become U+FFFD), no control characters
// other than tab, LF and CR and not the noncharacters U+FFFE and U+FFFF (XML's Char production
// excludes them: one such title in a tag made every list holding the song unparseable), each
// of which becomes U+FFFD, markup escaped.
void append_xml_text(std::string& out, const std::string& raw, bool attribute) {
  std::string valid;
  const std::string& s = sanitize_utf8(raw, valid) ? valid : raw;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xBE) {
      out += "\xEF\xBF\xBD";
      i += 2;
      continue;
    }
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += attribute ? "&quot;" : "\""; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += "\xEF\xBF\xBD";
        else out += ch;
    }
  }
}

std::string scalar_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  return service::json_text(v);
}

// The key of the member that stands for a lazy list (Call::lazy_list): no record has such a key.
constexpr const char* kLazyKey = "\x01lazy";
using LazyLists = std::vector<LazyList>;

std::atomic<uint64_t> lazy_records{0};

// The i-th record of a lazy list, counted (lazy_records_made).
ojson lazy_record(const LazyList& l, size_t i) {
  lazy_records.fetch_add(1, std::memory_order_relaxed);
  return l.item(i);
}

const LazyList* lazy_of(const ojson& v, const LazyLists* lazy) {
  if (!lazy || !v.is_object() || v.size() != 1 || !v.contains(kLazyKey)) return nullptr;
  return &lazy->at(v[kLazyKey].get<size_t>());
}

void append_element(std::string& out, const std::string& name, const ojson& node, int depth, const LazyLists* lazy);

// The scalar members the Subsonic XSD (subsonic-rest-api 1.16.1) declares as child elements with
// text rather than attributes, by the element that holds them: ArtistInfoBase (artistInfo,
// artistInfo2) and AlbumInfo (albumInfo, as getAlbumInfo and getAlbumInfo2 answer). An XML
// client reads a biography from <biography>text</biography> and finds nothing in an attribute.
// Every other scalar member in the XSD is an attribute, and text values of elements that have
// attributes too (lyrics, genre, a structured lyrics line) are the member named "value".
bool xsd_text_element(const std::string& element, const std::string& member) {
  static const std::set<std::string> kArtistInfo = {"biography",     "musicBrainzId",  "lastFmUrl",
                                                    "smallImageUrl", "mediumImageUrl", "largeImageUrl"};
  static const std::set<std::string> kAlbumInfo = {"notes",         "musicBrainzId",  "lastFmUrl",
                                                   "smallImageUrl", "mediumImageUrl", "largeImageUrl"};
  if (element == "artistInfo" || element == "artistInfo2") return kArtistInfo.count(member) > 0;
  if (element == "albumInfo") return kAlbumInfo.count(member) > 0;
  return false;
}

void append_item(std::string& out, const std::string& key, const ojson& item, int depth, const LazyLists* lazy) {
  if (item.is_object()) {
    append_element(out, key, item, depth, lazy);
  } else {
    out += "<" + key + ">";
    append_xml_text(out, scalar_text(item), false);
    out += "</" + key + ">";
  }
}

void append_children(std::string& out, const std::string& name, const ojson& node, int depth, const LazyLists* lazy) {
  for (const auto& [key, v] : node.items()) {
    if (key == "value" && !v.is_structured()) continue;
    if (!v.is_structured()) {
      // In the order of the members: the handlers add them in the XSD's sequence order.
      if (xsd_text_element(name, key)) {
        out += "<" + key + ">";
        append_xml_text(out, scalar_text(v), false);
        out += "</" + key + ">";
      }
    } else if (const LazyList* l = lazy_of(v, lazy)) {
      for (size_t i = 0; i < l->count; ++i) append_item(out, key, lazy_record(*l, i), depth, lazy);  // each made, written, dropped
    } else if (v.is_object()) {
      append_element(out, key, v, depth, lazy);
    } else if (v.is_array()) {
      for (const ojson& item : v) append_item(out, key, item, depth, lazy);
    }
  }
}

void append_element(std::string& out, const std::string& name, const ojson& node, int depth, const LazyLists* lazy) {
  if (depth > 32) throw std::logic_error("a Subsonic answer nested too deeply");
  out += "<" + name;
  if (depth == 0) out += std::string(" xmlns=\"") + kXmlNamespace + "\"";
  bool has_content = false;
  for (const auto& [key, v] : node.items()) {
    if (v.is_structured() || key == "value" || xsd_text_element(name, key)) {
      const LazyList* l = lazy_of(v, lazy);
      has_content = has_content || !v.is_structured() || (l ? l->count > 0 : !v.empty());
      continue;
    }
    out += " " + key + "=\"";
    append_xml_text(out, scalar_text(v), true);
    out += "\"";
  }
  if (!has_content) {
    out += "/>";
    return;
  }
  out += ">";
  if (node.contains("value") && !node["value"].is_structured()) append_xml_text(out, scalar_text(node["value"]), false);
  append_children(out, name, node, depth + 1, lazy);
  out += "</" + name + ">";
}

// The JSON text of a tree with lazy lists, as json_text writes one without (compact).
void append_json(std::string& out, const ojson& v, const LazyLists* lazy) {
  if (const LazyList* l = lazy_of(v, lazy)) {
    out += '[';
    for (size_t i = 0; i < l->count; ++i) {
      if (i) out += ',';
      append_json(out, lazy_record(*l, i), lazy);  // each made, written, dropped
    }
    out += ']';
  } else if (v.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, member] : v.items()) {
      if (!first) out += ',';
      first = false;
      out += service::json_text(ojson(key));
      out += ':';
      append_json(out, member, lazy);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ',';
      append_json(out, v[i], lazy);
    }
    out += ']';
  } else {
    out += service::json_text(v);
  }
}

void write(const httplib::Request& req, httplib::Response& res, ojson env, const LazyLists* lazy = nullptr) {
  // The text is moved into the answer (set_content copies it: a second 77 MB for a large folder).
  std::string text;
  const char* type = "application/json; charset=utf-8";
  if (wants_json(req)) {
    // Moved, not copied: a sync page's answer is a tree of 500 songs.
    ojson wrapped = ojson::object();
    wrapped["subsonic-response"] = std::move(env);
    if (lazy && !lazy->empty()) append_json(text, wrapped, lazy);
    else text = service::json_text(wrapped);
  } else {
    text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    append_element(text, "subsonic-response", env, 0, lazy);
    type = "application/xml; charset=utf-8";
  }
  res.set_content(std::string(), type);
  res.body = std::move(text);
}

}  // namespace

uint64_t lazy_records_made() { return lazy_records.load(); }

std::string to_xml(const ojson& env) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  append_element(out, "subsonic-response", env, 0, nullptr);
  return out;
}

void answer(const httplib::Request& req, httplib::Response& res, ojson body, const std::vector<LazyList>* lazy) {
  ojson env = envelope("ok");
  for (auto& [key, v] : body.items()) env[key] = std::move(v);
  res.status = 200;
  write(req, res, std::move(env), lazy);
}

ojson Call::lazy_list(size_t count, std::function<ojson(size_t)> item) const {
  lazy.push_back({count, std::move(item)});
  return ojson{{kLazyKey, lazy.size() - 1}};
}

void answer_failure(const httplib::Request& req, httplib::Response& res, const Failure& failure, int http_status) {
  ojson env = envelope("failed");
  ojson error = {{"code", failure.code}};
  if (!failure.message.empty()) error["message"] = failure.message;
  env["error"] = error;
  res.status = http_status;
  write(req, res, std::move(env));
}

// --- the dispatcher --------------------------------------------------------------------------

namespace {

const std::map<std::string, const Endpoint*>& endpoint_map() {
  static const std::map<std::string, const Endpoint*> all = [] {
    std::map<std::string, const Endpoint*> m;
    for (const auto* table : {&system_endpoints(), &browse_endpoints(), &list_endpoints(), &media_endpoints(),
                              &sonic_endpoints(), &userdata_endpoints(), &queue_endpoints()})
      for (const Endpoint& e : *table)
        if (!m.emplace(e.name, &e).second) throw std::logic_error(std::string("two /rest/ endpoints named ") + e.name);
    return m;
  }();
  return all;
}

}  // namespace

Rest::Rest(std::function<std::shared_ptr<service::Library>()> library, std::function<void()> reopen,
           const ServerOptions& options)
    : library_(std::move(library)), reopen_(std::move(reopen)), options_(options) {
  endpoint_map();  // two tables naming one endpoint fail here, at startup
}

void Rest::install(httplib::Server& http) {
  // Every name under /rest/: an unknown one is answered by the dispatcher (an envelope a
  // Subsonic client can read), not by the server's JSON 404. Names with a '/' too ("ping/", a
  // trailing slash): with `[^/]*` they reached no route and were told "not found: no such page".
  const auto handler = [this](const httplib::Request& req, httplib::Response& res) { dispatch(req, res); };
  http.Get(R"(/rest/(.*))", handler);
  // A form POST (the formPost extension) is read here, not by cpp-httplib: the library Debian
  // ships refuses a urlencoded body over 8 KB (CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH,
  // compiled in) with a bare 413, so a playlist of a few hundred songs could not be saved, and
  // it drops a repeated pair. The
  // body's length was checked before a byte is read (server.cpp: at most 1 MB, declared).
  http.Post(R"(/rest/(.*))", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    std::string body;
    const bool read = reader([&body](const char* data, size_t n) {
      if (body.size() + n > kMaxFormBytes) return false;
      body.append(data, n);
      return true;
    });
    if (!read) return answer_failure(req, res, {0, "the form could not be read (at most 1 MB, sent whole)"}, 400);
    if (const size_t fields = static_cast<size_t>(std::count(body.begin(), body.end(), '&')) + 1; fields > kMaxFormFields)
      return answer_failure(req, res, {0, "the form holds " + std::to_string(fields) + " fields; at most " +
                                              std::to_string(kMaxFormFields) + " are read"}, 413);
    // The request object is cpp-httplib's own, not const: its parameters gain the form's fields,
    // parsed as the query is (connection.h: every pair kept; cpp-httplib's own parser drops a
    // repeated pair, the second songId=7 of a playlist playing a song twice).
    for (auto& field : parse_query("?" + body)) const_cast<httplib::Request&>(req).params.insert(std::move(field));
    dispatch(req, res);
  });
}

namespace {

// Why `name` (what follows /rest/, without ".view") names no endpoint, in words that say what would.
std::string unknown_endpoint(const std::string& name) {
  if (name.empty()) return "no endpoint named: the Subsonic API's endpoints are /rest/NAME (/rest/ping, /rest/getLicense, ...)";
  std::string why = "no such endpoint: " + name.substr(0, 80);
  if (const size_t slash = name.find('/'); slash != std::string::npos)
    why += " (an endpoint is /rest/NAME with no '/' after it: /rest/" + name.substr(0, std::min<size_t>(slash, 80)) + ")";
  return why;
}

}  // namespace

void Rest::dispatch(const httplib::Request& req, httplib::Response& res) {
  // /rest/ is for the index's users, not its owner: a message from the service layer (shared with
  // the CLI, which names files in full) names a track relative to its folder, never where the
  // library lies on the server, as /api/ does.
  const auto shown = [this](const std::string& detail) {
    try {
      return without_roots(detail, library_()->snapshot()->roots());
    } catch (const std::exception&) {
      return detail;
    }
  };
  std::string name = req.matches.size() > 1 ? req.matches[1].str() : "";
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".view") == 0) name.resize(name.size() - 5);
  try {
    const auto pick = endpoint_map().find(name);
    std::shared_ptr<service::Library> library = library_();
    // A copy moved over the index (docs/operations.md, Backup) is opened by the first request
    // that sees it. Sign-in reads the users through the server's accounts connection, which may
    // not open the new file while the library still holds the old one (H12S-3): every call
    // answered code 0 "... try again in a moment" until the refresh loop's next look (1 s, or 4
    // times a slow refresh), and a client's star or scrobble then was lost (hostile pass 16).
    // One stat when nothing changed; close_if_replaced closes the old file's connections, as the
    // reopen does first anyway.
    const auto reopen = [&] {
      try {
        reopen_();
      } catch (const std::exception& e) {
        throw Failure{0, std::string("the index is unavailable: ") + e.what()};
      }
      library = library_();
    };
    if (reopen_ && library->close_if_replaced()) reopen();
    // `step` (true: it answered), made once more after a reopen when it found the model or the
    // index file changed under the library (ModelChanged: nothing of it was read or written).
    const auto once_more_after_a_reopen = [&](const auto& step) {
      for (int attempt = 0;; ++attempt) {
        try {
          return step();
        } catch (const service::ModelChanged& e) {
          if (attempt > 0 || !reopen_) throw Failure{0, std::string("the index is unavailable: ") + e.what()};
        }
        reopen();
      }
    };
    // getOpenSubsonicExtensions "must be publicly accessible" (the spec): an app asks it before
    // signing in, to learn whether it may sign in with an API key. It names no user data.
    const bool open = name == "getOpenSubsonicExtensions";
    // Sign-in reads the users through the accounts connection, which finds a copy moved over the
    // index while the library still has the old file open (another request's, or this one's
    // check above lost the race): ModelChanged, nothing read or written; answered after a reopen,
    // as the call itself is below (before hostile pass 19, R17S-2: "try again in a moment").
    // Its reads (whether the index has users, the user and their password) are one call on the
    // accounts connection: one check of the index file before and after, not one per read. A
    // refusal (a wrong password, a missing parameter) is thrown after that call, as it was before
    // (an exception inside one drops the connection); a password the key does not open (code 0)
    // still drops it, so that a key file put right is read again by the next call.
    // A sign-in that only read while a copy was moved over the index is ModelChanged too (R17S-2,
    // hostile pass 21), and made again; one refused (a wrong password, counted towards the
    // lockout) is answered so as it is, never made again: the failure would count twice.
    RestUser user;
    std::exception_ptr refused;
    const auto sign_in = [&] {
      return service::accounts_connection(library->location()).with([&](service::Accounts&, store::Store&) {
        try {
          if (!rest_enabled(*library)) {
            answer_failure(req, res, {0, "the Subsonic API is off: this index has no user (add one with: clapsearch user add NAME)"}, 404);
            return true;
          }
          if (pick == endpoint_map().end()) {
            answer_failure(req, res, {0, unknown_endpoint(name)}, 404);
            return true;
          }
          if (!open) user = authenticate(req, client_key(req.remote_addr, req.local_addr), *library, std::chrono::seconds(options_.login_lockout_s));
          return false;
        } catch (const Failure& f) {
          if (f.code == 0) throw;
          refused = std::current_exception();
          return true;
        }
      });
    };
    const bool answered = once_more_after_a_reopen([&] {
      try {
        return sign_in();
      } catch (const service::ModelChanged&) {
        if (refused) return true;  // counted once, answered as it is
        throw;
      }
    });
    if (refused) std::rethrow_exception(refused);
    if (answered) return;
    const Endpoint& endpoint = *pick->second;
    const ScopedDeadline budget(options_.request_budget_s);
    once_more_after_a_reopen([&] {
      const auto snap = library->snapshot();
      Call call{req, res, *library, *snap, snap->music_catalog(), user, options_, req.remote_addr, nullptr, nullptr};
      if (endpoint.raw) {
        endpoint.raw(call);
      } else {
        ojson body = ojson::object();
        endpoint.answer(call, body);
        // Lazy lists cost little until written, but their text is the answer: 8 folders of
        // 100,000 songs written at once took the server from 1.6 GB to 2.4 GB. A long one
        // waits for its turn, as a long tree does.
        size_t lazy_items = 0;
        for (const LazyList& l : call.lazy) lazy_items += l.count;
        call.long_answer(lazy_items);
        answer(req, res, std::move(body), &call.lazy);
      }
      return true;
    });
  } catch (const Failure& f) {
    answer_failure(req, res, {f.code, shown(f.message)});
  } catch (const HttpError& e) {
    answer_failure(req, res, {e.status == 404 ? 70 : 0, shown(e.error + ": " + e.detail)});
  } catch (const DeadlineExceeded& e) {
    res.set_header("Retry-After", "10");
    answer_failure(req, res, {0, shown(std::string("request budget exceeded: ") + e.what())}, 503);
  } catch (const service::Busy& e) {
    res.set_header("Retry-After", "2");
    answer_failure(req, res, {0, shown(std::string("busy: ") + e.what())}, 429);
  } catch (const Error& e) {
    answer_failure(req, res, {0, shown(e.what())});
  } catch (const std::bad_alloc&) {
    answer_failure(req, res, {0, "the request needed more memory than is available"}, 503);
  } catch (const std::exception& e) {
    answer_failure(req, res, {0, shown(std::string("internal error: ") + e.what())}, 500);
  }
}

}  // namespace clap::server::subsonic
