// Training captions from a library's metadata (issue: fine-tuning): the tags the indexer read
// (title, artist, album, genre, date), labels stored by `classify --store`, and an external CSV
// (`path,caption`, `path,tags` or the Free Music Archive's tracks.csv), put into sentences by
// prompt templates such as `A {genre} track called "{title}" by {artist}.`.
//
// Parsing takes text, so it is tested and fuzzed without files; the readers add the file.
// Errors are clap::Error naming the file and the row.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::service {

// What one track is known by: field -> value (the fields of caption_fields(), "" = unknown)
// and captions given as they are (a CSV's caption column; several rows give several).
struct TrackMetadata {
  std::map<std::string, std::string> fields;
  std::vector<std::string> captions;
  void merge(const TrackMetadata& other);  // other's non-empty fields win; captions add up
};

// title, artist, album, genre, date, tags (a comma-separated list), caption.
const std::vector<std::string>& caption_fields();

// The five default templates (in the spirit of the fine-tuning study the issue cites).
const std::vector<std::string>& default_caption_templates();

// A sentence with {field} placeholders ({{ and }} are literal braces).
class CaptionTemplate {
 public:
  // Throws clap::Error for an unknown field, an unclosed brace or a template without a field.
  static CaptionTemplate parse(const std::string& text);
  const std::string& text() const { return text_; }
  const std::vector<std::string>& fields() const { return fields_; }
  // The sentence for a track; "" when the track lacks a field the template names (the
  // template is then not used for it). {caption} yields one sentence per caption.
  std::vector<std::string> fill(const TrackMetadata& track) const;

 private:
  std::string text_;
  std::vector<std::string> parts_;  // literal, field, literal, field, ..., literal
  std::vector<std::string> fields_;
};

// Every distinct caption of a track: the templates filled with its metadata, then its own
// captions when no template names {caption} (a given caption is used as it is).
// template_uses, when given (one counter per template), counts the templates that made one.
std::vector<std::string> captions_for(const TrackMetadata& track, const std::vector<CaptionTemplate>& templates,
                                      std::vector<int64_t>* template_uses = nullptr);

// The metadata the index holds for a track: its tags and, as tags, its stored labels.
TrackMetadata index_metadata(const store::Track& track, const std::vector<store::TrackLabel>& labels);

// Metadata from a file, and how each indexed track is found in it.
struct ExternalMetadata {
  std::string source;   // the file
  std::string format;   // "captions CSV", "tags CSV", "FMA tracks.csv"
  int64_t rows = 0;
  std::map<std::string, TrackMetadata> by_path;          // absolute path
  std::map<int64_t, TrackMetadata> by_fma_id;            // FMA track id (the file's name: 000002.mp3 = 2)
  std::map<std::string, TrackMetadata> by_title_artist;  // lower(title) "||" lower(artist)

  // The entry for an indexed track: by path, then by FMA id in the file name, then by title and
  // artist (from the index's tags). nullptr when none matches.
  const TrackMetadata* find(const store::Track& track) const;
};

// `path,caption` or `path,tags` (tags separated by ';'); a first row "path,caption" or
// "path,tags" (any case) is a header, and without one the second column is a caption. Paths
// relative to `base_dir`. Several rows for one path add up.
ExternalMetadata parse_captions_csv(const std::string& text, const std::string& where, const std::string& base_dir);
ExternalMetadata read_captions_csv(const std::string& path);

// The Free Music Archive's tracks.csv (fma_metadata.zip): three header rows flattened to
// "track.title", "artist.name", "album.title", "track.genre_top", "track.tags", ..., a first
// column track_id. Tags are a Python list literal ("['indie', 'lo-fi']").
ExternalMetadata parse_fma_tracks(const std::string& text, const std::string& where);
ExternalMetadata read_fma_tracks(const std::string& path);

// The FMA track id a file name carries (digits only before the extension), or -1.
int64_t fma_id_of(const std::string& path);

}  // namespace clap::service
