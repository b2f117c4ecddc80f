#include "service/captions.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "core/csv.h"
#include "core/error.h"
#include "core/one_line_text.h"
#include "core/utf8.h"
#include "index/crawl.h"  // absolute_path

namespace clap::service {

namespace fs = std::filesystem;

namespace {

// Caption sources are datasets, not lists: FMA's tracks.csv alone is about 250 MB.
constexpr uint64_t kMaxCaptionFileBytes = uint64_t{2} << 30;


// Appends tags to a comma-separated list, leaving out empty ones and repeats.
void add_tags(std::string& list, const std::vector<std::string>& tags) {
  std::set<std::string> seen;
  std::string out;
  auto push = [&](const std::string& raw) {
    const std::string t = trim_space(raw);
    if (t.empty() || !seen.insert(ascii_lower(t)).second) return;
    out += (out.empty() ? "" : ", ") + t;
  };
  size_t start = 0;
  while (start <= list.size()) {  // the list as it is
    const size_t comma = list.find(',', start);
    push(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const std::string& t : tags) push(t);
  list = out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// The strings of a Python list literal: "['a', \"b's\"]" -> a, b's. Anything else: no tags.
std::vector<std::string> python_string_list(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    const char q = s[i];
    if (q != '\'' && q != '"') {
      ++i;
      continue;
    }
    std::string item;
    size_t j = i + 1;
    for (; j < s.size() && s[j] != q; ++j) {
      if (s[j] == '\\' && j + 1 < s.size()) ++j;
      item += s[j];
    }
    if (j >= s.size()) break;  // unterminated: ignore the rest
    out.push_back(item);
    i = j + 1;
  }
  return out;
}

std::string title_artist_key(const std::string& title, const std::string& artist) {
  return ascii_lower(trim_space(title)) + "||" + ascii_lower(trim_space(artist));
}

}  // namespace

void TrackMetadata::merge(const TrackMetadata& other) {
  for (const auto& [field, value] : other.fields)
    if (!value.empty()) fields[field] = value;
  captions.insert(captions.end(), other.captions.begin(), other.captions.end());
}

const std::vector<std::string>& caption_fields() {
  static const std::vector<std::string> fields = {"title", "artist", "album", "genre", "date", "tags", "caption"};
  return fields;
}

const std::vector<std::string>& default_caption_templates() {
  static const std::vector<std::string> templates = {
      "\"{title}\" by {artist}. Genre: {genre}. Tags: {tags}.",
      "{genre} track \"{title}\" by {artist}.",
      "{genre} music by {artist}.",
      "A {genre} song tagged {tags}.",
      "\"{title}\" by {artist}, from the album \"{album}\".",
  };
  return templates;
}

CaptionTemplate CaptionTemplate::parse(const std::string& text) {
  CaptionTemplate t;
  t.text_ = text;
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
    } else if (c == '{') {
      const size_t close = text.find('}', i);
      if (close == std::string::npos) throw Error("template \"" + text + "\": '{' without '}' (write {{ for a brace)");
      const std::string field = text.substr(i + 1, close - i - 1);
      const auto& known = caption_fields();
      if (std::find(known.begin(), known.end(), field) == known.end()) {
        std::string list;
        for (const auto& f : known) list += (list.empty() ? "" : ", ") + ("{" + f + "}");
        throw Error("template \"" + text + "\": unknown field {" + field + "} (fields: " + list + ")");
      }
      t.parts_.push_back(literal);
      t.parts_.push_back(field);
      literal.clear();
      if (std::find(t.fields_.begin(), t.fields_.end(), field) == t.fields_.end()) t.fields_.push_back(field);
      i = close;
    } else if (c == '}') {
      throw Error("template \"" + text + "\": '}' without '{' (write }} for a brace)");
    } else {
      literal += c;
    }
  }
  t.parts_.push_back(literal);
  if (t.fields_.empty()) throw Error("template \"" + text + "\": names no field; every track would get the same caption");
  return t;
}

