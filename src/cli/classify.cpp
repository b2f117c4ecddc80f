// clapsearch classify: zero-shot tagging. Each label becomes a sentence through the template,
// is embedded by the text tower (cached in the index), and a track's probabilities are the
// softmax over labels of logit_scale_audio × cosine(track, label text). --store saves the top
// labels in the index (shown by search).
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "service/queries.h"
#include "core/error.h"
#include "index/crawl.h"
#include "search/classify.h"

namespace clap::cli {
namespace {

struct ClassifyOptions {
  LibraryCliOptions lib;
  std::vector<std::string> labels;
  std::string labels_file;
  std::string templ = search::kDefaultLabelTemplate;
  std::vector<std::string> files;
  bool all = false;
  int64_t top = 3;
  bool store = false;
  bool json = false;
  std::string csv;
};

struct Item {
  std::string path;
  int64_t track_id = -1;  // -1: not in the index
  std::vector<float> embedding;
};

std::vector<std::string> collect_labels(const ClassifyOptions& o) {
  std::vector<std::string> raw = o.labels;
  if (!o.labels_file.empty()) {
    const auto file = read_query_file(o.labels_file, "labels");
    raw.insert(raw.end(), file.begin(), file.end());
  }
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (std::string l : raw) {
    const size_t a = l.find_first_not_of(" \t"), b = l.find_last_not_of(" \t");
    l = a == std::string::npos ? "" : l.substr(a, b - a + 1);
    if (l.empty()) continue;
    if (seen.insert(l).second) labels.push_back(l);
  }
  if (labels.size() < 2) throw InvalidArgument("give at least two labels: --labels rock,jazz,... or --labels-file FILE");
  return labels;
}

int run_classify(const ClassifyOptions& o) {
  const std::vector<std::string> labels = collect_labels(o);
  search::format_prompts(o.templ, labels);  // a bad template is refused before the index is opened
  if (o.all == !o.files.empty()) throw InvalidArgument("give audio files / track ids, or --all for every track of the index");
  service::Library lib(o.lib.library(), service::Access::ReadWriteIfPossible);
  if (o.store && !lib.writable()) throw Error(lib.db_path() + ": the index cannot be written (--store)");
  const auto snap = lib.snapshot();

  std::vector<Item> items;
  if (o.all) {
    const Embeddings& e = snap->track_embeddings();
    for (int64_t i = 0; i < e.size(); ++i) {
      const store::Track* t = snap->track(e.ids[i]);
      items.push_back({t ? t->path : "", e.ids[i], std::vector<float>(e.row(i), e.row(i) + e.dim)});
    }
  } else {
    for (const auto& f : o.files) {
      service::AudioItem a = lib.audio_item(f);
      items.push_back({a.path, a.track_id, std::move(a.embedding)});
    }
  }
  std::vector<float> audio;
  for (const auto& it : items) audio.insert(audio.end(), it.embedding.begin(), it.embedding.end());
  const auto results = service::classify(lib, static_cast<int64_t>(items.size()), audio.data(), labels, o.templ, o.top);

  if (o.store) {
    std::vector<store::TrackLabel> stored;
    size_t skipped = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].track_id < 0) {
        ++skipped;
        continue;
      }
      for (const auto& h : results[i].top) stored.push_back({items[i].track_id, labels[h.id], static_cast<float>(h.score)});
    }
    lib.store_labels(stored);
    std::fprintf(stderr, "stored the top %lld labels of %zu tracks in the index", static_cast<long long>(o.top),
                 items.size() - skipped);
    if (skipped) std::fprintf(stderr, " (%zu files not in the index were not stored)", skipped);
    std::fprintf(stderr, "\n");
  }

  if (o.json) {
    ojson out = ojson::array();
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& r = results[i];
      ojson probs = ojson::object();
      for (size_t l = 0; l < labels.size(); ++l) probs[labels[l]] = json_num(r.probabilities[l]);
      ojson top = ojson::array();
      for (const auto& h : r.top) top.push_back({{"label", labels[h.id]}, {"probability", json_num(h.score)}});
      out.push_back({{"rank", i + 1},
                     {"path", items[i].path},
                     {"track_id", items[i].track_id >= 0 ? ojson(items[i].track_id) : ojson(nullptr)},
                     {"label", r.top.empty() ? "" : labels[r.top[0].id]},
                     {"score", r.top.empty() ? 0.0 : json_num(r.top[0].score)},
                     {"probabilities", probs},
                     {"top", top}});
    }
    print_json(out);
  } else if (!o.csv.empty()) {
    CsvOut csv(o.csv);
    std::vector<std::string> header = {"path", "track_id", "top"};
    header.insert(header.end(), labels.begin(), labels.end());
    csv.row(header);
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<std::string> row = {items[i].path, items[i].track_id >= 0 ? std::to_string(items[i].track_id) : "",
                                      results[i].top.empty() ? "" : labels[results[i].top[0].id]};
      for (double p : results[i].probabilities) row.push_back(service::csv_number(p));
      csv.row(row);
    }
    csv.close();
  } else {
    std::printf("%zu labels, template \"%s\", logit scale %s\n\n", labels.size(), o.templ.c_str(), fixed(lib.model().logit_scale_audio(), 2).c_str());
    Table table({"track", "top labels"});
    for (size_t i = 0; i < items.size(); ++i) {
      std::string top;
      for (const auto& h : results[i].top) top += (top.empty() ? "" : ", ") + labels[h.id] + " " + fixed(h.score, 3);
      table.add({items[i].track_id >= 0 ? snap->display_path(items[i].path) : items[i].path, top});
    }
    table.print(stdout);
  }
  return 0;
}

}  // namespace

void add_classify_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Zero-shot tagging: probabilities over labels you choose");
  cmd->add_option("files", o->files, "Audio files or tracks of the index (ids or paths)");
  cmd->add_option("--labels", o->labels, "Labels, comma separated (rock,jazz,...); repeatable")->delimiter(',')->allow_extra_args(false);
  cmd->add_option("--labels-file", o->labels_file, "File with one label per line");
  cmd->add_option("--template", o->templ, "Sentence each label is put in ({} = the label)")
      ->default_val(search::kDefaultLabelTemplate);
  cmd->add_flag("--all", o->all, "Every track of the index");
  cmd->add_option("--top", o->top, "Labels shown (and stored) per track")->default_val(3)->check(CLI::Range(1, 1000));
  cmd->add_flag("--store", o->store, "Save each track's top labels (with probabilities) in the index; search shows them");
  auto* json = cmd->add_flag("--json", o->json,
                             "JSON list: rank (input order), path, track_id (null when not indexed), label and score (top "
                             "label and its probability), probabilities {label: p}, top [{label, probability}]");
  cmd->add_option("--csv", o->csv, "Write CSV (path, track_id, top, then one probability column per label) to FILE (- = stdout)")
      ->excludes(json);
  add_library_options(cmd, o->lib);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->footer(
      "Probabilities: softmax over the labels of logit_scale_audio × cosine(track embedding, text embedding of the\n"
      "templated label), the CLAP zero-shot recipe. Label texts are cached in the index.");
  cmd->callback([o, &action] { action = [o] { return run_classify(*o); }; });
}

}  // namespace clap::cli
