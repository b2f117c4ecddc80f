#include "service/map.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "plot/scatter.h"
#include "search/classify.h"
#include "search/projection.h"
#include "search/separation.h"

namespace clap::service {

const std::vector<std::string>& map_color_fields() {
  static const std::vector<std::string> fields = {"genre", "label", "title", "artist", "album", "date"};
  return fields;
}

namespace {

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

void check_color_by(const std::string& field) {
  const auto& fields = map_color_fields();
  if (std::find(fields.begin(), fields.end(), field) != fields.end()) return;
  std::string list;
  for (const auto& f : fields) list += (list.empty() ? "" : ", ") + f;
  throw Error("cannot colour by '" + field + "': choose one of " + list);
}

// The class a track belongs to ("" = none).
std::string class_of(const LibrarySnapshot& snap, const store::Track& t, const std::string& field) {
  if (field == "label") {
    const auto& labels = snap.labels_of(t.id);
    return labels.empty() ? "" : trimmed(labels.front().label);
  }
  if (field == "genre") return trimmed(t.genre);
  if (field == "title") return trimmed(t.title);
  if (field == "artist") return trimmed(t.artist);
  if (field == "album") return trimmed(t.album);
  return trimmed(t.date);
}

std::string percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100 * share);
  return buf;
}

std::string figure_text(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

MapPanel map_panel(Library& lib, const std::string& color_by, const std::string& templ_given, int k) {
  check_color_by(color_by);
  const std::string templ = templ_given.empty() ? search::kDefaultLabelTemplate : templ_given;
  search::format_prompt(templ, "x");  // a template without "{}" is refused before any work
  const auto snap = lib.snapshot();
  const int64_t n = snap->searchable() ? snap->track_embeddings().size() : 0;
  if (n < 2)
    throw Error(lib.db_path() + ": the map needs at least two tracks with embeddings, the index has " + std::to_string(n) +
                " (index a folder first: clapsearch index DIR --db " + lib.db_path() + ")");
  const Embeddings& e = snap->track_embeddings();
  const search::Projection2D& map = snap->track_map();

  MapPanel panel;
  const index::ModelSpec& spec = lib.model_spec();
  panel.model = spec.resolved.id;
  panel.model_path = spec.resolved.weights_file.empty() ? spec.resolved.dir : spec.resolved.weights_file;
  panel.tracks = n;
  panel.explained[0] = map.explained[0];
  panel.explained[1] = map.explained[1];

  // Classes: most frequent first, ties by name (bytes), so every run colours alike.
  std::vector<std::string> value(static_cast<size_t>(n));
  std::map<std::string, int64_t> counts;
  for (int64_t i = 0; i < n; ++i) {
    const store::Track* t = snap->track(e.ids[i]);
    value[i] = t ? class_of(*snap, *t, color_by) : "";
    if (!value[i].empty()) ++counts[value[i]];
  }
  for (const auto& [name, count] : counts) panel.classes.push_back({name, count, kMapOther, 0, 0});
  std::stable_sort(panel.classes.begin(), panel.classes.end(),
                   [](const MapClass& a, const MapClass& b) { return a.count > b.count; });
  std::map<std::string, int> index_of;
  for (size_t c = 0; c < panel.classes.size(); ++c) {
    index_of[panel.classes[c].name] = static_cast<int>(c);
    if (c < static_cast<size_t>(plot::kPaletteSize)) panel.classes[c].color = static_cast<int>(c);
  }
  std::vector<int> cls(static_cast<size_t>(n), -1);
  for (int64_t i = 0; i < n; ++i) {
    if (!value[i].empty()) cls[i] = index_of[value[i]], ++panel.classified;
    panel.points.push_back({e.ids[i], map.x[i], map.y[i], cls[i]});
  }

  // Text anchors: every class name through the template and this model's text tower (the
  // index's text cache), placed with the tracks' PCA.
  std::vector<float> anchors;
  if (!panel.classes.empty()) {
    std::vector<std::string> names;
    for (const MapClass& c : panel.classes) names.push_back(c.name);
    anchors = lib.embed_texts(search::format_prompts(templ, names));
    for (size_t c = 0; c < panel.classes.size(); ++c) {
      const search::Point2D q = search::project(map, anchors.data() + c * static_cast<size_t>(e.dim));
      panel.classes[c].anchor_x = q.x;
      panel.classes[c].anchor_y = q.y;
    }
  }

  panel.knn_full = search::knn_accuracy_cosine(e.data.data(), n, e.dim, cls, k);
  panel.knn_2d = search::knn_accuracy_2d(map.x.data(), map.y.data(), n, cls, k);
  panel.zero_shot = search::nearest_anchor_accuracy(e.data.data(), n, e.dim, cls, anchors.data(),
                                                    static_cast<int>(panel.classes.size()));
  panel.chance = search::majority_share(cls);
  return panel;
}

MapResult make_map(const MapRequest& request) {
  check_color_by(request.color_by);
  MapResult result;
  result.color_by = request.color_by;
  result.templ = request.templ.empty() ? search::kDefaultLabelTemplate : request.templ;
  search::format_prompt(result.templ, "x");
  result.k = request.k;
  if (request.panels.empty()) throw Error("the map needs at least one model");
  for (const LibraryOptions& options : request.panels) {
    Library lib(options, Access::ReadWriteIfPossible);  // label texts join the index's text cache when it can be written
    result.db = lib.db_path();
    result.panels.push_back(map_panel(lib, result.color_by, result.templ, result.k));
    int colored = 0;
    for (const MapClass& c : result.panels.back().classes) colored += c.color >= 0;
    result.colors = std::max(result.colors, colored);
  }
  return result;
}

// --- the picture ---------------------------------------------------------------------------

MapFormat map_format(const std::string& path) {
  const size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "svg") return MapFormat::Svg;
  if (ext == "png") return MapFormat::Png;
  throw Error(path + ": the picture's name must end in .svg or .png (it chooses the format)");
}

