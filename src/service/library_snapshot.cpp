// LibrarySnapshot: what a query reads (tracks, labels, roots, the window catalog and its
// vector index, the track embeddings, compressed mode's parts), loaded on first use or all at
// once (load_all), or made from the previous snapshot plus the store's changes (load_delta).
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>

#include "core/embedding_rows.h"
#include "core/error.h"
#include "index/crawl.h"
#include "service/library_internal.h"
#include "service/filters.h"
#include "service/music_catalog.h"
#include "service/window_index.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Why no track can be searched. Files still queued for workers (a PostgreSQL index planned with
// `index --plan`, or a worker that stopped holding jobs) have not failed: "none indexed
// successfully" sent the user looking for errors that were not there (hostile pass 22).
std::string no_searchable(StoreAccess& store, const std::string& db) {
  store::JobCounts jobs;
  try {
    std::lock_guard lock(store.mutex);
    jobs = store.held().job_counts();
  } catch (const std::exception&) {  // the reason below stands without the counts
  }
  if (jobs.open() > 0)
    return db + ": no track is searchable yet: " + std::to_string(jobs.pending) + " file(s) wait for a worker and " +
           std::to_string(jobs.leased) + " are being embedded (`clapsearch worker --db " + db +
           "` embeds them; `clapsearch status --db " + db + "` shows how far they are)";
  return db + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " + db + "`";
}

}  // namespace

struct LibrarySnapshot::Parts {
  std::once_flag tracks_once, catalog_once, index_once, searcher_once, embeddings_once, map_once, compressed_once,
      quantized_once, songs_once, music_once, codes_once;
  std::vector<store::Track> tracks;
  std::vector<std::string> roots;
  // Positions in `tracks` ordered by id and by path (binary searched): 16 bytes a track, where
  // two std::maps (a copy of every path included) took 0.24 GB more at a million tracks.
  std::vector<size_t> by_id, by_path;
  std::map<int64_t, std::vector<store::TrackLabel>> labels;
  std::shared_ptr<const search::Catalog> catalog;  // null: nothing searchable
  std::unique_ptr<search::VectorIndex> window_index;  // reads (and shares) the catalog's embeddings
  std::unique_ptr<search::TextSearcher> searcher;
  std::unique_ptr<Embeddings> track_embeddings;  // compressed mode: read only when a query needs all of them
  std::unique_ptr<search::QuantizedTracks> quantized;  // compressed mode
  // Memory mode: the 8-bit copy of track_embeddings (track_codes()), made on first use.
  std::unique_ptr<search::QuantizedTracks> track_codes;
  std::atomic<bool> codes_made{false};
  std::unique_ptr<search::Projection2D> map;
  std::unique_ptr<SongIndex> songs;
  std::unique_ptr<MusicCatalog> music;
  std::shared_ptr<const CompressedWindows> compressed;  // compressed mode only
  std::vector<float> centroid_norms;                    // per quantized row, compressed mode
  std::atomic<bool> compressed_ready{false};
  std::atomic<bool> music_made{false};  // music_catalog() was made
  // tracks_matching(): per rule text; a rule's list never changes once made (node-based map:
  // references handed out stay valid while others are added).
  std::mutex matching_mutex;
  std::map<std::string, std::vector<int64_t>> matching;
  std::atomic<bool> complete{false};  // every part loaded (load_all, load_delta)
};

LibrarySnapshot::LibrarySnapshot(std::shared_ptr<StoreAccess> store, std::string db_path, store::ModelIdentity identity,
                                 Notice note, Notice warn, std::shared_ptr<CompressedSlot> compressed)
    : store_(std::move(store)),
      db_path_(std::move(db_path)),
      identity_(std::move(identity)),
      note_(std::move(note)),
      warn_(std::move(warn)),
      compressed_slot_(std::move(compressed)),
      parts_(std::make_unique<Parts>()) {
  std::lock_guard lock(store_->mutex);
  generation_ = store_->held().library_generation();
}

LibrarySnapshot::~LibrarySnapshot() = default;

LibrarySnapshot::Parts& LibrarySnapshot::parts() const { return *parts_; }

void LibrarySnapshot::note(const std::string& message) const {
  if (note_) note_(message);
}

// Positions of `tracks` ordered by id and by path (usually already in path order: the store's).
static void index_tracks(const std::vector<store::Track>& tracks, std::vector<size_t>& by_id, std::vector<size_t>& by_path) {
  by_id.resize(tracks.size());
  for (size_t i = 0; i < tracks.size(); ++i) by_id[i] = i;
  by_path = by_id;
  std::sort(by_id.begin(), by_id.end(), [&](size_t a, size_t b) { return tracks[a].id < tracks[b].id; });
  const auto path_less = [&](size_t a, size_t b) { return tracks[a].path < tracks[b].path; };
  if (!std::is_sorted(by_path.begin(), by_path.end(), path_less)) std::sort(by_path.begin(), by_path.end(), path_less);
}

// Reads the track list, roots and labels (the caller holds the store lock).
static void read_tracks(store::Store& store, std::vector<store::Track>& tracks, std::vector<std::string>& roots,
                        std::map<int64_t, std::vector<store::TrackLabel>>& labels, std::vector<size_t>& by_id,
                        std::vector<size_t>& by_path) {
  tracks = store.tracks();
  roots = store.roots();
  for (auto& l : store.all_labels()) labels[l.track_id].push_back(l);
  index_tracks(tracks, by_id, by_path);
}

void LibrarySnapshot::load_all() const {
  {
    // Everything read from the store comes from one committed state.
    std::lock_guard lock(store_->mutex);
    const auto scope = store_->held().read_scope();
    generation_ = store_->held().library_generation();  // the state read below
    Parts& p = parts();
    std::call_once(p.tracks_once,
                   [&] { read_tracks(store_->held(), p.tracks, p.roots, p.labels, p.by_id, p.by_path); });
    if (!compressed_held(store_->held())) {
      load_embeddings_held(store_->held());
      load_catalog_held(store_->held());
    }
  }
  if (!compressed() && searchable()) {
    window_index();
    text_searcher();
  }
  parts().complete = true;
}

bool LibrarySnapshot::load_delta(const LibrarySnapshot& previous, RefreshInfo* info) {
  const Parts& old = previous.parts();
  if (!old.complete) return false;
  Parts& p = parts();
  const auto start = std::chrono::steady_clock::now();
  {
    // Everything read from the store comes from one committed state: the changes and the rows.
    std::lock_guard lock(store_->mutex);
    store::Store& st = store_->held();
    const auto scope = st.read_scope();
    const std::optional<store::LibraryChanges> changes = st.changes_since(previous.library_generation());
    if (!changes) return false;
    const std::vector<int64_t>& changed = changes->changed;  // ascending
    const size_t touched_count = changed.size() + changes->removed.size();
    if (touched_count > std::max<size_t>(64, old.tracks.size() / 4)) return false;
    const std::set<int64_t> touched = [&] {
      std::set<int64_t> t(changed.begin(), changed.end());
      t.insert(changes->removed.begin(), changes->removed.end());
      return t;
    }();
    generation_ = changes->library_generation;

    // Tracks (by path, as Store::tracks), labels, roots.
    std::map<int64_t, store::Track> fresh;  // the changed tracks as they are now
    for (int64_t id : changed)
      if (auto t = st.track(id)) fresh.emplace(id, std::move(*t));
    std::call_once(p.tracks_once, [&] {
      std::vector<store::Track> added;
      for (const auto& [id, t] : fresh) added.push_back(t);
      std::sort(added.begin(), added.end(), [](const store::Track& a, const store::Track& b) { return a.path < b.path; });
      p.tracks.reserve(old.tracks.size() + added.size());
      auto a = added.begin();
      for (const auto& t : old.tracks) {
        if (touched.count(t.id)) continue;
        while (a != added.end() && a->path < t.path) p.tracks.push_back(std::move(*a++));
        p.tracks.push_back(t);
      }
      while (a != added.end()) p.tracks.push_back(std::move(*a++));
      index_tracks(p.tracks, p.by_id, p.by_path);
      p.roots = changes->roots_changed ? st.roots() : old.roots;
      for (const auto& [id, labels] : old.labels)
        if (!touched.count(id)) p.labels.emplace(id, labels);
      for (const auto& [id, t] : fresh) {
        auto labels = st.labels(id);  // by score descending, then label: as all_labels per track
        if (!labels.empty()) p.labels.emplace(id, std::move(labels));
      }
    });

    // Track embeddings, ids ascending: in compressed mode the 8-bit ones (the float32 ones are
    // read when a query needs them all), else the float32 ones.
    if (old.quantized) {
      std::call_once(p.quantized_once, [&] {
        p.quantized = std::make_unique<search::QuantizedTracks>(search::QuantizedTracks::merge(
            *old.quantized, [&](int64_t id) { return !touched.count(id); }, st.track_embeddings(changed)));
      });
    } else {
      const Embeddings added = st.track_embeddings(changed);
      std::call_once(p.embeddings_once, [&] {
        const Embeddings& o = *old.track_embeddings;
        auto e = std::make_unique<Embeddings>();
        e->dim = added.dim;
        e->ids.reserve(o.ids.size() + added.ids.size());
        e->data.reserve(o.data.size() + added.data.size());
        size_t a = 0;
        auto take = [&](const Embeddings& from, size_t i) {
          e->ids.push_back(from.ids[i]);
          e->data.insert(e->data.end(), from.row(static_cast<int64_t>(i)), from.row(static_cast<int64_t>(i)) + from.dim);
        };
        for (size_t i = 0; i < o.ids.size(); ++i) {
          if (touched.count(o.ids[i])) continue;
          while (a < added.ids.size() && added.ids[a] < o.ids[i]) take(added, a++);
          take(o, i);
        }
        while (a < added.ids.size()) take(added, a++);
        e->check("track embeddings of " + db_path_);
        p.track_embeddings = std::move(e);
      });
      // The 8-bit copy, when the previous snapshot made one: its untouched rows kept, the
      // changed ones quantized (the same rows as quantizing the merged float32 ones).
      if (old.codes_made) {
        std::call_once(p.codes_once, [&] {
          p.track_codes = std::make_unique<search::QuantizedTracks>(search::QuantizedTracks::merge(
              *old.track_codes, [&](int64_t id) { return !touched.count(id); }, added));
          p.codes_made = true;
        });
      }
    }
    // In compressed mode the snapshot holds no catalog (catalog() reads one when asked).
    if (!compressed_held(st)) {
      // The window catalog: the rows Store::window_embeddings reads (non-silent windows with an
      // embedding, of ok tracks), in its order (track id, then window index). The previous table
      // holds them in that order, each track's rows together: its rows of untouched tracks are
      // kept, a changed track's rows are read and put in its place.
      std::call_once(p.catalog_once, [&] {
        WindowTable t;
        t.dim = dim();
        auto add_changed = [&](int64_t id) {
          auto it = fresh.find(id);
          if (it == fresh.end() || it->second.status != store::TrackStatus::Ok) return;
          for (const auto& w : st.windows(id)) {
            if (w.silent || w.embedding.empty()) continue;
            if (static_cast<int>(w.embedding.size()) != t.dim)
              throw Error(db_path_ + ": window " + std::to_string(w.id) + " has an embedding of size " +
                          std::to_string(w.embedding.size()) + ", not " + std::to_string(t.dim));
            t.embeddings.insert(t.embeddings.end(), w.embedding.begin(), w.embedding.end());
            t.window_ids.push_back(w.id);
            t.track_ids.push_back(id);
            t.starts.push_back(w.start_s);
            t.ends.push_back(w.end_s);
          }
        };
        size_t next = 0;  // into `changed`
        if (old.catalog) {
          const WindowTable& o = old.catalog->table();
          const size_t d = static_cast<size_t>(o.dim);
          t.embeddings.reserve(o.embeddings.size());
          t.window_ids.reserve(o.window_ids.size());
          t.track_ids.reserve(o.track_ids.size());
          t.starts.reserve(o.starts.size());
          t.ends.reserve(o.ends.size());
          for (int64_t r = 0; r < o.size(); ++r) {
            const int64_t track = o.track_ids[r];
            while (next < changed.size() && changed[next] < track) add_changed(changed[next++]);
            if (touched.count(track)) continue;
            t.embeddings.insert(t.embeddings.end(), o.embeddings.begin() + static_cast<long>(r * d),
                                o.embeddings.begin() + static_cast<long>((r + 1) * d));
            t.window_ids.push_back(o.window_ids[r]);
            t.track_ids.push_back(track);
            t.starts.push_back(o.starts[r]);
            t.ends.push_back(o.ends[r]);
          }
        }
        while (next < changed.size()) add_changed(changed[next++]);
        if (t.size() > 0) p.catalog = std::make_shared<const search::Catalog>(std::move(t));
      });
    }
    if (info) {
      info->incremental = true;
      info->changed = static_cast<int64_t>(changed.size());
      info->removed = static_cast<int64_t>(changes->removed.size());
      info->read_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
  }
  // The window vector index: load_window_index compares its content key and updates the
  // persisted file for the windows added and removed.
  if (!compressed() && searchable()) {
    window_index();
    text_searcher();
  }
  p.complete = true;
  return true;
}

const std::vector<store::Track>& LibrarySnapshot::tracks() const {
  Parts& p = parts();
  std::call_once(p.tracks_once, [&] {
    std::lock_guard lock(store_->mutex);
    read_tracks(store_->live(), p.tracks, p.roots, p.labels, p.by_id, p.by_path);
  });
  return p.tracks;
}

const std::vector<std::string>& LibrarySnapshot::roots() const {
  tracks();
  return parts().roots;
}

const store::Track* LibrarySnapshot::track(int64_t id) const {
  const auto& all = tracks();
  const auto& by_id = parts().by_id;
  const auto it = std::lower_bound(by_id.begin(), by_id.end(), id, [&](size_t pos, int64_t v) { return all[pos].id < v; });
  return it != by_id.end() && all[*it].id == id ? &all[*it] : nullptr;
}

const store::Track* LibrarySnapshot::find_track(const std::string& id_or_path) const {
  const auto& all = tracks();
  if (is_integer(id_or_path))
    if (const store::Track* t = track(std::stoll(id_or_path))) return t;
  if (id_or_path.empty()) return nullptr;
  const auto& by_path = parts().by_path;
  auto at_path = [&](const std::string& path) -> const store::Track* {
    const auto it = std::lower_bound(by_path.begin(), by_path.end(), path,
                                     [&](size_t pos, const std::string& v) { return all[pos].path < v; });
    return it != by_path.end() && all[*it].path == path ? &all[*it] : nullptr;
  };
  if (const store::Track* t = at_path(index::absolute_path(id_or_path))) return t;
  std::error_code ec;
  const fs::path canonical = fs::canonical(id_or_path, ec);  // the same file through a symlink
  if (ec) return nullptr;
  if (const store::Track* t = at_path(canonical.string())) return t;
  // Another name of an indexed file (a hard link, which the index keeps under one name): the
  // same device and inode. Only tracks of the same size are stat'ed.
  struct stat wanted {};
  if (::stat(canonical.c_str(), &wanted) != 0 || !S_ISREG(wanted.st_mode)) return nullptr;
  for (const store::Track& t : all) {
    struct stat st {};
    if (t.size == int64_t(wanted.st_size) && ::stat(t.path.c_str(), &st) == 0 && st.st_dev == wanted.st_dev &&
        st.st_ino == wanted.st_ino)
      return &t;
  }
  return nullptr;
}

std::string LibrarySnapshot::root_of(const std::string& path) const {
  std::string best;
  for (const auto& r : roots())
    if (r.size() > best.size() && path.size() > r.size() && index::path_under(path, r)) best = r;
  return best;
}

std::string LibrarySnapshot::display_path(const std::string& path) const {
  const std::string root = root_of(path);
  if (root.empty()) return path;
  std::string rel = path.substr(root.size());
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  return rel.empty() ? path : rel;
}

const std::vector<store::TrackLabel>& LibrarySnapshot::labels_of(int64_t track_id) const {
  static const std::vector<store::TrackLabel> kNone;
  tracks();
  auto it = parts().labels.find(track_id);
  return it == parts().labels.end() ? kNone : it->second;
}

std::string LibrarySnapshot::tags_text(const store::Track& t) const {
  std::string s;
  if (!t.artist.empty() && !t.title.empty()) s = t.artist + " \u2013 " + t.title;
  else s = t.artist + t.title;
  const auto& labels = labels_of(t.id);
  if (!labels.empty()) {
    std::string l;
    for (const auto& x : labels) l += (l.empty() ? "" : ", ") + x.label;
    s += (s.empty() ? "[" : " [") + l + "]";
  }
  return s;
}

void LibrarySnapshot::load_catalog_held(store::Store& st) const {
  Parts& p = parts();
  std::call_once(p.catalog_once, [&] {
    WindowTable t = st.window_embeddings();
    if (t.size() > 0) p.catalog = std::make_shared<const search::Catalog>(std::move(t));
  });
}

void LibrarySnapshot::load_catalog() const {
  Parts& p = parts();
  std::call_once(p.catalog_once, [&] {
    WindowTable t;
    {
      std::lock_guard lock(store_->mutex);
      t = store_->live().window_embeddings();
    }
    if (t.size() > 0) p.catalog = std::make_shared<const search::Catalog>(std::move(t));
  });
}

void LibrarySnapshot::load_quantized_held(store::Store& st) const {
  Parts& p = parts();
  std::call_once(p.quantized_once, [&] {
    // Read in pages of ok tracks by id: the float32 embeddings of a million tracks (2 GB) are
    // never held at once.
    constexpr size_t kPage = 16384;
    std::call_once(p.tracks_once, [&] { read_tracks(st, p.tracks, p.roots, p.labels, p.by_id, p.by_path); });
    std::vector<int64_t> ids;
    for (const store::Track& t : p.tracks)
      if (t.status == store::TrackStatus::Ok) ids.push_back(t.id);
    std::sort(ids.begin(), ids.end());
    auto q = std::make_unique<search::QuantizedTracks>(dim());
    q->reserve(static_cast<int64_t>(ids.size()));
    for (size_t at = 0; at < ids.size(); at += kPage) {
      const std::vector<int64_t> page(ids.begin() + static_cast<ptrdiff_t>(at),
                                      ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), at + kPage)));
      q->append(st.track_embeddings(page));
    }
    p.quantized = std::move(q);
  });
}

void LibrarySnapshot::load_embeddings_held(store::Store& st) const {
  Parts& p = parts();
  std::call_once(p.embeddings_once, [&] {
    p.track_embeddings = std::make_unique<Embeddings>(st.track_embeddings());
    p.track_embeddings->check("track embeddings of " + db_path_);
  });
}

bool LibrarySnapshot::searchable() const {
  if (compressed()) return parts().quantized->size() > 0;  // a track embedding <=> a searchable window
  load_catalog();
  return parts().catalog != nullptr;
}

const search::Catalog& LibrarySnapshot::catalog() const {
  load_catalog();
  if (!parts().catalog) throw Error(no_searchable(*store_, db_path_));
  return *parts().catalog;
}

const CompressedWindows* LibrarySnapshot::compressed_held(store::Store& st) const {
  Parts& p = parts();
  std::call_once(p.compressed_once, [&] {
    if (compressed_slot_) {
      CompressedSlot& slot = *compressed_slot_;
      std::lock_guard lock(slot.mutex);
      const auto read_all = [&st] { return st.track_embeddings(); };
      // The windows of ok tracks, from the track rows (their counts come from an index; counting
      // the searchable windows would read every window row).
      int64_t windows = 0;
      if (slot.mode != WindowIndexMode::Memory) {
        std::call_once(p.tracks_once, [&] { read_tracks(st, p.tracks, p.roots, p.labels, p.by_id, p.by_path); });
        for (const store::Track& t : p.tracks)
          if (t.status == store::TrackStatus::Ok) windows += t.window_count;
      }
      if (slot.decided == 0 && slot.mode != WindowIndexMode::Memory) {
        const int64_t from = slot.mode == WindowIndexMode::Compressed ? kCompressedMinWindows : kCompressedAboveWindows;
        slot.decided = windows >= from ? 1 : -1;
        if (slot.mode == WindowIndexMode::Compressed && slot.decided > 0) {
          try {
            slot.windows = CompressedWindows::open(st, db_path_, identity_, read_all, windows, note_, warn_);
          } catch (const TooFewWindows&) {
            slot.decided = -1;
          }
        }
        if (slot.mode == WindowIndexMode::Compressed && slot.decided < 0)
          note("the index has too few searchable windows for a compressed window index (it needs " +
               std::to_string(kCompressedMinWindows) + "): searching them in memory");
      }
      if (slot.decided > 0) {
        load_quantized_held(st);
        if (!slot.windows) {
          slot.windows = CompressedWindows::open(st, db_path_, identity_, read_all, windows, note_, warn_);
        } else if (slot.windows->generation() != generation_ && !slot.windows->update(st, windows)) {
          slot.windows->forget();
          slot.windows = CompressedWindows::open(st, db_path_, identity_, read_all, windows, note_, warn_);
        }
        p.compressed = slot.windows;
        p.centroid_norms.reserve(p.quantized->ids().size());
        for (int64_t id : p.quantized->ids()) p.centroid_norms.push_back(p.compressed->centroid_norm(id));
      }
    }
    p.compressed_ready.store(true, std::memory_order_release);
  });
  return p.compressed.get();
}

const CompressedWindows* LibrarySnapshot::compressed() const {
  Parts& p = parts();
  if (p.compressed_ready.load(std::memory_order_acquire)) return p.compressed.get();
  if (!compressed_slot_) return nullptr;
  std::lock_guard lock(store_->mutex);
  const auto scope = store_->held().read_scope();
  return compressed_held(store_->held());
}

const std::vector<float>& LibrarySnapshot::centroid_norms() const {
  compressed();
  return parts().centroid_norms;
}

search::CompressedSearchParams LibrarySnapshot::compressed_params() const {
  search::CompressedSearchParams p = compressed_slot_ ? compressed_slot_->params : LibraryOptions{}.compressed;
  if (p.shortlist <= 0) {
    const CompressedWindows* cw = compressed();
    p.shortlist = cw && cw->refine_bytes() > 0 ? kShortlistSecondCodes : kShortlistFirstCodes;
  }
  return p;
}

namespace {
// The rows of `t` whose track passes `keep`, in order.
WindowTable keep_rows(WindowTable t, const std::function<bool(int64_t)>& keep) {
  WindowTable out;
  out.dim = t.dim;
  const size_t d = static_cast<size_t>(t.dim);
  for (int64_t r = 0; r < t.size(); ++r) {
    if (!keep(t.track_ids[r])) continue;
    out.embeddings.insert(out.embeddings.end(), t.embeddings.begin() + static_cast<long>(r * d),
                          t.embeddings.begin() + static_cast<long>((r + 1) * d));
    out.window_ids.push_back(t.window_ids[r]);
    out.track_ids.push_back(t.track_ids[r]);
    out.starts.push_back(t.starts[r]);
    out.ends.push_back(t.ends[r]);
  }
  return out;
}
}  // namespace

template <class Read>
auto LibrarySnapshot::read_same_set(const Read& read) const {
  return store_->query_read([&](const store::Store& st) {
    const auto scope = st.read_scope();
    const std::optional<store::ModelIdentity> stored = st.model();
    if (!same_embeddings(identity_, stored)) throw ModelChanged(model_changed(db_path_, stored));
    return read(st);
  });
}

search::WindowSource LibrarySnapshot::window_source() const {
  const CompressedWindows* cw = compressed();
  if (!cw) throw Error("window_source: the library is searched in memory");
  search::WindowSource src;
  src.size = cw->size();
  const search::CompressedSearchParams params = compressed_params();
  src.shortlist = [cw, params](const float* query, int64_t n) {
    search::CompressedSearchParams p = params;
    p.shortlist = static_cast<int>(std::min<int64_t>(n, std::numeric_limits<int>::max()));
    return cw->shortlist(query, p);
  };
  // Windows of tracks this snapshot does not hold as searchable (added or failed since it was
  // made) are left out: every result names a track of the snapshot.
  auto in_snapshot = [this](int64_t track_id) {
    const store::Track* t = track(track_id);
    return t && t->status == store::TrackStatus::Ok;
  };
  src.windows = [this, in_snapshot](const std::vector<int64_t>& ids) {
    WindowTable t = read_same_set([&](const store::Store& st) { return st.window_embeddings(ids); });
    return keep_rows(std::move(t), in_snapshot);
  };
  src.track_windows = [this, in_snapshot](const std::vector<int64_t>& ids) {
    WindowTable t = read_same_set([&](const store::Store& st) { return st.track_window_embeddings(ids); });
    return keep_rows(std::move(t), in_snapshot);
  };
  src.track_embeddings = track_fetch();
  return src;
}

const search::VectorIndex& LibrarySnapshot::window_index() const {
  catalog();
  Parts& p = parts();
  std::call_once(p.index_once, [&] {
    search::LoadInfo info;
    std::string key_id;  // a server store's file is named after its database's key id
    if (store::is_server_location(db_path_)) {
      std::lock_guard lock(store_->mutex);
      key_id = window_index_key_id(store_->live());
    }
    p.window_index = std::make_unique<search::VectorIndex>(load_window_index(db_path_, p.catalog, &info, key_id));
    note("window index " + window_index_path(db_path_, key_id) + ": " + (info.rebuilt ? "rebuilt (" + info.reason + ")" : info.reason) +
         ", " + search::index_kind_name(p.window_index->kind()) + ", " + std::to_string(p.window_index->size()) + " windows");
    // A warning, not a note: on a full disk every later run would rebuild it again in silence.
    if (!info.save_error.empty() && warn_)
      warn_("window index not saved (the next run builds it again): " + info.save_error);
  });
  return *p.window_index;
}

const search::TextSearcher& LibrarySnapshot::text_searcher() const {
  const search::Catalog& c = catalog();
  Parts& p = parts();
  std::call_once(p.searcher_once, [&] { p.searcher = std::make_unique<search::TextSearcher>(c); });
  return *p.searcher;
}

const Embeddings& LibrarySnapshot::track_embeddings() const {
  Parts& p = parts();
  std::call_once(p.embeddings_once, [&] {
    std::lock_guard lock(store_->mutex);
    p.track_embeddings = std::make_unique<Embeddings>(store_->live().track_embeddings());
    p.track_embeddings->check("track embeddings of " + db_path_);
  });
  if (p.track_embeddings->size() == 0) throw Error(no_searchable(*store_, db_path_));
  return *p.track_embeddings;
}

std::map<int64_t, std::vector<uint32_t>> LibrarySnapshot::fingerprints(const std::vector<int64_t>& ids) const {
  return store_->query_read([&](const store::Store& st) { return st.fingerprints(ids); });
}

std::vector<float> LibrarySnapshot::track_embedding(int64_t track_id) const {
  const store::Track* t = track(track_id);
  if (compressed()) {
    // Exact, from the store (the snapshot holds 8-bit ones), for a track the snapshot holds.
    if (t && quantized_tracks().find(track_id) >= 0) {
      const Embeddings e =
          read_same_set([&](const store::Store& st) { return st.track_embeddings(std::vector<int64_t>{track_id}); });
      if (e.size() != 1) throw Error(t->path + ": was removed from the index since this snapshot of it was read");
      return e.data;
    }
  } else {
    const Embeddings& e = track_embeddings();
    const int64_t i = find_row(e, track_id);
    if (i >= 0) return std::vector<float>(e.row(i), e.row(i) + e.dim);
  }
  if (!t) throw Error("no track " + std::to_string(track_id) + " in the index");
  throw Error(t->path + ": has no embedding in the index (" +
              (t->status == store::TrackStatus::Error ? "it could not be indexed: " + t->error : "silent throughout") + ")");
}

const search::QuantizedTracks& LibrarySnapshot::quantized_tracks() const {
  if (!compressed()) throw Error("quantized_tracks: the library is searched in memory");
  if (parts().quantized->size() == 0) throw Error(no_searchable(*store_, db_path_));
  return *parts().quantized;
}

search::TrackFetch LibrarySnapshot::track_fetch() const {
  if (!compressed()) {
    const Embeddings& all = track_embeddings();
    return [&all](const std::vector<int64_t>& ids) {
      Embeddings out;
      out.dim = all.dim;
      out.ids.reserve(ids.size());
      out.data.reserve(ids.size() * static_cast<size_t>(all.dim));
      for (int64_t id : ids)
        if (const int64_t row = find_row(all, id); row >= 0) {
          out.ids.push_back(id);
          out.data.insert(out.data.end(), all.row(row), all.row(row) + all.dim);
        }
      return out;
    };
  }
  // Tracks this snapshot does not hold as searchable are left out, as in window_source().
  return [this](const std::vector<int64_t>& ids) {
    std::vector<int64_t> held;
    for (int64_t id : ids)
      if (const store::Track* t = track(id); t && t->status == store::TrackStatus::Ok) held.push_back(id);
    return read_same_set([&](const store::Store& st) { return st.track_embeddings(held); });
  };
}

const search::QuantizedTracks& LibrarySnapshot::track_codes() const {
  if (compressed()) return quantized_tracks();
  const Embeddings& all = track_embeddings();  // throws when nothing is searchable
  Parts& p = parts();
  std::call_once(p.codes_once, [&] {
    auto codes = std::make_unique<search::QuantizedTracks>(all.dim);
    codes->append(all);
    p.track_codes = std::move(codes);
    p.codes_made = true;
  });
  return *p.track_codes;
}

bool LibrarySnapshot::track_codes_made() const { return parts().codes_made; }

const search::Projection2D& LibrarySnapshot::track_map() const {
  const Embeddings& e = track_embeddings();
  Parts& p = parts();
  std::call_once(p.map_once, [&] { p.map = std::make_unique<search::Projection2D>(search::pca_2d(e)); });
  return *p.map;
}

const SongIndex& LibrarySnapshot::song_index() const {
  const auto& all = tracks();
  Parts& p = parts();
  std::call_once(p.songs_once, [&] { p.songs = std::make_unique<SongIndex>(all); });
  return *p.songs;
}

const MusicCatalog& LibrarySnapshot::music_catalog() const {
  Parts& p = parts();
  std::call_once(p.music_once, [&] {
    p.music = std::make_unique<MusicCatalog>(*this);
    p.music_made = true;
  });
  return *p.music;
}

bool LibrarySnapshot::music_catalog_made() const { return parts().music_made; }

const std::vector<int64_t>& LibrarySnapshot::tracks_matching(const search::Filter& rule) const {
  static const std::vector<int64_t> none;
  if (rule.empty()) return none;
  const auto& all = tracks();
  Parts& p = parts();
  {
    std::lock_guard lock(p.matching_mutex);
    if (const auto it = p.matching.find(rule.text()); it != p.matching.end()) return it->second;
  }
  // Found outside the lock (concurrent requests may each scan once; the first stored wins).
  std::vector<int64_t> ids = matching_tracks(rule, all);
  std::lock_guard lock(p.matching_mutex);
  return p.matching.emplace(rule.text(), std::move(ids)).first->second;
}

}  // namespace clap::service
