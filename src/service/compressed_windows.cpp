#include "service/compressed_windows.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "search/track_norms.h"
#include "service/window_index.h"

namespace clap::service {

namespace {

constexpr int64_t kSampleBatch = 4096;  // windows read by id at a time (training sample)
constexpr int64_t kScanBatch = 8192;    // windows per scan batch
constexpr size_t kChangedBatch = 512;   // changed tracks read at a time

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::string compressed_identity_key(const store::ModelIdentity& m) {
  return m.model_key() + " " + m.describe() + " " + m.precision;
}

void CentroidNorms::add(const WindowTable& w) {
  for (int64_t i = 0; i < w.size(); ++i) {
    const auto it = std::lower_bound(tracks_.ids.begin(), tracks_.ids.end(), w.track_ids[i]);
    if (it == tracks_.ids.end() || *it != w.track_ids[i]) continue;  // no track embedding: never a Mean candidate
    const float* e = tracks_.row(it - tracks_.ids.begin());
    const float* x = w.embeddings.data() + i * w.dim;
    double dot = 0;
    for (int j = 0; j < w.dim; ++j) dot += static_cast<double>(x[j]) * e[j];
    auto& s = sums_[w.track_ids[i]];
    s.first += dot;
    s.second += 1;
  }
}

void CentroidNorms::finish(std::vector<int64_t>& ids, std::vector<float>& norms) const {
  std::vector<std::pair<int64_t, float>> v;
  v.reserve(sums_.size());
  for (const auto& [id, s] : sums_) v.emplace_back(id, static_cast<float>(s.first / static_cast<double>(s.second)));
  std::sort(v.begin(), v.end());
  ids.clear();
  norms.clear();
  for (const auto& [id, n] : v) ids.push_back(id), norms.push_back(n);
}

Embeddings read_training_sample(const store::Store& st, const std::vector<int64_t>& ids, int64_t count) {
  Embeddings sample;
  const std::vector<int64_t> picked = search::spread_sample(ids, count);
  for (size_t at = 0; at < picked.size(); at += kSampleBatch) {
    const std::vector<int64_t> part(picked.begin() + static_cast<ptrdiff_t>(at),
                                    picked.begin() + static_cast<ptrdiff_t>(std::min(picked.size(), at + kSampleBatch)));
    const WindowTable w = st.window_embeddings(part);
    sample.dim = w.dim;
    sample.ids.insert(sample.ids.end(), w.window_ids.begin(), w.window_ids.end());
    sample.data.insert(sample.data.end(), w.embeddings.begin(), w.embeddings.end());
  }
  return sample;
}

WindowIndexMode parse_window_index_mode(const std::string& name) {
  if (name == "auto") return WindowIndexMode::Auto;
  if (name == "memory") return WindowIndexMode::Memory;
  if (name == "compressed") return WindowIndexMode::Compressed;
  throw Error("window index mode must be auto, memory or compressed, not '" + name + "'");
}

CompressedWindows::~CompressedWindows() = default;

std::shared_ptr<CompressedWindows> CompressedWindows::open(store::Store& st, const std::string& location,
                                                           const store::ModelIdentity& identity,
                                                           const std::function<Embeddings()>& read_tracks,
                                                           int64_t library_windows, const Notice& note, const Notice& warn) {
  auto say = [&note](const std::string& s) {
    if (note) note(s);
  };
  std::shared_ptr<CompressedWindows> cw(new CompressedWindows);
  const std::string path = prepared_window_index_path(location, window_index_key_id(st), true);
  cw->path_ = path;
  cw->identity_key_ = compressed_identity_key(identity);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cw->path_).parent_path(), ec);  // a failure shows at save
  try {
    if (cw->load()) {
      const int64_t was = cw->generation_;
      if (cw->update(st, library_windows)) {
        say("compressed window index " + cw->path_ + ": loaded, " + std::to_string(cw->size()) + " windows" +
            (cw->generation_ != was ? " (brought up to date)" : ""));
        if (cw->changed_since_save_ > 0) cw->save(warn);
        return cw;
      }
      say("compressed window index " + cw->path_ + ": out of date, building it again");
    }
  } catch (const Error& e) {
    if (warn) warn("compressed window index " + cw->path_ + " not used (building it again): " + e.what());
  }
  cw = std::shared_ptr<CompressedWindows>(new CompressedWindows);
  cw->path_ = path;
  cw->identity_key_ = compressed_identity_key(identity);

