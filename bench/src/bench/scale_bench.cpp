#include "bench/scale_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <unordered_set>

#include "core/error.h"
#include "core/regular_file.h"
#include "core/vector_math.h"
#include "bench/vector_bench.h"
#include "search/catalog.h"
#include "search/kernels.h"
#include "search/text_search.h"
#include "search/track_norms.h"
#include "service/compressed_windows.h"
#include "service/window_index.h"
#include "store/store.h"

namespace clap::service {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr int64_t kTracksPerImport = 256;
constexpr int64_t kScanBatch = 8192;
constexpr const char* kModelId = "synthetic/scale-bench";

// What identifies the synthetic library in the store: regenerating it from these gives the
// same vectors, so a store holding it can be measured again without loading it again.
store::ModelIdentity synthetic_identity(const ScaleBenchRequest& r, const search::SyntheticData& data) {
  store::ModelIdentity id;
  id.id = kModelId;
  id.revision = "local";
  id.config_hash = "tracks=" + std::to_string(r.tracks) + " windows_per_track=" + std::to_string(r.windows_per_track) +
                   " dim=" + std::to_string(r.dim) + " clusters=" + std::to_string(data.clusters) +
                   " seed=" + std::to_string(data.seed);
  id.dim = r.dim;
  return id;
}

double rss_mb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

int64_t load_synthetic(store::Store& st, const ScaleBenchRequest& r, const search::SyntheticData& data,
                       const store::ModelIdentity& identity) {
  const auto import = st.begin_import(identity, {"/synthetic"});
  int64_t window_id = 0;
  const int w = r.windows_per_track;
  for (int64_t first = 0; first < r.tracks; first += kTracksPerImport) {
    const int64_t n = std::min(kTracksPerImport, r.tracks - first);
    const std::vector<float> e = search::synthetic_embeddings_range(first * w, n * w, r.dim, data, 0);
    std::vector<store::TrackCopy> copies(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = first + i;
      store::TrackCopy& c = copies[static_cast<size_t>(i)];
      c.track.id = t + 1;
      char name[32];
      std::snprintf(name, sizeof name, "%08lld.flac", static_cast<long long>(t));
      c.track.path = std::string("/synthetic/") + name;
      c.track.size = 1;
      c.track.title = "Track " + std::to_string(t);
      c.track.duration_s = 5.0 * (w + 1);
      c.track.indexed_at = 1;
      const float* te = e.data() + i * w * r.dim;
      for (int j = 0; j < w; ++j) {
        store::WindowRecord rec;
        rec.id = ++window_id;
        rec.track_id = c.track.id;
        rec.idx = j;
        rec.start_s = 5.0 * j;
        rec.end_s = 5.0 * j + 10;
        rec.loudness_dbfs = -20;
        rec.embedding.assign(te + j * r.dim, te + (j + 1) * r.dim);
        c.windows.push_back(std::move(rec));
      }
      c.embedding = track_embedding(w, r.dim, te, nullptr);
    }
    st.import_tracks(copies);
    if (r.progress && ((first / kTracksPerImport) % 40 == 0 || first + n == r.tracks))
      r.progress("loading synthetic library: " + std::to_string(first + n) + "/" + std::to_string(r.tracks) + " tracks");
  }
  import->commit();
  return window_id;
}

// The k best (score desc, id asc) of one query, kept while a scan goes by.
struct TopK {
  std::vector<std::pair<float, int64_t>> items;  // sorted best first
  void offer(float score, int64_t id, size_t k) {
    auto better = [](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    const std::pair<float, int64_t> item{score, id};
    if (items.size() == k && !better(item, items.back())) return;
    items.insert(std::upper_bound(items.begin(), items.end(), item, better), item);
    if (items.size() > k) items.pop_back();
  }
};

}  // namespace

// --index-file names a file of the user's: it may replace an earlier run's compressed index (and
// the norms beside it), nothing else. The save replaces whatever is at a name the program derives
// (its cache), and this one went the same way: `--index-file library.db` (or a song) was
// replaced by the compressed index, exit status 0: the index's users, plays and playlists gone
// (hostile pass 21, H21C-2). Its folder is not made either, as for --db. Checked before the hours
// a large library's build may take.
static void check_named_index_file(const std::string& path) {
  namespace fs = std::filesystem;
  // The magic numbers of search/compressed_index.cpp and search/track_norms.cpp.
  const std::pair<std::string, std::string> files[] = {{path, "CLAPCIDX"}, {path + ".norms", "CLAPNRM1"}};
  for (const auto& [file, magic] : files) {
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(file, ec);
    if (!fs::exists(st)) continue;
    if (!fs::is_regular_file(st) || read_file_head(file, magic.size()) != magic)
      throw Error(file + ": --index-file: there is a file there that is not an earlier --scale run's compressed index" +
                  (file == path ? "" : " norms") + "; it is never replaced: name another file");
  }
  const fs::path folder = fs::path(path).parent_path();
  std::error_code ec;
  if (!folder.empty() && !fs::is_directory(folder, ec))
    throw Error(path + ": --index-file: the folder " + folder.string() + " does not exist");
}

ScaleBenchReport run_scale_bench(const ScaleBenchRequest& r) {
  if (!r.index_path.empty()) check_named_index_file(r.index_path);
  if (r.tracks <= 0 || r.windows_per_track <= 0 || r.dim <= 0 || r.queries <= 0 || r.k <= 0)
    throw Error("bench --scale: tracks, windows per track, dimension, queries and k must be positive");
  if (r.nprobes.empty() || r.shortlists.empty() || r.refines.empty()) throw Error("bench --scale: no nprobe or shortlist to measure");
  auto progress = [&r](const std::string& s) {
    if (r.progress) r.progress(s);
  };
  search::SyntheticData data;
  data.windows_per_track = r.windows_per_track;
  const store::ModelIdentity identity = synthetic_identity(r, data);
  const std::string location = store::resolve_location(r.db);
  auto st = store::open_store(location, store::OpenMode::ReadWrite);
  ScaleBenchReport rep;
  rep.store = store::is_server_location(location) ? "postgresql" : "sqlite";
  rep.k = r.k;

  // 1. The synthetic library: loaded here, or found from an earlier run.
  const auto held = st->model();
  if (!held) {
    if (st->counts().tracks > 0 || !st->roots().empty())
      throw Error(store::display_location(location) + ": not empty; bench --scale fills an empty database only");
    const auto t = Clock::now();
    rep.windows = load_synthetic(*st, r, data, identity);
    rep.load_s = seconds_since(t);
    rep.loaded = true;
  } else if (!held->mismatch(identity).empty() || held->config_hash != identity.config_hash) {
    throw Error(store::display_location(location) + ": holds " +
                (held->id == kModelId ? "a synthetic library of other parameters (" + held->config_hash + ")"
                                      : "an index of " + held->id) +
                "; bench --scale fills an empty database only (or measures the one it filled before)");
  }
  rep.tracks = st->counts().tracks;
  if (rep.tracks != r.tracks)
    throw Error(store::display_location(location) + ": holds " + std::to_string(rep.tracks) + " synthetic tracks, not " +
                std::to_string(r.tracks) + " (an interrupted load?); give an empty database");

  const std::vector<float> queries = search::synthetic_embeddings_range(0, r.queries, r.dim, data, 1);

  // 2. The build, as a search node does it: ids, a spread sample by id, training, one scan.
  auto t = Clock::now();
  const std::vector<int64_t> ids = st->active_window_ids();
  rep.ids_s = seconds_since(t);
  rep.windows = static_cast<int64_t>(ids.size());
  progress("building the compressed index over " + std::to_string(rep.windows) + " windows");
  t = Clock::now();
  Embeddings sample = read_training_sample(*st, ids, search::compressed_train_size(r.index, rep.windows));
  sample.dim = r.dim;
  rep.sample_s = seconds_since(t);
  rep.train_points = sample.size();
  progress("training on " + std::to_string(sample.size()) + " windows");
  t = Clock::now();
  search::CompressedIndex index = search::CompressedIndex::train(sample, rep.windows, r.index);
  rep.train_s = seconds_since(t);
  sample = Embeddings{};
  rep.nlist = index.nlist();
  rep.code_bytes = index.code_bytes();
  rep.refine_bytes = index.refine_bytes();

  std::vector<TopK> truth(static_cast<size_t>(r.queries));
  std::vector<float> scores;
  int64_t scanned = 0;
  // The same scan measures each track's centroid norm (compressed_windows.h), so that the files
  // saved below are what a search node builds: `serve --window-index compressed` loads them.
  const int64_t generation = st->library_generation();
  const store::ModelIdentity held_identity = *st->model();
  std::vector<int64_t> norm_ids, track_ids;
  std::vector<float> norms;
  t = Clock::now();
  {
    const Embeddings tracks = st->track_embeddings();
    track_ids = tracks.ids;
    CentroidNorms centroid_norms(tracks);
    st->scan_window_embeddings(kScanBatch, [&](const WindowTable& w) {
      index.add(window_vectors(w));
      centroid_norms.add(w);
      const auto g = Clock::now();
      scores.resize(static_cast<size_t>(r.queries * w.size()));
      search::score_rows(r.queries, queries.data(), w.embeddings.data(), nullptr, w.size(), r.dim, scores.data());
      for (int64_t q = 0; q < r.queries; ++q)
        for (int64_t i = 0; i < w.size(); ++i)
          truth[static_cast<size_t>(q)].offer(scores[q * w.size() + i], w.window_ids[i], static_cast<size_t>(r.k));
      rep.ground_truth_s += seconds_since(g);
      scanned += w.size();
      if (r.progress && (scanned / kScanBatch) % 100 == 0)
        r.progress("scanned " + std::to_string(scanned) + "/" + std::to_string(rep.windows) + " windows");
      return true;
    });
    centroid_norms.finish(norm_ids, norms);
  }
  rep.scan_add_s = seconds_since(t);
  if (index.size() != rep.windows)
    throw Error(store::display_location(location) + ": the scan gave " + std::to_string(index.size()) + " windows, " +
                std::to_string(rep.windows) + " expected (was the library written meanwhile?)");

  // 3. Persisted and read back, as a restarted node does (where it looks: a server store's file
  // is named after its database's key id).
  const std::string path = !r.index_path.empty() ? r.index_path
                                                 : prepared_window_index_path(location, window_index_key_id(*st), true);
  std::error_code ec;
  if (const auto parent = std::filesystem::path(path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);  // a failure shows as the save's error
  t = Clock::now();
  index.save(path, generation);
  search::TrackNorms saved_norms;
  saved_norms.generation = generation;
  saved_norms.identity = compressed_identity_key(held_identity);
  saved_norms.trained_windows = rep.windows;
  saved_norms.ids = std::move(norm_ids);
  saved_norms.norms = std::move(norms);
  search::save_track_norms(path + ".norms", saved_norms);
  rep.save_s = seconds_since(t);
  rep.file_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  index = search::CompressedIndex();
  t = Clock::now();
  index = search::CompressedIndex::load(path);
  rep.reload_s = seconds_since(t);
  rep.index_bytes = index.memory_bytes();
  rep.rss_mb = rss_mb();

  // 4. Warm single queries: one pass to warm, one timed, per nprobe.
  double fetch_s = 0;
  const search::VectorFetch fetch = [&](const std::vector<int64_t>& want) {
    const auto f = Clock::now();
    Embeddings e = window_vectors(st->window_embeddings(want));
    fetch_s += seconds_since(f);
    return e;
  };
  for (int nprobe : r.nprobes)
  for (int refine : r.refines)
  for (int shortlist : r.shortlists) {
    if (refine > 0 && (rep.refine_bytes == 0 || refine < shortlist)) continue;  // the same as refine 0, or no row
    search::CompressedSearchParams p;
    p.nprobe = nprobe;
    p.refine = refine;
    p.shortlist = std::max(shortlist, r.k);
    for (int64_t q = 0; q < r.queries; ++q) index.search(1, queries.data() + q * r.dim, r.k, p, fetch);
    fetch_s = 0;
    std::vector<double> ms;
    double hits = 0;
    for (int64_t q = 0; q < r.queries; ++q) {
      const auto s = Clock::now();
      const search::SearchResult got = index.search(1, queries.data() + q * r.dim, r.k, p, fetch);
      ms.push_back(seconds_since(s) * 1000);
      std::unordered_set<int64_t> exact;
      for (const auto& item : truth[static_cast<size_t>(q)].items) exact.insert(item.second);
      for (int64_t j = 0; j < got.k; ++j) hits += got.ids[j] >= 0 && exact.count(got.ids[j]);
    }
    ScaleBenchQueries res;
    res.nprobe = nprobe;
    res.refine = refine;
    res.shortlist = p.shortlist;
    res.p50_ms = search::percentile(ms, 0.50);
    res.p99_ms = search::percentile(ms, 0.99);
    res.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
    res.fetch_mean_ms = fetch_s * 1000 / static_cast<double>(r.queries);
    res.recall = hits / static_cast<double>(r.queries * std::min<int64_t>(r.k, rep.windows));
    rep.results.push_back(res);
    progress("nprobe " + std::to_string(nprobe) + ", refine " + std::to_string(refine) + ", shortlist " + std::to_string(p.shortlist) + ": p99 " + std::to_string(res.p99_ms) + " ms, recall@" +
             std::to_string(r.k) + " " + std::to_string(res.recall));
  }
  if (r.filter_share > 0) {
    // Every n-th track, spread over the library as a tag filter's matches would be.
    const auto step = static_cast<size_t>(std::max(1.0, std::round(1 / r.filter_share)));
    std::vector<int64_t> allowed;
    for (size_t i = 0; i < track_ids.size(); i += step) allowed.push_back(track_ids[i]);
    rep.filtered_tracks = static_cast<int64_t>(allowed.size());
    search::TextSearchOptions o;
    o.k = r.k;
    std::vector<double> ms;
    double read_s = 0;
    for (int pass = 0; pass < 2; ++pass) {  // one to warm, one timed
      ms.clear();
      read_s = 0;
      for (int64_t q = 0; q < r.queries; ++q) {
        const auto s = Clock::now();
        search::Catalog catalog(st->track_window_embeddings(allowed));
        read_s += seconds_since(s);
        search::text_search_exhaustive(catalog, 1, queries.data() + q * r.dim, o);
        ms.push_back(seconds_since(s) * 1000);
        rep.filtered_windows = catalog.window_count();
      }
    }
    ScaleBenchQueries& f = rep.filtered;
    f.p50_ms = search::percentile(ms, 0.50);
    f.p99_ms = search::percentile(ms, 0.99);
    f.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
    f.fetch_mean_ms = read_s * 1000 / static_cast<double>(r.queries);
    f.recall = 1;
    progress("filtered (" + std::to_string(rep.filtered_tracks) + " tracks, " + std::to_string(rep.filtered_windows) +
             " windows): p99 " + std::to_string(f.p99_ms) + " ms");
  }
  rep.peak_rss_mb = peak_rss_mb();
  return rep;
}

}  // namespace clap::service
