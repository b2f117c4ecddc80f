// clapsearch matrix: pairwise cosine similarity of track embeddings, for the whole index or a
// subset (--tracks).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "core/embedding_rows.h"
#include "core/error.h"
#include "search/similar.h"

namespace clap::cli {
namespace {

struct MatrixOptions {
  LibraryCliOptions lib;
  std::vector<std::string> tracks;
  std::string csv;
  bool json = false;
};

int run_matrix(const MatrixOptions& o) {
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  const Embeddings& emb = snap->track_embeddings();
  std::vector<int64_t> subset;
  for (const auto& spec : o.tracks) {
    const store::Track* t = snap->find_track(spec);
    if (!t) throw Error(spec + ": no such track in the index (give track ids or paths of indexed files)");
    if (find_row(emb, t->id) < 0) snap->track_embedding(t->id);  // throws the reason it has none
    subset.push_back(t->id);
  }
  const search::SimilarityMatrix m = search::similarity_matrix(emb, subset);
  const size_t n = m.ids.size();

  if (o.json) {
    ojson tracks = ojson::array();
    for (int64_t id : m.ids) {
      const store::Track* t = snap->track(id);
      tracks.push_back({{"track_id", id}, {"path", t ? t->path : ""}});
    }
    ojson rows = ojson::array();
    for (size_t i = 0; i < n; ++i) {
      ojson row = ojson::array();
      for (size_t j = 0; j < n; ++j) row.push_back(json_num(m.at(i, j)));
      rows.push_back(row);
    }
    print_json({{"tracks", tracks}, {"matrix", rows}});
  }
  if (!o.csv.empty()) {
    CsvOut csv(o.csv);
    std::vector<std::string> header = {"track_id", "path"};
    for (int64_t id : m.ids) header.push_back(std::to_string(id));
    csv.row(header);
    for (size_t i = 0; i < n; ++i) {
      const store::Track* t = snap->track(m.ids[i]);
      std::vector<std::string> row = {std::to_string(m.ids[i]), t ? t->path : ""};
      for (size_t j = 0; j < n; ++j) row.push_back(service::csv_number(m.at(i, j)));
      csv.row(row);
    }
    csv.close();
  }
  if (!o.json && (o.csv.empty() || o.csv != "-")) {
    if (!o.csv.empty()) {
      std::fprintf(stderr, "wrote %s (%zu x %zu)\n", terminal_text(o.csv).c_str(), n, n);
      return 0;
    }
    std::vector<std::string> headers = {"id", "track"};
    std::vector<bool> right = {true, false};
    for (int64_t id : m.ids) {
      headers.push_back(std::to_string(id));
      right.push_back(true);
    }
    Table table(headers, right);
    for (size_t i = 0; i < n; ++i) {
      const store::Track* t = snap->track(m.ids[i]);
      std::vector<std::string> row = {std::to_string(m.ids[i]), t ? snap->display_path(t->path) : "?"};
      for (size_t j = 0; j < n; ++j) row.push_back(fixed(m.at(i, j), 3));
      table.add(row);
    }
    table.print(stdout);
  }
  return 0;
}

}  // namespace

void add_matrix_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<MatrixOptions>();
  CLI::App* cmd = app.add_subcommand("matrix", "Pairwise track similarity (cosine of track embeddings)");
  cmd->add_option("--tracks", o->tracks, "Only these tracks (ids or paths, comma separated), in this order")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--csv", o->csv, "Write the matrix as CSV (track_id, path, then one column per track id) to FILE (- = stdout)");
  cmd->add_flag("--json", o->json, "JSON object: tracks [{track_id, path}], matrix [[cosine]] (rows and columns in that order)");
  add_library_options(cmd, o->lib);
  cmd->callback([o, &action] {
    if (o->json && o->csv == "-") throw CLI::ValidationError("matrix", "--json and --csv - both write to stdout");
    action = [o] { return run_matrix(*o); };
  });
}

}  // namespace clap::cli