  // The build, as `clapsearch bench --scale` measures it: the ids, a training sample spread
  // over them and read by id, training, then one scan adding every window.
  const auto start = std::chrono::steady_clock::now();
  cw->generation_ = st.library_generation();  // the caller's read scope: the state scanned below
  const std::vector<int64_t> ids = st.active_window_ids();
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n < kCompressedMinWindows)
    throw TooFewWindows("a compressed window index needs at least " + std::to_string(kCompressedMinWindows) + " windows, the index has " +
                std::to_string(n));
  if (warn && n >= 1'000'000)
    warn("building the compressed window index over " + std::to_string(n) + " windows (once; kept in " + cw->path_ + ")");
  search::CompressedIndexOptions options;
  options.refine_bytes = kNodeSecondCodeBytes;
  Embeddings sample = read_training_sample(st, ids, search::compressed_train_size(options, n));
  say("compressed window index: training on " + std::to_string(sample.size()) + " of " + std::to_string(n) + " windows");
  cw->index_ = search::CompressedIndex::train(sample, n, options);
  sample = Embeddings{};
  const Embeddings tracks = read_tracks();  // float32, for the centroid norms; freed after the build
  CentroidNorms sums(tracks);
  int64_t scanned = 0;
  st.scan_window_embeddings(kScanBatch, [&](const WindowTable& w) {
    cw->index_.add(window_vectors(w));
    sums.add(w);
    scanned += w.size();
    if ((scanned / kScanBatch) % 128 == 0) say("compressed window index: " + std::to_string(scanned) + "/" + std::to_string(n) + " windows");
    return true;
  });
  sums.finish(cw->norm_ids_, cw->norms_);
  cw->trained_windows_ = n;
  say("compressed window index " + cw->path_ + ": built over " + std::to_string(cw->size()) + " windows in " +
      std::to_string(static_cast<int>(seconds_since(start))) + " s");
  cw->save(warn);
  return cw;
}

bool CompressedWindows::update(store::Store& st, int64_t library_windows) {
  std::unique_lock lock(mutex_);
  const std::optional<store::LibraryChanges> changes = st.changes_since(generation_);
  if (!changes) return false;
  if (changes->library_generation == generation_) return true;
  // Removed and re-embedded tracks leave their old windows in the lists; past a quarter of the
  // index, or past four times the library trained on, building again is better. (The lists
  // hold the searchable windows, the library count includes silent ones: stale windows are
  // undercounted by those, never overcounted.)
  if (library_windows > 4 * trained_windows_ ||
      index_.size() - library_windows > std::max<int64_t>(1000, library_windows / 4))
    return false;

  std::vector<int64_t> removed_tracks = changes->removed;
  std::vector<int64_t> new_ids;
  std::vector<float> new_norms;
  const std::vector<int64_t>& changed = changes->changed;
  for (size_t at = 0; at < changed.size(); at += kChangedBatch) {
    const std::vector<int64_t> part(changed.begin() + static_cast<ptrdiff_t>(at),
                                    changed.begin() + static_cast<ptrdiff_t>(std::min(changed.size(), at + kChangedBatch)));
    const WindowTable w = st.track_window_embeddings(part);  // by track, then window index
    // A window id the store gave again after its track was removed: its old code goes first.
    Embeddings batch = window_vectors(w);
    std::vector<size_t> order(static_cast<size_t>(batch.size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return batch.ids[a] < batch.ids[b]; });
    Embeddings sorted;
    sorted.dim = batch.dim;
    for (size_t i : order) {
      sorted.ids.push_back(batch.ids[i]);
      sorted.data.insert(sorted.data.end(), batch.row(static_cast<int64_t>(i)), batch.row(static_cast<int64_t>(i)) + batch.dim);
    }
    index_.update(sorted.ids, sorted);
    changed_since_save_ += sorted.size();
    const Embeddings tracks = st.track_embeddings(part);
    CentroidNorms sums(tracks);
    sums.add(w);
    std::vector<int64_t> ids;
    std::vector<float> norms;
    sums.finish(ids, norms);
    new_ids.insert(new_ids.end(), ids.begin(), ids.end());
    new_norms.insert(new_norms.end(), norms.begin(), norms.end());
    // A changed track without searchable windows now (an error, silent) loses its norm.
    removed_tracks.insert(removed_tracks.end(), part.begin(), part.end());
  }
  // Norms: the old ones of untouched tracks, merged with the new ones (both ascending).
  std::sort(removed_tracks.begin(), removed_tracks.end());
  std::vector<int64_t> ids;
  std::vector<float> norms;
  ids.reserve(norm_ids_.size() + new_ids.size());
  norms.reserve(ids.capacity());
  size_t a = 0;
  for (size_t i = 0; i < norm_ids_.size(); ++i) {
    if (std::binary_search(removed_tracks.begin(), removed_tracks.end(), norm_ids_[i])) continue;
    while (a < new_ids.size() && new_ids[a] < norm_ids_[i]) ids.push_back(new_ids[a]), norms.push_back(new_norms[a++]);
    ids.push_back(norm_ids_[i]);
    norms.push_back(norms_[i]);
  }
  while (a < new_ids.size()) ids.push_back(new_ids[a]), norms.push_back(new_norms[a++]);
  norm_ids_ = std::move(ids);
  norms_ = std::move(norms);
  generation_ = changes->library_generation;
  changed_since_save_ += static_cast<int64_t>(changes->removed.size());
  lock.unlock();
  if (changed_since_save_ > std::max<int64_t>(10000, index_.size() / 100)) save({});
  return true;
}

