// `clapsearch map`: the library's track embeddings on a 2-D map, one panel per model, coloured
// by a tag or a stored label, with figures that say how well each model keeps the classes apart,
// so a user can see what fine-tuning changed.
//
// A panel is one model over the index: every track with a stored track embedding, placed by the
// PCA of those embeddings (search/projection.h: the map the server shows), and one text anchor
// per class: the class name put in the label template, embedded by that model's text tower and
// placed with the same PCA (mean and axes of the tracks). A text-only fine-tune leaves the audio
// embeddings, and so the dots, where they were; the anchors and the zero-shot figure show what
// it changed.
//
// Figures (search/separation.h), over the tracks that have a class:
//   knn_full   leave-one-out 5-NN class accuracy in the full embedding space (cosine);
//   knn_2d     the same on the map (euclidean): what the picture can show of it;
//   zero_shot  share of tracks whose most similar class anchor (cosine) is their own class;
//   chance     the most frequent class's share.
// The same index and models give the same numbers and the same picture, byte for byte.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/library.h"

namespace clap::service {

// What colours the dots: a tag of the track, or "label" (its top stored zero-shot label,
// `classify --store`). The first is the default.
const std::vector<std::string>& map_color_fields();  // genre, label, title, artist, album, date

struct MapRequest {
  std::vector<LibraryOptions> panels;  // one per model, in order; at least one (model "" = the index's)
  std::string color_by = "genre";
  std::string templ;                   // the label template ("{}" = the class); empty = search::kDefaultLabelTemplate
  int k = 5;                           // neighbours of the k-NN figures
};

// Classes beyond the palette's colours share one grey ("other"); tracks without a value are "none".
inline constexpr int kMapOther = -1;
inline constexpr int kMapNone = -2;

struct MapClass {
  std::string name;
  int64_t count = 0;     // tracks (with an embedding) in the class
  int color = kMapOther; // palette slot 0..n-1 (the most frequent classes), or kMapOther
  double anchor_x = 0, anchor_y = 0;  // the class name's text embedding on the map
};

struct MapPoint {
  int64_t track_id = 0;
  double x = 0, y = 0;  // the panel's PCA (equal to LibrarySnapshot::track_map())
  int cls = -1;         // index into MapPanel::classes; -1 = no value
};

struct MapPanel {
  std::string model;       // the model's id: a hub id or a local path
  std::string model_path;  // the folder (or checkpoint file) it was loaded from
  int64_t tracks = 0;      // tracks with an embedding (= points.size())
  double explained[2] = {0, 0};  // share of the variance along each axis
  std::vector<MapPoint> points;  // in track-embedding order (by track id)
  std::vector<MapClass> classes; // most frequent first (ties by name)
  int64_t classified = 0;        // points with a class: the figures are over these
  double knn_full = 0, knn_2d = 0, zero_shot = 0, chance = 0;  // NaN when undefined (< 2 classified tracks)
};

struct MapResult {
  std::string db;
  std::string color_by, templ;
  int k = 5;
  int colors = 0;  // classes with a colour of their own (the rest are "other")
  std::vector<MapPanel> panels;
};

// Throws clap::Error: an unknown color_by (the message lists the valid ones), a template
// without "{}", an index with fewer than two track embeddings (naming it), a model the index
// refuses. Each panel's Library is opened, used and closed in turn.
MapResult make_map(const MapRequest& request);
// One panel over an open library (the classes and colours are decided from that library's tracks).
MapPanel map_panel(Library& lib, const std::string& color_by, const std::string& templ, int k);

// --- the picture ----------------------------------------------------------------------------

enum class MapFormat { Svg, Png };
// The format the path's extension names (.svg or .png, any case); throws clap::Error otherwise.
MapFormat map_format(const std::string& path);
// The picture's bytes: the panels side by side (plot/scatter.h).
std::string render_map(const MapResult& map, MapFormat format);

}  // namespace clap::service
