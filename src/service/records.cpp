#include "service/records.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "service/aggregates.h"
#include "service/csv_number.h"
#include "service/duplicates.h"

namespace clap::service {

std::string json_text(const ojson& j, int indent) {
  return j.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_float(float v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  for (int precision = 6; precision <= 9; ++precision) {  // shortest that round-trips
    std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

double json_num(double v) {
  // Beyond float32's range (1e308: a duration damaged by hand) json_float says "null", which was
  // read back as 0 (hostile pass 16): the double itself then, as JSON numbers go; NaN and infinity
  // stay as they are, which nlohmann::json writes as null.
  if (!std::isfinite(static_cast<float>(v))) return v;
  return std::strtod(json_float(static_cast<float>(v)).c_str(), nullptr);
}

std::string csv_number(double v) {
  // CSV has no null: an empty cell, as every CSV output writes for a value it lacks (duplicates'
  // bit_error_rate, analyze's silent score). json_float's "null" reached `duplicates --csv` for a
  // non-finite duration (hostile pass 16/17). Beyond float32's range (1e308) the double itself,
  // as json_num gives JSON.
  if (!std::isfinite(v)) return "";
  if (!std::isfinite(static_cast<float>(v))) return json_text(nlohmann::json(v));  // the double's shortest text
  return json_float(static_cast<float>(v));
}

namespace {
// A plain decimal number ("-12.5", "+3", "-1e5"): what a spreadsheet reads as a number, not a
// formula. strtod, used before, also took "-inf", "-nan(x)" and "-0x10" whole, which a spreadsheet
// reads as formulas (a tag "-inf" showed #NAME?; hostile pass 18).
bool plain_decimal(const std::string& s) {
  size_t i = s.size() > 0 && (s[0] == '+' || s[0] == '-') ? 1 : 0, digits = 0;
  const auto digit = [&] { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  for (; digit(); ++i) ++digits;
  if (i < s.size() && s[i] == '.')
    for (++i; digit(); ++i) ++digits;
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exponent = 0;
    for (; digit(); ++i) ++exponent;
    if (exponent == 0) return false;
  }
  return i == s.size();
}
}  // namespace

std::string csv_field(const std::string& raw) {
  std::string s = raw;
  if (!s.empty() && std::string("=+-@\t\r").find(s[0]) != std::string::npos && !plain_decimal(s))
    s.insert(s.begin(), '\'');  // text, not a number: never a formula
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string csv_line(const std::vector<std::string>& fields, const char* eol) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s += ',';
    s += csv_field(fields[i]);
  }
  return s += eol;
}

const std::vector<std::string>& analyze_csv_header() {
  static const std::vector<std::string> header = {"track", "path", "query", "mean", "max", "min",
                                                  "std", "n_windows", "best_start", "best_end", "label"};
  return header;
}

std::vector<std::string> analyze_csv_row(const LibrarySnapshot& snap, const search::AnalyzeRow& r, const std::string& query) {
  const store::Track* t = snap.track(r.track_id);
  const search::WindowStats& s = r.stats;
  return {std::to_string(r.track_id), t ? t->path : "", query,
          csv_number(s.mean), csv_number(s.max), csv_number(s.min), csv_number(s.std),
          std::to_string(s.n_windows), csv_number(s.best_start), csv_number(s.best_end),
          search::label_name(r.label)};
}

namespace {
// The share of a track's windows the index holds: below 1 while progressive indexing has passes
// to go for it (index/passes.h), its score made from the windows present.
double coverage_of(const store::Track* t) {
  return t && t->window_total > t->window_count ? json_num(double(t->window_count) / double(t->window_total)) : 1.0;
}
// The result's coverage, also as counts: windows embedded of the track's total ("12 of 48").
void add_coverage(ojson& j, const store::Track* t) {
  j["coverage"] = coverage_of(t);
  j["window_count"] = t ? t->window_count : 0;
  j["window_total"] = t ? std::max(t->window_total, t->window_count) : 0;
}
}  // namespace

ojson speech_record(const store::Track* t) { return t && t->has_speech() ? ojson(json_num(t->speech)) : ojson(nullptr); }

ojson text_result_record(const LibrarySnapshot& snap, const search::TrackScore& r, size_t rank, const std::string* query) {
  const store::Track* t = snap.track(r.track_id);
  ojson j;
  if (query) j["query"] = *query;
  j["rank"] = rank;
  j["path"] = t ? t->path : "";
  j["track_id"] = r.track_id;
  j["score"] = json_num(r.score);
  j["label"] = search::label_name(r.label);
  j["best_start"] = json_num(r.stats.best_start);
  j["best_end"] = json_num(r.stats.best_end);
  j["mean"] = json_num(r.stats.mean);
  j["max"] = json_num(r.stats.max);
  j["n_windows"] = r.stats.n_windows;
  add_coverage(j, t);
  j["speech"] = speech_record(t);
  j["artist"] = t ? t->artist : "";
  j["title"] = t ? t->title : "";
  ojson labels = ojson::array();
  for (const auto& l : snap.labels_of(r.track_id)) labels.push_back(l.label);
  j["labels"] = labels;
  return j;
}

ojson like_result_record(const LibrarySnapshot& snap, const search::LikeResult& r, size_t rank) {
  const store::Track* t = snap.track(r.track_id);
  ojson j;
  j["rank"] = rank;
  j["path"] = t ? t->path : "";
  j["track_id"] = r.track_id;
  j["score"] = json_num(r.combined);
  j["combined"] = json_num(r.combined);
  j["votes"] = r.votes;
  j["total_similarity"] = json_num(r.total_similarity);
  add_coverage(j, t);
  j["speech"] = speech_record(t);
  j["artist"] = t ? t->artist : "";
  j["title"] = t ? t->title : "";
  ojson matches = ojson::array();
  for (const auto& m : r.matches)
    matches.push_back({{"query_start", json_num(m.query_start)},
                       {"query_end", json_num(m.query_end)},
                       {"start", json_num(m.start)},
                       {"end", json_num(m.end)},
                       {"distance", json_num(m.distance)},
                       {"window_id", m.window_id}});
  j["matches"] = matches;
  return j;
}

ojson analyze_row_record(const LibrarySnapshot& snap, const search::AnalyzeRow& r, const std::string& query,
                         search::Aggregate aggregate) {
  const store::Track* t = snap.track(r.track_id);
  return {{"track_id", r.track_id},
          {"path", t ? t->path : ""},
          {"query", query},
          {"score", json_num(r.stats.score(aggregate))},
          {"mean", json_num(r.stats.mean)},
          {"max", json_num(r.stats.max)},
          {"min", json_num(r.stats.min)},
          {"std", json_num(r.stats.std)},
          {"n_windows", r.stats.n_windows},
          {"best_start", json_num(r.stats.best_start)},
          {"best_end", json_num(r.stats.best_end)},
          {"label", search::label_name(r.label)}};
}

ojson similar_result_record(const LibrarySnapshot& snap, const search::Hit& h, size_t rank) {
  const store::Track* t = snap.track(h.id);
  ojson j = {{"rank", rank}, {"path", t ? t->path : ""}, {"track_id", h.id}, {"score", json_num(h.score)}};
  add_coverage(j, t);
  j["speech"] = speech_record(t);
  j["artist"] = t ? t->artist : "";
  j["title"] = t ? t->title : "";
  return j;
}

ojson group_hit_record(const GroupHit& h, size_t rank, bool album) {
  ojson r = {{"rank", rank}};
  if (album) r["album"] = h.name;
  r["artist"] = album ? h.artist : h.name;
  r["tracks"] = h.tracks;
  r["score"] = json_num(h.score);
  return r;
}

ojson playlist_track_record(const LibrarySnapshot& snap, const search::Hit& h, size_t rank, const bool* seed) {
  const store::Track* t = snap.track(h.id);
  ojson r = {{"rank", rank},
             {"track_id", h.id},
             {"path", t ? t->path : ""},
             {"score", json_num(h.score)},
             {"artist", t ? t->artist : ""},
             {"title", t ? t->title : ""},
             {"duration_s", json_num(t ? t->duration_s : 0.0)}};
  if (seed) r["seed"] = *seed;
  return r;
}


namespace {
ojson duplicate_member_record(const service::LibrarySnapshot& snap, const service::DuplicateMember& m) {
  const store::Track* t = snap.track(m.track_id);
  ojson r;
  r["track_id"] = m.track_id;
  r["path"] = t ? t->path : "";
  r["keeper"] = m.keeper;
  r["score"] = json_num(m.score);
  r["offset_s"] = json_num(m.offset_s);
  r["bit_error_rate"] = m.bit_error_rate < 0 ? ojson(nullptr) : ojson(json_num(m.bit_error_rate));
  r["aligned"] = m.aligned < 0 ? ojson(nullptr) : ojson(json_num(m.aligned));
  r["duration_s"] = json_num(m.duration_s);
  if (m.format_known) {
    r["codec"] = m.format.codec;
    r["container"] = m.format.container;
    r["lossless"] = m.format.lossless;
    r["bit_rate"] = m.format.bit_rate;
    r["sample_rate"] = m.format.sample_rate;
    r["channels"] = m.format.channels;
  } else {
    r["format_error"] = m.format_error;
  }
  r["artist"] = t ? t->artist : "";
  r["title"] = t ? t->title : "";
  return r;
}
}  // namespace

ojson duplicate_groups_record(const LibrarySnapshot& snap, const std::vector<DuplicateGroup>& groups) {
  ojson out = ojson::array();
  for (size_t i = 0; i < groups.size(); ++i) {
    ojson g;
    g["group"] = i + 1;
    g["keeper"] = groups[i].members.front().track_id;
    g["tracks"] = ojson::array();
    for (const auto& m : groups[i].members) g["tracks"].push_back(duplicate_member_record(snap, m));
    g["pairs"] = ojson::array();
    for (const auto& p : groups[i].pairs) {
      ojson pr;
      pr["a"] = p.a;
      pr["b"] = p.b;
      pr["score"] = json_num(p.score);
      pr["offset_s"] = json_num(pair_offset_s(p));
      pr["rule"] = search::rule_name(p.rule);
      pr["bit_error_rate"] = p.fingerprint.measurable ? ojson(json_num(p.fingerprint.bit_error_rate)) : ojson(nullptr);
      pr["aligned"] = p.alignment.measurable ? ojson(json_num(p.alignment.aligned)) : ojson(nullptr);
      pr["identical"] = p.identical;
      g["pairs"].push_back(pr);
    }
    out.push_back(g);
  }
  return out;
}

}  // namespace clap::service