void CompressedWindows::forget() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  std::filesystem::remove(path_ + ".norms", ec);
}

int64_t CompressedWindows::generation() const {
  std::shared_lock lock(mutex_);
  return generation_;
}

int64_t CompressedWindows::size() const {
  std::shared_lock lock(mutex_);
  return index_.size();
}

int CompressedWindows::refine_bytes() const {
  std::shared_lock lock(mutex_);
  return index_.refine_bytes();
}

int64_t CompressedWindows::memory_bytes() const {
  std::shared_lock lock(mutex_);
  return index_.memory_bytes() + static_cast<int64_t>(norm_ids_.size() * (sizeof(int64_t) + sizeof(float)));
}

std::vector<int64_t> CompressedWindows::shortlist(const float* query, const search::CompressedSearchParams& params) const {
  std::shared_lock lock(mutex_);
  return index_.shortlist(query, params);
}

float CompressedWindows::centroid_norm(int64_t track_id) const {
  std::shared_lock lock(mutex_);
  const auto it = std::lower_bound(norm_ids_.begin(), norm_ids_.end(), track_id);
  return it == norm_ids_.end() || *it != track_id ? 0.0f : norms_[static_cast<size_t>(it - norm_ids_.begin())];
}

// --- files -----------------------------------------------------------------------------------
// The index: CompressedIndex's file, its content key = the library generation it holds; the
// norms: search/track_norms.h, stamped with the same generation.

void CompressedWindows::save(const Notice& warn) {
  std::shared_lock lock(mutex_);
  try {
    index_.save(path_, generation_);
    search::TrackNorms t;
    t.generation = generation_;
    t.identity = identity_key_;
    t.trained_windows = trained_windows_;
    t.ids = norm_ids_;
    t.norms = norms_;
    search::save_track_norms(path_ + ".norms", t);
    changed_since_save_ = 0;
  } catch (const Error& e) {
    // Searching goes on; the next start builds it again.
    if (warn) warn(std::string("compressed window index not saved: ") + e.what());
  }
}

bool CompressedWindows::load() {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return false;
  search::IndexHeader header;
  search::CompressedIndex index = search::CompressedIndex::load(path_, &header);
  search::TrackNorms t = search::load_track_norms(path_ + ".norms");
  if (t.identity != identity_key_ || t.generation != header.content_key) return false;  // another model, or a half-saved pair
  std::unique_lock lock(mutex_);
  index_ = std::move(index);
  norm_ids_ = std::move(t.ids);
  norms_ = std::move(t.norms);
  generation_ = t.generation;
  trained_windows_ = t.trained_windows;
  return true;
}

}  // namespace clap::service
