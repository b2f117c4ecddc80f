// `clapsearch map`'s computation (service/map.h) on a real index: 13 encoded files (three genres
// of four tracks, one without a genre) indexed with the tiny random-weight golden model. The
// points are the library's PCA map, the classes and colours follow the tags or stored labels,
// each anchor is the class text's embedding placed with the same PCA, and the figures equal a
// plain re-computation here. (Random weights: the figures' values mean nothing, only how they
// are computed is checked.)
#include "service/map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/vector_math.h"
#include "search/classify.h"
#include "search/projection.h"
#include "service/indexing.h"
#include "support/golden.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

std::string model_dir() { return test::case_dir("tiny-unfused"); }

struct MapLib {
  std::string dir, music, db;
};
MapLib* g = nullptr;

class ServiceMap : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g = new MapLib;
    g->dir = test::temp_dir() + "/service-map";
    g->music = g->dir + "/music";
    g->db = g->dir + "/library.db";
    fs::remove_all(g->dir);
    const std::string& m = g->music;
    const char* sweeps[] = {"100+200*t", "300+100*t", "50+400*t", "800-100*t"};
    for (int i = 0; i < 4; ++i) {
      const std::string n = std::to_string(i);
      test::ffmpeg(m + "/tone" + n + ".flac", "-f lavfi -i \"sine=f=" + std::to_string(220 * (i + 1)) +
                                                 ":d=4\" -metadata genre=tones -metadata title=\"Tone " + n + "\"");
      test::ffmpeg(m + "/noise" + n + ".ogg", "-f lavfi -i \"anoisesrc=c=" + std::string(i % 2 ? "pink" : "white") +
                                                  ":d=4:a=0.3:seed=" + n + "\" -metadata genre=noise -metadata title=\"Noise " + n + "\"");
      test::ffmpeg(m + "/sweep" + n + ".wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(" + std::string(sweeps[i]) +
                                                  ")*t):d=4:s=48000\" -metadata genre=sweeps -metadata title=\"Sweep " + n + "\"");
    }
    test::ffmpeg(m + "/square.mp3", "-f lavfi -i \"aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=4:s=48000\" -metadata title=Square");
    IndexRequest r;
    r.dirs = {m};
    r.db = g->db;
    r.quiet = true;
    r.model = model_dir();
    const IndexRun run = run_index(r);
    ASSERT_EQ(run.summary.indexed, 13);
  }
  static void TearDownTestSuite() {
    delete g;
    g = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g && fs::exists(g->db)); }

  static LibraryOptions options(const std::string& model = "") {
    LibraryOptions o;
    o.db = g->db;
    o.model = model;
    return o;
  }
};

// Leave-one-out k-NN, written out plainly: `near(i, a, b)` says whether a is nearer to i than b.
template <class Nearer>
double plain_knn(const std::vector<int>& cls, int k, Nearer nearer) {
  std::vector<size_t> items;
  for (size_t i = 0; i < cls.size(); ++i)
    if (cls[i] >= 0) items.push_back(i);
  size_t right = 0;
  for (size_t i : items) {
    std::vector<size_t> others;
    for (size_t j : items)
      if (j != i) others.push_back(j);
    std::sort(others.begin(), others.end(), [&](size_t a, size_t b) { return nearer(i, a, b); });
    others.resize(std::min<size_t>(others.size(), static_cast<size_t>(k)));
    std::map<int, int> votes;
    int top = 0;
    for (size_t j : others) top = std::max(top, ++votes[cls[j]]);
    int winner = -1;
    for (size_t j : others)
      if (votes[cls[j]] == top) {
        winner = cls[j];
        break;
      }
    right += winner == cls[i];
  }
  return static_cast<double>(right) / static_cast<double>(items.size());
}

