// clapsearch map: the track embeddings on a 2-D map (PCA), one panel per model, coloured by a
// tag or a stored label, with text anchors and separation figures, written as SVG or PNG
// (service/map.h computes and draws; this file parses options and prints the summary).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "search/classify.h"
#include "service/map.h"

namespace clap::cli {
namespace {

struct MapOptions {
  LibraryCliOptions lib;
  std::vector<std::string> models;
  std::string out;
  std::string color_by = "genre";
  std::string templ = search::kDefaultLabelTemplate;
  bool json = false;
};

std::string fields_text() {
  std::string list;
  for (const auto& f : service::map_color_fields()) list += (list.empty() ? "" : ", ") + f;
  return list;
}

ojson figure_json(double v) { return std::isfinite(v) ? ojson(json_num(v)) : ojson(nullptr); }
std::string figure_text(double v) { return std::isfinite(v) ? fixed(v, 3) : "n/a"; }
// "a genre", "an artist".
std::string a_field(const std::string& f) { return (f.find_first_of("aeiou") == 0 ? "an " : "a ") + f; }

int run_map(const MapOptions& o) {
  const service::MapFormat format = service::map_format(o.out);  // before any work
  OutputFile out(o.out);  // can it be written? (removed again when the run fails)

  service::MapRequest request;
  request.color_by = o.color_by;
  request.templ = o.templ;
  for (const std::string& model : o.models.empty() ? std::vector<std::string>{""} : o.models) {
    LibraryCliOptions lib = o.lib;
    lib.model = model;
    request.panels.push_back(lib.library());
  }
  const service::MapResult map = service::make_map(request);
  out.write(service::render_map(map, format));
  out.commit();

  if (o.json) {
    ojson panels = ojson::array();
    for (const auto& p : map.panels) {
      ojson classes = ojson::array();
      for (const auto& c : p.classes)
        classes.push_back({{"name", c.name},
                           {"count", c.count},
                           {"color", c.color >= 0 ? ojson(c.color) : ojson("other")},
                           {"anchor", {json_num(c.anchor_x), json_num(c.anchor_y)}}});
      panels.push_back({{"model", p.model},
                        {"model_path", p.model_path},
                        {"tracks", p.tracks},
                        {"classified", p.classified},
                        {"classes", classes},
                        {"explained_variance", {json_num(p.explained[0]), json_num(p.explained[1])}},
                        {"knn_full", figure_json(p.knn_full)},
                        {"knn_2d", figure_json(p.knn_2d)},
                        {"zero_shot", figure_json(p.zero_shot)},
                        {"chance", figure_json(p.chance)}});
    }
    print_json({{"out", o.out},
                {"format", format == service::MapFormat::Svg ? "svg" : "png"},
                {"db", map.db},
                {"color_by", map.color_by},
                {"template", map.templ},
                {"k", map.k},
                {"panels", panels}});
    return 0;
  }

  const service::MapPanel& first = map.panels.front();
  std::printf("wrote %s: %zu panel%s, %lld tracks coloured by %s\n", terminal_text(o.out).c_str(), map.panels.size(),
              map.panels.size() == 1 ? "" : "s", static_cast<long long>(first.tracks), map.color_by.c_str());
  std::string classes;
  const size_t shown = std::min<size_t>(first.classes.size(), 12);
  for (size_t c = 0; c < shown; ++c)
    classes += (c ? ", " : "") + terminal_text(first.classes[c].name) + " " + std::to_string(first.classes[c].count);
  if (first.classes.size() > shown) classes += ", ... (" + std::to_string(first.classes.size() - shown) + " more)";
  const long long without = first.tracks - first.classified;
  std::printf("classes   %zu%s%s; %lld track%s without %s\n", first.classes.size(), classes.empty() ? "" : ": ",
              classes.c_str(), without, without == 1 ? "" : "s", a_field(map.color_by).c_str());
  std::printf("anchors   each class as text: \"%s\"\n\n", terminal_text(map.templ).c_str());
  Table table({"#", "PC1", "PC2", "k-NN full", "k-NN 2-D", "zero-shot", "chance", "model"},
              {true, true, true, true, true, true, true, false});
  for (size_t i = 0; i < map.panels.size(); ++i) {
    const auto& p = map.panels[i];
    table.add({std::to_string(i + 1), fixed(100 * p.explained[0], 1) + "%", fixed(100 * p.explained[1], 1) + "%",
               figure_text(p.knn_full), figure_text(p.knn_2d), figure_text(p.zero_shot), figure_text(p.chance),
               terminal_text(p.model)});
  }
  table.print(stdout);
  std::printf("\nk-NN: leave-one-out %d-NN class accuracy over the %lld tracks with %s, in the full space (cosine) and on\n"
              "the map; zero-shot: the nearest class text is the track's class; chance: the largest class's share\n",
              map.k, static_cast<long long>(first.classified), a_field(map.color_by).c_str());
  return 0;
}

}  // namespace

void add_map_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<MapOptions>();
  CLI::App* cmd = app.add_subcommand("map", "The library on a 2-D map (PCA), one panel per model, as SVG or PNG");
  cmd->add_option("--out,-o", o->out, "Picture to write: FILE.svg or FILE.png (the extension chooses)")->required();
  cmd->add_option("--color-by", o->color_by,
                  "What colours the dots: genre, title, artist, album or date (a tag), or label (the top label stored by "
                  "classify --store)")
      ->default_val("genre")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            for (const auto& f : service::map_color_fields())
              if (v == f) return "";
            return "must be one of " + fields_text() + ", got '" + v + "'";
          },
          "FIELD", "map field"));
  cmd->add_option("--model,-m", o->models,
                  "A model for one panel (repeat for panels side by side: a model and its fine-tune); a folder, checkpoint "
                  "file or hub id (default: the model recorded in the index)")
      ->allow_extra_args(false);
  cmd->add_option("--template", o->templ, "Sentence each class name is put in for its text anchor ({} = the class)")
      ->default_val(search::kDefaultLabelTemplate);
  cmd->add_flag("--json", o->json,
                "Print one JSON object: out, format, db, color_by, template, k, and per panel model, model_path, tracks, "
                "classified, classes [{name, count, color, anchor}], explained_variance, knn_full, knn_2d, zero_shot, "
                "chance (null when undefined)");
  add_library_options(cmd, o->lib, false);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->footer(
      "Each panel: every track with an embedding at its PCA position (the server's map), coloured by its class (the\n"
      "9 largest classes get colours, the rest are 'other'; no value: grey), and each class name embedded by that\n"
      "model's text tower, placed with the same PCA (a star). Figures over the tracks with a class: leave-one-out\n"
      "5-NN accuracy in the full space (cosine) and on the map, zero-shot accuracy (nearest class text), chance.");
  cmd->callback([o, &action] { action = [o] { return run_map(*o); }; });
}

}  // namespace clap::cli