std::string render_map(const MapResult& m, MapFormat format) {
  plot::Figure figure;
  for (const MapPanel& p : m.panels) {
    plot::Panel out;
    out.title = p.model;
    out.subtitle = std::to_string(p.tracks) + " tracks, coloured by " + m.color_by + "; stars: each class as text (\"" +
                   m.templ + "\")";
    out.x_label = "PC1 (" + percent(p.explained[0]) + " of the variance)";
    out.y_label = "PC2 (" + percent(p.explained[1]) + " of the variance)";
    int64_t other_classes = 0, other_tracks = 0;
    for (const MapClass& c : p.classes) {
      if (c.color < 0) {
        ++other_classes, other_tracks += c.count;
        continue;
      }
      out.legend.push_back({plot::LegendEntry::Dots, c.color, c.name + " (" + std::to_string(c.count) + ")"});
      out.anchors.push_back({c.anchor_x, c.anchor_y, c.color, c.name});
    }
    if (other_classes > 0)
      out.legend.push_back({plot::LegendEntry::Dots, plot::kOther,
                            "other: " + std::to_string(other_classes) + " classes (" + std::to_string(other_tracks) + ")"});
    if (p.classified < p.tracks)
      out.legend.push_back({plot::LegendEntry::Dots, plot::kNone, "(none) (" + std::to_string(p.tracks - p.classified) + ")"});
    if (!out.anchors.empty()) {
      out.legend.push_back({plot::LegendEntry::Text, plot::kNone, ""});
      out.legend.push_back({plot::LegendEntry::Star, plot::kOther, "class name as text,"});
      out.legend.push_back({plot::LegendEntry::Text, plot::kNone, "    this model's text tower"});
    }
    for (const MapPoint& pt : p.points) {
      const int color = pt.cls < 0 ? plot::kNone : p.classes[pt.cls].color < 0 ? plot::kOther : p.classes[pt.cls].color;
      out.dots.push_back({pt.x, pt.y, color});
    }
    const std::string over = std::to_string(p.classified) + " tracks with " +
                             (m.color_by.find_first_of("aeiou") == 0 ? "an " : "a ") + m.color_by;
    out.notes = {"k-NN accuracy (k = " + std::to_string(m.k) + ", leave-one-out, over " + over + "):",
                 "    full space (cosine) " + figure_text(p.knn_full) + "    2-D map " + figure_text(p.knn_2d),
                 "zero-shot accuracy (nearest class text) " + figure_text(p.zero_shot),
                 "chance (the largest class's share) " + figure_text(p.chance)};
    figure.panels.push_back(std::move(out));
  }
  return plot::render(figure, format == MapFormat::Svg ? plot::Format::Svg : plot::Format::Png);
}

}  // namespace clap::service