TEST_F(ServiceMap, PointsClassesAnchorsAndFiguresOfOnePanel) {
  Library lib(options(), Access::ReadWriteIfPossible);
  const MapPanel p = map_panel(lib, "genre", "", 5);
  const Embeddings& e = lib.snapshot()->track_embeddings();
  const search::Projection2D fitted = search::pca_2d(e);

  // Every track with an embedding, at the library's PCA position.
  EXPECT_EQ(p.model, model_dir());
  EXPECT_EQ(p.tracks, 13);
  ASSERT_EQ(p.points.size(), 13u);
  EXPECT_EQ(p.explained[0], fitted.explained[0]);
  EXPECT_EQ(p.explained[1], fitted.explained[1]);
  EXPECT_GT(p.explained[0], 0);
  for (size_t i = 0; i < p.points.size(); ++i) {
    EXPECT_EQ(p.points[i].track_id, e.ids[i]);
    EXPECT_EQ(p.points[i].x, fitted.x[i]) << i;
    EXPECT_EQ(p.points[i].y, fitted.y[i]) << i;
    EXPECT_EQ(p.points[i].x, lib.snapshot()->track_map().x[i]);
  }

  // Classes: three of four (equal counts: by name), each with a colour; the square has none.
  ASSERT_EQ(p.classes.size(), 3u);
  const char* names[] = {"noise", "sweeps", "tones"};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p.classes[c].name, names[c]);
    EXPECT_EQ(p.classes[c].count, 4);
    EXPECT_EQ(p.classes[c].color, c);
  }
  EXPECT_EQ(p.classified, 12);
  std::vector<int> cls;
  for (const MapPoint& pt : p.points) {
    const std::string genre = lib.snapshot()->track(pt.track_id)->genre;
    if (genre.empty()) {
      EXPECT_EQ(pt.cls, -1);
    } else {
      EXPECT_EQ(p.classes[pt.cls].name, genre);
    }
    cls.push_back(pt.cls);
  }

  // Anchors: "This audio is a noise song." ... through the text tower, placed with the tracks' mean and axes.
  const std::vector<float> text =
      lib.embed_texts(search::format_prompts(search::kDefaultLabelTemplate, {"noise", "sweeps", "tones"}));
  for (int c = 0; c < 3; ++c) {
    double x = 0, y = 0;
    for (int j = 0; j < e.dim; ++j) {
      const double v = text[c * e.dim + j] - fitted.mean[j];
      x += v * fitted.axes[0][j];
      y += v * fitted.axes[1][j];
    }
    EXPECT_EQ(p.classes[c].anchor_x, x) << c;
    EXPECT_EQ(p.classes[c].anchor_y, y) << c;
  }

  // Figures over the 12 tracks with a genre.
  const double full = plain_knn(cls, 5, [&](size_t i, size_t a, size_t b) {
    const float sa = dot(e.row(i), e.row(a), e.dim), sb = dot(e.row(i), e.row(b), e.dim);
    return sa != sb ? sa > sb : a < b;
  });
  const double flat = plain_knn(cls, 5, [&](size_t i, size_t a, size_t b) {
    const double da = std::hypot(fitted.x[a] - fitted.x[i], fitted.y[a] - fitted.y[i]);
    const double db = std::hypot(fitted.x[b] - fitted.x[i], fitted.y[b] - fitted.y[i]);
    return da != db ? da < db : a < b;
  });
  EXPECT_DOUBLE_EQ(p.knn_full, full);
  EXPECT_DOUBLE_EQ(p.knn_2d, flat);
  size_t right = 0;
  for (size_t i = 0; i < cls.size(); ++i) {
    if (cls[i] < 0) continue;
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (dot(e.row(i), &text[c * e.dim], e.dim) > dot(e.row(i), &text[best * e.dim], e.dim)) best = c;
    right += best == cls[i];
  }
  EXPECT_DOUBLE_EQ(p.zero_shot, right / 12.0);
  EXPECT_DOUBLE_EQ(p.chance, 4.0 / 12);
}