std::vector<std::string> CaptionTemplate::fill(const TrackMetadata& track) const {
  const bool uses_caption = std::find(fields_.begin(), fields_.end(), "caption") != fields_.end();
  const std::vector<std::string> captions = uses_caption ? track.captions : std::vector<std::string>{""};
  std::vector<std::string> out;
  for (const std::string& caption : captions) {
    std::string s;
    bool complete = true;
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (i % 2 == 0) {
        s += parts_[i];
        continue;
      }
      std::string value;
      if (parts_[i] == "caption") {
        value = caption;
      } else {
        const auto it = track.fields.find(parts_[i]);
        if (it != track.fields.end()) value = trim_space(it->second);
      }
      if (value.empty()) {
        complete = false;
        break;
      }
      s += value;
    }
    if (complete) out.push_back(s);
  }
  return out;
}

std::vector<std::string> captions_for(const TrackMetadata& track, const std::vector<CaptionTemplate>& templates,
                                      std::vector<int64_t>* template_uses) {
  std::vector<std::string> out;
  bool caption_templated = false;
  auto add = [&](const std::string& s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (size_t i = 0; i < templates.size(); ++i) {
    const auto& f = templates[i].fields();
    caption_templated = caption_templated || std::find(f.begin(), f.end(), "caption") != f.end();
    const std::vector<std::string> filled = templates[i].fill(track);
    if (template_uses && !filled.empty()) ++(*template_uses)[i];
    for (const std::string& s : filled) add(s);
  }
  if (!caption_templated)
    for (const std::string& c : track.captions) add(trim_space(c));
  return out;
}

TrackMetadata index_metadata(const store::Track& track, const std::vector<store::TrackLabel>& labels) {
  TrackMetadata m;
  m.fields["title"] = track.title;
  m.fields["artist"] = track.artist;
  m.fields["album"] = track.album;
  m.fields["genre"] = track.genre;
  m.fields["date"] = track.date;
  std::vector<std::string> tags;
  for (const store::TrackLabel& l : labels) tags.push_back(l.label);
  std::string list;
  add_tags(list, tags);
  m.fields["tags"] = list;
  return m;
}

const TrackMetadata* ExternalMetadata::find(const store::Track& track) const {
  if (auto it = by_path.find(track.path); it != by_path.end()) return &it->second;
  if (const int64_t id = fma_id_of(track.path); id >= 0)
    if (auto it = by_fma_id.find(id); it != by_fma_id.end()) return &it->second;
  if (!track.title.empty() && !track.artist.empty())
    if (auto it = by_title_artist.find(title_artist_key(track.title, track.artist)); it != by_title_artist.end())
      return &it->second;
  return nullptr;
}

int64_t fma_id_of(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  if (stem.empty() || stem.size() > 12) return -1;
  for (char c : stem)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  return std::stoll(stem);
}

ExternalMetadata parse_captions_csv(const std::string& text, const std::string& where, const std::string& base_dir) {
  const CsvRows rows = parse_csv(text, where);
  ExternalMetadata out;
  out.source = where;
  out.format = "captions CSV";
  size_t first = 0;
  bool tags = false;
  // A first row that names its columns must name them as documented: "file,caption" read as a
  // data row would caption a file called "file" and go unnoticed.
  if (!rows.empty() && rows[0].size() >= 2) {
    const std::string a = ascii_lower(trim_space(rows[0][0])), b = ascii_lower(trim_space(rows[0][1]));
    const bool names_columns = a == "path" || a == "file" || a == "filename" || a == "file_path" || a == "filepath" ||
                               a == "audio" || b == "caption" || b == "captions" || b == "tags";
    if (names_columns && a != "path")
      throw Error(where + ": row 1: a header's first column must be \"path\" (found \"" + echo_excerpt(rows[0][0]) + "\")");
  }
  if (!rows.empty() && rows[0].size() >= 2 && ascii_lower(trim_space(rows[0][0])) == "path") {
    const std::string column = ascii_lower(trim_space(rows[0][1]));
    if (column != "caption" && column != "tags")
      throw Error(where + ": row 1: the second column must be \"caption\" or \"tags\" (found \"" + echo_excerpt(rows[0][1]) + "\")");
    tags = column == "tags";
    first = 1;
  }
  if (tags) out.format = "tags CSV";
  for (size_t r = first; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string row_name = where + ": row " + std::to_string(r + 1);
    if (row.size() < 2) throw Error(row_name + ": needs two columns (path," + (tags ? "tags" : "caption") + ")");
    const std::string path = trim_space(row[0]), value = trim_space(row[1]);
    if (path.empty()) throw Error(row_name + ": empty path");
    if (value.empty()) continue;  // a file without a caption is simply not captioned
    // A caption is text the tokenizer reads as UTF-8: Latin-1 bytes (a spreadsheet's "CSV" export)
    // or a NUL were trained on as they were, mangled, unsaid (history import refuses the same).
    const std::string what = tags ? "tags" : "caption";
    if (const size_t nul = value.find('\0'); nul != std::string::npos)
      throw Error(row_name + ": the " + what + " holds a NUL byte (byte " + std::to_string(nul + 1) + "): not text; is it the right file?");
    if (!is_valid_utf8(value))
      throw Error(row_name + ": the " + what + " \"" + echo_excerpt(value) +
                  "\" is not UTF-8 (Latin-1 or Windows-1252?): save the file as UTF-8");
    const std::string absolute =
        index::absolute_path(fs::path(path).is_absolute() ? path : (fs::path(base_dir) / path).string());
    TrackMetadata& entry = out.by_path[absolute];
    if (tags) {
      std::string& list = entry.fields["tags"];
      add_tags(list, split(value, ';'));
    } else {
      entry.captions.push_back(value);
    }
    ++out.rows;
  }
  if (out.rows == 0) throw Error(where + ": no row with a path and a " + std::string(tags ? "tag" : "caption"));
  return out;
}

ExternalMetadata read_captions_csv(const std::string& path) {
  const std::string base = fs::path(index::absolute_path(path)).parent_path().string();
  return parse_captions_csv(read_text_file(path, "captions CSV", kMaxCaptionFileBytes, TextSource::FileOrStream), path, base);
}

ExternalMetadata parse_fma_tracks(const std::string& text, const std::string& where) {
  const CsvRows rows = parse_csv(text, where);
  if (rows.size() < 3 || rows[0].empty())
    throw Error(where + ": not an FMA tracks.csv (it starts with three header rows: section, field, track_id)");
  // Flatten the two header rows: "track" + "title" -> "track.title".
  std::map<std::string, size_t> column;
  for (size_t c = 1; c < rows[0].size(); ++c) {
    const std::string section = trim_space(rows[0][c]), field = c < rows[1].size() ? trim_space(rows[1][c]) : "";
    if (!section.empty() && !field.empty()) column.emplace(section + "." + field, c);
  }
  if (ascii_lower(trim_space(rows[2].empty() ? "" : rows[2][0])) != "track_id" || !column.count("track.title"))
    throw Error(where + ": not an FMA tracks.csv (expected the headers track_id and track.title)");
  auto cell = [&](const std::vector<std::string>& row, const char* name) -> std::string {
    const auto it = column.find(name);
    return it != column.end() && it->second < row.size() ? trim_space(row[it->second]) : std::string();
  };
  ExternalMetadata out;
  out.source = where;
  out.format = "FMA tracks.csv";
  for (size_t r = 3; r < rows.size(); ++r) {
    const auto& row = rows[r];
    if (row.empty() || trim_space(row[0]).empty()) continue;
    int64_t id = -1;
    try {
      size_t used = 0;
      id = std::stoll(trim_space(row[0]), &used);
      if (used != trim_space(row[0]).size() || id < 0) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0) throw Error(where + ": row " + std::to_string(r + 1) + ": track_id \"" + echo_excerpt(row[0]) + "\" is not a number");
    TrackMetadata m;
    m.fields["title"] = cell(row, "track.title");
    m.fields["artist"] = cell(row, "artist.name");
    m.fields["album"] = cell(row, "album.title");
    m.fields["genre"] = cell(row, "track.genre_top");
    m.fields["date"] = cell(row, "track.date_recorded");
    std::string tags;
    add_tags(tags, python_string_list(cell(row, "track.tags")));
    m.fields["tags"] = tags;
    out.by_fma_id[id] = m;
    if (!m.fields["title"].empty() && !m.fields["artist"].empty())
      out.by_title_artist[title_artist_key(m.fields["title"], m.fields["artist"])] = m;
    ++out.rows;
  }
  if (out.rows == 0) throw Error(where + ": no track rows after the three header rows");
  return out;
}

ExternalMetadata read_fma_tracks(const std::string& path) {
  return parse_fma_tracks(read_text_file(path, "FMA tracks.csv", kMaxCaptionFileBytes, TextSource::FileOrStream), path);
}

}  // namespace clap::service
