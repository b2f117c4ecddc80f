#include "service/filters.h"

#include <algorithm>

#include "core/error.h"
#include "service/composed_text.h"
#include "service/song_resolver.h"

namespace clap::service {
namespace {

// `text`, or its composed spelling kept in `storage` when it has one (composed_text.h).
std::string_view composed_view(const std::string& text, std::string& storage) {
  if (!may_change_when_composed(text)) return text;
  storage = composed(text);
  return storage;
}

// Whether track `t` matches `where`, its texts composed (NFC) as the expression's are
// (parse_where): a tag or file name written decomposed (NFD kana, Hangul jamo, a macOS client's)
// matches the composed spelling and the other way round.
// Only the texts the expression reads are composed: on a library of kana or Hangul names,
// composing all seven took most of a filtered query's time (0.47 s per 100,000 tracks).
bool matches(const search::Filter& where, const store::Track& t) {
  std::string kept[7];
  search::FilterFields f = filter_fields(t);
  const search::TextFieldsRead& read = where.text_fields_read();
  if (read.artist) f.artist = composed_view(t.artist, kept[0]);
  if (read.album) f.album = composed_view(t.album, kept[1]);
  if (read.album_artist) f.album_artist = composed_view(t.album_artist, kept[2]);
  if (read.genre) f.genre = composed_view(t.genre, kept[3]);
  if (read.title) f.title = composed_view(t.title, kept[4]);
  if (read.date) f.date = composed_view(t.date, kept[5]);
  if (read.path) f.path = composed_view(t.path, kept[6]);
  return where.matches(f);
}

}  // namespace

search::Filter parse_where(const std::string& text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  try {
    // Too long is said of the text as typed (composing can lengthen it: H12C-4's joiners).
    return search::Filter::parse(text.size() > search::kMaxFilterLength ? text : composed(text));
  } catch (const search::FilterError& e) {
    throw InvalidArgument(name + ": " + e.what());
  }
}

void check_rules(const ResultRules& rules) {
  if (rules.per_artist < 0) throw InvalidArgument("per-artist cap: must be 0 (no cap) or more");
  if (rules.per_album < 0) throw InvalidArgument("per-album cap: must be 0 (no cap) or more");
}

search::FilterFields filter_fields(const store::Track& t) {
  search::FilterFields f;
  f.artist = t.artist;
  f.album = t.album;
  f.album_artist = t.album_artist;
  f.genre = t.genre;
  f.title = t.title;
  f.date = t.date;
  f.path = t.path;
  f.duration_s = t.duration_s;
  f.track_no = t.track_no;
  f.speech = t.speech;
  return f;
}

std::vector<int64_t> matching_tracks(const search::Filter& rule, const std::vector<store::Track>& tracks) {
  std::vector<int64_t> ids;
  if (rule.empty()) return ids;
  for (const store::Track& t : tracks)
    if (t.status == store::TrackStatus::Ok && matches(rule, t)) ids.push_back(t.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

ResultRules excluding_rule(ResultRules rules, const search::Filter& rule, const std::vector<store::Track>& tracks) {
  return excluding_tracks(std::move(rules), matching_tracks(rule, tracks));
}

ResultRules excluding_tracks(ResultRules rules, const std::vector<int64_t>& ids) {
  if (ids.empty()) return rules;
  if (rules.exclude.empty()) {  // the usual case: the rule's tracks alone, already ascending
    rules.exclude = ids;
    return rules;
  }
  rules.exclude.insert(rules.exclude.end(), ids.begin(), ids.end());
  std::sort(rules.exclude.begin(), rules.exclude.end());
  rules.exclude.erase(std::unique(rules.exclude.begin(), rules.exclude.end()), rules.exclude.end());
  return rules;
}

bool AllowedTracks::contains(int64_t id) const { return all || std::binary_search(ids.begin(), ids.end(), id); }

bool AllowedTracks::exact() const {
  return !all && (windows <= exact_windows || (exact_share > 0 && windows * exact_share <= library_windows));
}

int64_t AllowedTracks::enlargement() const {
  if (all || windows <= 0) return 1;
  return std::max<int64_t>(1, (library_windows + windows - 1) / windows);
}

AllowedTracks allowed_tracks(const std::vector<store::Track>& tracks, const ResultRules& rules) {
  const search::Filter& where = rules.where;
  AllowedTracks a;
  a.all = where.empty() && rules.exclude.empty();
  a.exact_windows = rules.exact_windows;
  a.exact_share = rules.exact_share;
  for (const store::Track& t : tracks) {
    if (t.status != store::TrackStatus::Ok) continue;
    a.library_windows += t.window_count;
    if (a.all || std::binary_search(rules.exclude.begin(), rules.exclude.end(), t.id)) continue;
    if (!where.empty() && !matches(where, t)) continue;
    a.ids.push_back(t.id);
    a.windows += t.window_count;
  }
  if (a.all) a.windows = a.library_windows;
  std::sort(a.ids.begin(), a.ids.end());
  return a;
}

Embeddings subset_rows(const Embeddings& tracks, const std::function<bool(int64_t)>& keep) {
  Embeddings out;
  out.dim = tracks.dim;
  for (int64_t r = 0; r < tracks.size(); ++r)
    if (keep(tracks.ids[r])) {
      out.ids.push_back(tracks.ids[r]);
      out.data.insert(out.data.end(), tracks.row(r), tracks.row(r) + tracks.dim);
    }
  return out;
}

bool ResultCaps::take(const store::Track& t) {
  // normalise_name: "The Beatles" and "the beatles" are one artist, as the media-server routes count them.
  std::string artist, album;
  if (per_artist_ > 0) artist = normalise_name(t.artist);
  if (per_album_ > 0) {
    album = normalise_name(t.album);
    if (!album.empty()) album += '\x1f' + normalise_name(t.album_artist.empty() ? t.artist : t.album_artist);
  }
  if (!artist.empty() && artists_[artist] >= per_artist_) return false;
  if (!album.empty() && albums_[album] >= per_album_) return false;
  if (!artist.empty()) ++artists_[artist];
  if (!album.empty()) ++albums_[album];
  return true;
}

}  // namespace clap::service