TEST_F(ServiceMap, ColouredByStoredLabelsAndByATagWithMoreClassesThanColours) {
  Library lib(options(), Access::ReadWriteIfPossible);
  const Embeddings& e = lib.snapshot()->track_embeddings();
  // Top labels: "calm" for three tracks, "loud" for two (a lower-scored second label is not
  // the class); the rest have none.
  std::vector<store::TrackLabel> labels;
  for (int i = 0; i < 5; ++i) {
    labels.push_back({e.ids[i], i < 3 ? "calm" : "loud", 0.9f});
    labels.push_back({e.ids[i], "other label", 0.1f});
  }
  lib.store_labels(labels);
  Library fresh(options(), Access::ReadOnly);  // a new snapshot with the labels
  const MapPanel p = map_panel(fresh, "label", "This is {}.", 5);
  ASSERT_EQ(p.classes.size(), 2u);
  EXPECT_EQ(p.classes[0].name, "calm");
  EXPECT_EQ(p.classes[0].count, 3);
  EXPECT_EQ(p.classes[1].name, "loud");
  EXPECT_EQ(p.classes[1].count, 2);
  EXPECT_EQ(p.classified, 5);
  for (size_t i = 0; i < p.points.size(); ++i) EXPECT_EQ(p.points[i].cls, i < 3 ? 0 : i < 5 ? 1 : -1) << i;
  EXPECT_DOUBLE_EQ(p.chance, 3.0 / 5);

  // Titles: 13 classes of one track each (by name) - the first 9 get colours, the rest are "other";
  // k-NN cannot be right for a class of one.
  const MapPanel t = map_panel(fresh, "title", "", 5);
  ASSERT_EQ(t.classes.size(), 13u);
  EXPECT_EQ(t.classes[0].name, "Noise 0");
  EXPECT_EQ(t.classes[12].name, "Tone 3");
  for (int c = 0; c < 13; ++c) EXPECT_EQ(t.classes[c].color, c < 9 ? c : kMapOther) << c;
  EXPECT_EQ(t.knn_full, 0.0);
  EXPECT_EQ(t.knn_2d, 0.0);
  EXPECT_DOUBLE_EQ(t.chance, 1.0 / 13);
}

TEST_F(ServiceMap, OnePanelPerModelAndTheSamePictureEveryTime) {
  MapRequest r;
  r.panels = {options(model_dir()), options(model_dir())};
  const MapResult m = make_map(r);
  ASSERT_EQ(m.panels.size(), 2u);
  EXPECT_EQ(m.colors, 3);
  EXPECT_EQ(m.color_by, "genre");
  EXPECT_EQ(m.templ, search::kDefaultLabelTemplate);
  EXPECT_EQ(m.db, fs::weakly_canonical(g->db).string());
  for (const MapPanel& p : m.panels) {
    EXPECT_EQ(p.model, model_dir());
    EXPECT_EQ(p.points.size(), 13u);
  }
  EXPECT_EQ(m.panels[0].knn_full, m.panels[1].knn_full);
  EXPECT_EQ(m.panels[0].classes[2].anchor_x, m.panels[1].classes[2].anchor_x);

  const std::string svg = render_map(m, MapFormat::Svg);
  EXPECT_EQ(svg, render_map(make_map(r), MapFormat::Svg));
  EXPECT_NE(svg.find("width=\"1440px\""), std::string::npos);
  const std::string png = render_map(m, MapFormat::Png);
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

TEST_F(ServiceMap, ClearErrors) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  MapRequest r;
  r.panels = {options()};
  r.color_by = "mood";
  const std::string bad_field = message([&] { make_map(r); });
  EXPECT_NE(bad_field.find("'mood'"), std::string::npos) << bad_field;
  EXPECT_NE(bad_field.find("genre, label, title, artist, album, date"), std::string::npos) << bad_field;

  r.color_by = "genre";
  r.templ = "no placeholder";
  EXPECT_NE(message([&] { make_map(r); }).find("{}"), std::string::npos);

  EXPECT_EQ(map_format("x/map.SVG"), MapFormat::Svg);
  EXPECT_EQ(map_format("map.png"), MapFormat::Png);
  for (const char* bad : {"map.jpg", "map", "dir.svg/map", "-"})
    EXPECT_NE(message([&] { map_format(bad); }).find(".svg or .png"), std::string::npos) << bad;

  // An index with one track: nothing to map, and the message names the index.
  const std::string dir = test::temp_dir() + "/one";
  test::ffmpeg(dir + "/music/one.wav", "-f lavfi -i \"sine=f=440:d=3\"");
  IndexRequest ir;
  ir.dirs = {dir + "/music"};
  ir.db = dir + "/one.db";
  ir.quiet = true;
  ir.model = model_dir();
  run_index(ir);
  MapRequest one;
  LibraryOptions o;
  o.db = ir.db;
  one.panels = {o};
  const std::string few = message([&] { make_map(one); });
  EXPECT_NE(few.find(fs::weakly_canonical(ir.db).string()), std::string::npos) << few;
  EXPECT_NE(few.find("at least two tracks"), std::string::npos) << few;
}

}  // namespace
}  // namespace clap::service
