#include "server/api_request.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>

#include "core/error.h"
#include "core/utf8.h"

namespace clap::server {

namespace fs = std::filesystem;
using service::json_num;
using service::ojson;

namespace {
constexpr size_t kMaxTextBytes = 2000;
}  // namespace

std::string dump(const ojson& j) { return service::json_text(j); }

void send(httplib::Response& res, const ojson& j) { res.set_content(dump(j), "application/json; charset=utf-8"); }

std::string text_value(const std::string& name, const std::string& v) {
  if (v.size() > kMaxTextBytes)
    throw HttpError{400, "bad parameter", name + ": longer than " + std::to_string(kMaxTextBytes) + " bytes"};
  // Told apart: a NUL (%00) is valid UTF-8, and "not valid UTF-8" sent its sender looking at encodings.
  if (v.find('\0') != std::string::npos) throw HttpError{400, "bad parameter", name + ": holds a NUL character (%00)"};
  if (!is_valid_utf8(v)) throw HttpError{400, "bad parameter", name + ": not valid UTF-8 text"};
  if (v.find_first_not_of(" \t\r\n") == std::string::npos) throw HttpError{400, "bad parameter", name + ": empty"};
  return v;
}

void refuse_repeated_params(const httplib::Request& req) {
  // The repeatable ones (docs/commands.md): texts_param's and seed_terms_param's.
  static const char* kSeveral[] = {"q", "label", "seed", "text", "not", "not_like"};
  for (auto it = req.params.begin(); it != req.params.end(); it = req.params.upper_bound(it->first)) {
    const size_t n = req.params.count(it->first);
    if (n < 2 || std::any_of(std::begin(kSeveral), std::end(kSeveral), [&](const char* m) { return it->first == m; })) continue;
    const std::string name = it->first.size() > 40 ? it->first.substr(0, 40) + "..." : it->first;
    throw HttpError{400, "bad parameter", name + ": given " + std::to_string(n) +
                                              " times; give it once (only q, label, seed, text, not and not_like take several values)"};
  }
}

std::vector<std::string> texts_param(const httplib::Request& req, const std::string& name, int max) {
  std::vector<std::string> out;
  const size_t n = req.get_param_value_count(name);
  if (n == 0) throw HttpError{400, "missing parameter", name + ": give at least one (?" + name + "=...)"};
  if (n > static_cast<size_t>(max))
    throw HttpError{400, "bad parameter", name + ": at most " + std::to_string(max) + " values"};
  for (size_t i = 0; i < n; ++i) out.push_back(text_value(name, req.get_param_value(name, i)));
  return out;
}

std::string optional_text(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return "";
  const std::string v = req.get_param_value(name);
  if (v.empty()) return "";
  return text_value(name, v);
}

int64_t int_param(const httplib::Request& req, const std::string& name, int64_t def, int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return def;
  const std::string v = req.get_param_value(name);
  // A sign, then digits: a whole number, which is then in range or not (count=-1 is out of
  // range, not "not a number"); one of more than 18 digits is out of any range here.
  const size_t digits = !v.empty() && (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (v.size() == digits || v.find_first_not_of("0123456789", digits) != std::string::npos)
    throw HttpError{400, "bad parameter", name + ": not a whole number"};
  const bool huge = v.size() - digits > 18;
  const int64_t x = huge ? 0 : std::stoll(v);
  if (huge || x < lo || x > hi)
    throw HttpError{400, "bad parameter", name + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi)};
  return x;
}

double num_param(const httplib::Request& req, const std::string& name, double def, double lo, double hi) {
  if (!req.has_param(name)) return def;
  const std::string v = req.get_param_value(name);
  char* end = nullptr;
  // Read whole: strtod stops at a NUL (moderate=%00 was read as 0, duration=7%00x as 7) and
  // skips leading white space, so the number must start the value and end where the value ends.
  const bool starts = !v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-' || v[0] == '+' || v[0] == '.');
  const double x = v.size() > 40 || !starts ? NAN : std::strtod(v.c_str(), &end);
  if (!end || end != v.c_str() + v.size() || !std::isfinite(x)) throw HttpError{400, "bad parameter", name + ": not a number"};
  // strtod also reads hexadecimal floats (duration=0x10 was 16 s); the CLI's options refuse
  // them (cli/main.cpp, bad_number), and so does the API.
  if (v.find_first_of("xX") != std::string::npos) throw HttpError{400, "bad parameter", name + ": not a decimal number"};
  if (x < lo || x > hi)
    throw HttpError{400, "bad parameter", name + ": must be between " + service::json_float(float(lo)) + " and " +
                                              service::json_float(float(hi))};
  return x;
}

bool flag_param(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return false;
  // Any case: media servers and scripts send True, FALSE (Python's str(True), Go's, ...).
  const std::string v = lower(req.get_param_value(name));
  if (v.empty() || v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  throw HttpError{400, "bad parameter", name + ": true or false"};
}

namespace {
bool is_track_id(const std::string& text) {
  return !text.empty() && text.size() <= 18 && text.find_first_not_of("0123456789") == std::string::npos;
}
}  // namespace

const store::Track& track_of(const service::LibrarySnapshot& snap, const std::string& id_text) {
  if (!is_track_id(id_text)) throw HttpError{404, "unknown track", "track ids are whole numbers"};
  const store::Track* t = snap.track(std::stoll(id_text));
  if (!t) throw HttpError{404, "unknown track", "no track " + id_text + " in the index"};
  return *t;
}

const store::Track& track_param(const httplib::Request& req, const service::LibrarySnapshot& snap, const std::string& name) {
  if (!req.has_param(name)) throw HttpError{400, "missing parameter", name + ": a track id"};
  return track_of(snap, track_id_value(name, req.get_param_value(name)));
}

const std::string& track_id_value(const std::string& name, const std::string& value) {
  if (!is_track_id(value))
    throw HttpError{400, "bad parameter", name + ": \"" + value.substr(0, 40) + (value.size() > 40 ? "..." : "") +
                                              "\" is not a track id (a whole number, as /api/tracks lists them)"};
  return value;
}

search::Filter where_param(const httplib::Request& req) {
  try {
    return service::parse_where(optional_text(req, "where"), "where");
  } catch (const InvalidArgument& e) {
    throw HttpError{400, "bad parameter", e.what()};
  }
}

service::ResultRules rules_param(const httplib::Request& req, int64_t max_cap) {
  service::ResultRules r;
  r.where = where_param(req);
  r.per_artist = int_param(req, "per_artist", 0, 0, max_cap);
  r.per_album = int_param(req, "per_album", 0, 0, max_cap);
  return r;
}

service::ResultRules music_only(service::ResultRules rules, const httplib::Request& req, const search::Filter& rule,
                                const service::LibrarySnapshot& snap) {
  if (req.has_param("exclude") && !flag_param(req, "exclude")) return rules;
  return service::excluding_tracks(std::move(rules), snap.tracks_matching(rule));
}

std::vector<service::QueryTerm> seed_terms_param(const httplib::Request& req, int max, bool texts, const std::string& first) {
  using service::TermKind;
  std::vector<service::QueryTerm> out;
  // A track of this index, ID or ID:WEIGHT: anything else is bad input (400), not an unknown
  // track (404).
  auto track_spec = [](const std::string& name, const std::string& spec) {
    track_id_value(name, spec.substr(0, spec.rfind(':')));
    return spec;
  };
  if (!first.empty()) out.push_back({TermKind::Audio, track_spec("track", first), false, "track"});
  auto add = [&](const std::string& name, TermKind kind, bool negative) {
    const size_t n = req.get_param_value_count(name);
    if (n > static_cast<size_t>(max)) throw HttpError{400, "bad parameter", name + ": at most " + std::to_string(max) + " values"};
    for (size_t i = 0; i < n; ++i) {
      const std::string value = text_value(name, req.get_param_value(name, i));
      out.push_back({kind, kind == TermKind::Audio ? track_spec(name, value) : value, negative, name});
    }
  };
  add("seed", TermKind::Audio, false);
  if (texts) add("text", TermKind::Text, false);
  add("not", TermKind::Text, true);
  add("not_like", TermKind::Audio, true);
  return out;
}

ojson terms_json(const service::MixedQuery& q) {
  ojson a = ojson::array();
  for (const auto& t : q.terms)
    a.push_back({{"kind", t.kind == service::TermKind::Text ? "text" : "track"},
                 {"value", t.value},
                 {"weight", json_num(t.weight)},
                 {"negative", t.negative},
                 {"track_id", t.track_id}});
  return a;
}

bool has_seed_terms(const httplib::Request& req, bool texts) {
  return req.has_param("seed") || req.has_param("not") || req.has_param("not_like") || (texts && req.has_param("text"));
}

service::MixedQuery resolve_terms(service::Library& lib, const service::LibrarySnapshot& snap,
                                  const std::vector<service::QueryTerm>& terms, bool need_positive) {
  try {
    return service::resolve_query(lib, snap, terms, /*allow_files=*/false, need_positive);
  } catch (const service::Busy&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw HttpError{400, "bad parameter", e.what()};
  } catch (const Error& e) {
    throw HttpError{404, "unknown track", e.what()};
  }
}
// --- records ---------------------------------------------------------------------------------

std::string audio_url(int64_t id) { return "/api/tracks/" + std::to_string(id) + "/audio"; }

std::string play_url(int64_t id, double start) { return audio_url(id) + "#t=" + service::json_float(float(start)); }

std::string folder_of(const service::LibrarySnapshot& snap, const store::Track& t) {
  const fs::path rel(snap.display_path(t.path));
  const std::string parent = rel.parent_path().string();
  return parent.empty() ? "." : parent;
}

ojson track_record(const service::LibrarySnapshot& snap, const store::Track& t) {
  ojson labels = ojson::array();
  for (const auto& l : snap.labels_of(t.id)) labels.push_back({{"label", l.label}, {"score", json_num(l.score)}});
  return {{"track_id", t.id},
          {"path", t.path},
          {"display_path", snap.display_path(t.path)},
          {"folder", folder_of(snap, t)},
          {"title", t.title},
          {"artist", t.artist},
          {"album", t.album},
          {"album_artist", t.album_artist},
          {"mbid", t.mbid},
          {"isrc", t.isrc},
          {"genre", t.genre},
          {"date", t.date},
          {"duration_s", json_num(t.duration_s)},
          {"status", t.status == store::TrackStatus::Ok ? "ok" : "error"},
          {"error", t.error},
          {"silent", t.silent},
          {"window_count", t.window_count},
          {"window_total", std::max(t.window_total, t.window_count)},  // "12 of 48 windows" (progressive indexing)
          {"speech", service::speech_record(&t)},
          {"labels", labels},
          {"audio_url", audio_url(t.id)}};
}

void add_playback(const service::LibrarySnapshot& snap, ojson& j, int64_t track_id, double start) {
  const store::Track* t = snap.track(track_id);
  j["display_path"] = t ? snap.display_path(t->path) : "";
  j["audio_url"] = audio_url(track_id);
  j["play_url"] = play_url(track_id, start);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace clap::server
