// The ListenBrainz listen format (service/history_files.h): JSON lines of listens, or a JSON
// array of them (older exports, the API's payload lists).
#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <system_error>
#include <thread>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_problem.h"
#include "core/one_line_text.h"
#include "service/history_files.h"

namespace clap::service {
namespace {

using json = nlohmann::json;

// A string field of `obj` ("" when absent or null); any other type is the entry's error.
std::string text_field(const json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(where + ": \"" + key + "\" is not text");
  return it->get<std::string>();
}

// A number of seconds from "duration_ms" or "duration" (0 when neither is a positive number):
// players send them as numbers or as text.
double duration_of(const json& info) {
  auto number = [&](const char* key) -> double {
    const auto it = info.find(key);
    if (it == info.end()) return 0;
    double v = 0;
    if (it->is_number()) v = it->get<double>();
    else if (it->is_string()) v = std::atof(it->get_ref<const std::string&>().c_str());
    return std::isfinite(v) && v > 0 ? v : 0;
  };
  if (const double ms = number("duration_ms"); ms > 0) return ms / 1000;
  return number("duration");
}

Listen listen_of(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": not a listen (a JSON object with listened_at and track_metadata)");
  Listen l;
  l.where = where;
  const auto at = j.find("listened_at");
  if (at == j.end() || at->is_null()) throw Error(where + ": a listen without \"listened_at\"");
  // A number goes through the text rules too (one rule for every format): milliseconds are told
  // by their size, a negative or non-finite number is no time.
  const bool ok = at->is_number()   ? parse_history_time(at->dump(), l.played_at)
                  : at->is_string() ? parse_history_time(at->get_ref<const std::string&>(), l.played_at)
                                    : false;
  // json_echo, not dump(): "listened_at" of 100,000 nested arrays overflowed dump()'s recursion
  // (hostile pass 16, H16S-1).
  if (!ok) throw Error(where + ": \"listened_at\" is not a time (" + json_echo(*at) + ")");
  check_play_time(l.played_at, where);
  const auto meta = j.find("track_metadata");
  if (meta == j.end() || !meta->is_object()) throw Error(where + ": a listen without \"track_metadata\"");
  l.artist = text_field(*meta, "artist_name", where);
  l.title = text_field(*meta, "track_name", where);
  l.album = text_field(*meta, "release_name", where);
  if (l.title.empty()) throw Error(where + ": a listen without \"track_name\"");
  if (l.artist.empty()) throw Error(where + ": a listen without \"artist_name\"");
  if (const auto info = meta->find("additional_info"); info != meta->end() && info->is_object()) {
    l.mbid = text_field(*info, "recording_mbid", where);
    l.isrc = text_field(*info, "isrc", where);
    l.duration_s = duration_of(*info);
  }
  // ListenBrainz's own mapping names the recording when the player sent no MBID.
  if (l.mbid.empty())
    if (const auto mapping = meta->find("mbid_mapping"); mapping != meta->end() && mapping->is_object())
      l.mbid = text_field(*mapping, "recording_mbid", where);
  return l;
}

std::string line_where(const std::string& where, size_t line) { return where + " line " + std::to_string(line); }

}  // namespace

std::vector<Listen> parse_listenbrainz_text(std::string_view text, const std::string& where) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<Listen> out;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) throw Error(where + ": the history file is empty");
  if (text[first] == '[') {  // one JSON array of listens
    json all;
    try {
      all = json::parse(text.substr(first));
    } catch (const json::exception& e) {
      throw Error(where + ": not a JSON array of listens (truncated or damaged: " + json_problem(text.substr(first), e) + ")");
    }
    out.reserve(all.size());
    for (size_t i = 0; i < all.size(); ++i) out.push_back(listen_of(all[i], where + " listen " + std::to_string(i + 1)));
    if (out.empty()) throw Error(where + ": the array holds no listens");
    return out;
  }
  out = parse_listenbrainz_lines(text, where, 1);
  if (out.empty()) throw Error(where + ": the history file holds no listens");
  return out;
}

std::vector<Listen> parse_listenbrainz_lines(std::string_view text, const std::string& where, size_t first_line_number,
                                             bool ends_file) {
  std::vector<Listen> out;
  // JSON lines: large exports are parsed in pieces on several threads (parsing is most of an
  // import's time); each piece starts at a line start and knows its first line's number, and the
  // first error in file order is the one reported.
  const size_t pieces = text.size() < (size_t{8} << 20) ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<size_t> starts = {0};
  for (size_t k = 1; k < pieces; ++k) {
    const size_t at = text.find('\n', text.size() * k / pieces);
    if (at == std::string_view::npos || at + 1 <= starts.back()) break;
    starts.push_back(at + 1);
  }
  starts.push_back(text.size());
  std::vector<size_t> first_line(starts.size() - 1, first_line_number);
  for (size_t k = 1; k + 1 < starts.size(); ++k)
    first_line[k] = first_line[k - 1] + static_cast<size_t>(std::count(text.begin() + starts[k - 1], text.begin() + starts[k], '\n'));
  std::vector<std::vector<Listen>> parts(starts.size() - 1);
  std::vector<std::exception_ptr> errors(parts.size());
  auto parse_piece = [&](size_t k) {
    try {
      size_t line = first_line[k] - 1;
      for (size_t pos = starts[k]; pos < starts[k + 1];) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view one = text.substr(pos, end - pos);
        pos = end + 1;
        ++line;
        if (one.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        json j;
        try {
          j = json::parse(one);
        } catch (const json::exception& e) {
          // A syntax error at the end of a last line without its line break is a file cut short (a
          // last line ended, but holding a bad byte, is not; nor is an error before the line's end:
          // two listens on one line, whose lines end with a carriage return alone or U+2028, were
          // "cut short (the file is truncated)", hostile pass 22, H22P-7); a number past its type
          // anywhere (nlohmann's out_of_range) is not JSON a listen can hold.
          const auto* syntax = dynamic_cast<const json::parse_error*>(&e);
          const bool cut = ends_file && pos > text.size() && syntax != nullptr && syntax->byte >= one.size();
          const size_t lone_cr = one.find_first_of('\r');
          const bool mac_lines = lone_cr != std::string_view::npos && one.find_first_not_of(" \t\r", lone_cr) != std::string_view::npos;
          throw Error(line_where(where, line) + (cut ? ": cut short (the file is truncated): " : ": not a JSON listen: ") +
                      json_problem(one, e) +
                      (mac_lines ? " (its lines end with a carriage return alone, as an old Mac OS text file: save it with "
                                   "line feeds between the listens)"
                                 : ""));
        }
        parts[k].push_back(listen_of(j, line_where(where, line)));
      }
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  // A thread the machine cannot start (an address-space or thread limit) must not throw out of
  // here with the started ones joinable (std::terminate; hostile pass 10, H10C-7's sibling): that
  // piece is parsed on this thread instead.
  for (size_t k = 1; k < parts.size(); ++k) {
    try {
      threads.emplace_back(parse_piece, k);
    } catch (const std::system_error&) {
      parse_piece(k);
    }
  }
  parse_piece(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  out.reserve(total);
  for (auto& part : parts) std::move(part.begin(), part.end(), std::back_inserter(out));
  return out;
}

}  // namespace clap::service
