#include "service/library.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "index/crawl.h"
#include "service/window_index.h"

namespace clap::service {

namespace fs = std::filesystem;

// Read-only connections queries read through while they run (see StoreAccess::query_read).
constexpr int kQueryConnections = 4;

// One store connection, used under its lock (a Store is used from one thread at a time), through
// which snapshots are read; and a pool of read-only connections for the reads a query makes as it
// runs (compressed mode: its candidates' windows and track embeddings), so that concurrent queries
// do not queue behind one connection (measured: cached text searches at 4 clients, 410/s through
// the one connection, 719/s with the pool; README, Performance).
struct StoreAccess {
  std::mutex mutex;
  std::unique_ptr<store::Store> store;
  std::string location;  // where the pool's connections are opened

  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<store::Store>> idle;
  int opened = 0;

  // read(store) on a pooled connection: an idle one, a new one while fewer than
  // kQueryConnections are open, else the first one given back. When a read throws, its
  // connection and the idle ones are closed (after a PostgreSQL restart every one of them is
  // dead), and a read that failed on a reused connection is tried once more on a new one.
  template <class Read>
  auto query_read(const Read& read) -> decltype(read(std::declval<store::Store&>())) {
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<store::Store> conn;
      {
        std::unique_lock lock(pool_mutex);
        pool_cv.wait(lock, [&] { return !idle.empty() || opened < kQueryConnections; });
        if (!idle.empty()) {
          conn = std::move(idle.back());
          idle.pop_back();
        } else {
          ++opened;
        }
      }
      const bool reused = conn != nullptr;
      try {
        if (!conn) conn = store::open_store(location, store::OpenMode::ReadOnly);
        auto result = read(*conn);
        {
          std::lock_guard lock(pool_mutex);
          idle.push_back(std::move(conn));
        }
        pool_cv.notify_one();
        return result;
      } catch (const ModelChanged&) {  // the connection is sound: the store moved on
        {
          std::lock_guard lock(pool_mutex);
          idle.push_back(std::move(conn));
        }
        pool_cv.notify_one();
        throw;
      } catch (...) {
        std::vector<std::unique_ptr<store::Store>> closing;
        {
          std::lock_guard lock(pool_mutex);
          closing.swap(idle);
          opened -= 1 + static_cast<int>(closing.size());
        }
        pool_cv.notify_all();
        if (!reused || attempt > 0) throw;
      }
    }
  }
};

// The compressed window index of a library, shared by its snapshots (each brings it up to its
// state). The mode is decided once per Library: a library never switches between modes while
// a server runs.
struct CompressedSlot {
  std::mutex mutex;
  WindowIndexMode mode = WindowIndexMode::Auto;
  search::CompressedSearchParams params;
  int decided = 0;  // 0 not yet, 1 compressed, -1 memory
  std::shared_ptr<CompressedWindows> windows;
};

namespace {

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether a store whose active set has `stored` still holds the embeddings a library opened
// with `opened` reads: the same model, or a text fine-tune of it (same audio tower).
bool same_embeddings(const store::ModelIdentity& opened, const std::optional<store::ModelIdentity>& stored) {
  return stored && (opened.mismatch(*stored).empty() || opened.shares_audio_with(*stored));
}

std::string model_changed(const std::string& db, const std::optional<store::ModelIdentity>& stored) {
  return db + ": " +
         (stored ? "another embedding set became the index's active one (" + stored->describe() +
                       "; `clapsearch models`), or the index was rebuilt with another model"
                 : std::string("the index no longer records a model (it was emptied or rebuilt)")) +
         ": open it again to use it";
}

std::string no_searchable(const std::string& db) {
  return db + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " + db + "`";
}

}  // namespace

// --- snapshot --------------------------------------------------------------------------------

struct LibrarySnapshot::Parts {
  std::once_flag tracks_once, catalog_once, index_once, searcher_once, embeddings_once, map_once, compressed_once,
      quantized_once, songs_once;
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
  std::unique_ptr<search::Projection2D> map;
  std::unique_ptr<SongIndex> songs;
  std::shared_ptr<const CompressedWindows> compressed;  // compressed mode only
  std::vector<float> centroid_norms;                    // per quantized row, compressed mode
  std::atomic<bool> compressed_ready{false};
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
  generation_ = store_->store->library_generation();
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
    const auto scope = store_->store->read_scope();
    generation_ = store_->store->library_generation();  // the state read below
    Parts& p = parts();
    std::call_once(p.tracks_once,
                   [&] { read_tracks(*store_->store, p.tracks, p.roots, p.labels, p.by_id, p.by_path); });
    if (!compressed_held(*store_->store)) {
      load_embeddings_held(*store_->store);
      load_catalog_held(*store_->store);
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
    store::Store& st = *store_->store;
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
    } else std::call_once(p.embeddings_once, [&] {
      const Embeddings added = st.track_embeddings(changed);
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
    read_tracks(*store_->store, p.tracks, p.roots, p.labels, p.by_id, p.by_path);
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
      t = store_->store->window_embeddings();
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
  if (!parts().catalog) throw Error(no_searchable(db_path_));
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
  const auto scope = store_->store->read_scope();
  return compressed_held(*store_->store);
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
    p.window_index = std::make_unique<search::VectorIndex>(load_window_index(db_path_, p.catalog, &info));
    note("window index " + window_index_path(db_path_) + ": " + (info.rebuilt ? "rebuilt (" + info.reason + ")" : info.reason) +
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
    p.track_embeddings = std::make_unique<Embeddings>(store_->store->track_embeddings());
    p.track_embeddings->check("track embeddings of " + db_path_);
  });
  if (p.track_embeddings->size() == 0) throw Error(no_searchable(db_path_));
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
    const int64_t i = e.find(track_id);
    if (i >= 0) return std::vector<float>(e.row(i), e.row(i) + e.dim);
  }
  if (!t) throw Error("no track " + std::to_string(track_id) + " in the index");
  throw Error(t->path + ": has no embedding in the index (" +
              (t->status == store::TrackStatus::Error ? "it could not be indexed: " + t->error : "silent throughout") + ")");
}

const search::QuantizedTracks& LibrarySnapshot::quantized_tracks() const {
  if (!compressed()) throw Error("quantized_tracks: the library is searched in memory");
  if (parts().quantized->size() == 0) throw Error(no_searchable(db_path_));
  return *parts().quantized;
}

search::TrackFetch LibrarySnapshot::track_fetch() const {
  // Tracks this snapshot does not hold as searchable are left out, as in window_source().
  return [this](const std::vector<int64_t>& ids) {
    std::vector<int64_t> held;
    for (int64_t id : ids)
      if (const store::Track* t = track(id); t && t->status == store::TrackStatus::Ok) held.push_back(id);
    return read_same_set([&](const store::Store& st) { return st.track_embeddings(held); });
  };
}

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

// --- library ---------------------------------------------------------------------------------

Library::Library(const LibraryOptions& options, Access access)
    : options_(options),
      location_(store::resolve_location(options.db)),
      db_path_(store::display_location(location_)),
      store_(std::make_shared<StoreAccess>()),
      compressed_slot_(std::make_shared<CompressedSlot>()) {
  compressed_slot_->mode = options.window_index;
  compressed_slot_->params = options.compressed;
  store_->location = location_;
  std::string unexpected;
  store_->store = store::open_store(location_, access == Access::ReadOnly ? store::OpenMode::ReadOnly
                                                                        : store::OpenMode::ReadWriteOrReadOnly,
                                    &unexpected);
  if (!unexpected.empty() && options_.warn)
    options_.warn("the index could not be opened for writing, so it is read without caching anything: " + unexpected);
  const auto m = store_->store->model();
  if (!m)
    throw Error(db_path_ + ": the index is empty (no model recorded yet): run `clapsearch index DIR --db " + db_path_ + "`");
  identity_ = *m;
  snapshot_ = std::make_shared<LibrarySnapshot>(store_, db_path_, identity_, options_.note, options_.warn, compressed_slot_);
  if (!options_.model.empty()) model_spec();  // a model that does not match is refused up front
}

Library::~Library() = default;

void Library::note(const std::string& message) const {
  if (options_.note) options_.note(message);
}

bool Library::writable() const {
  std::lock_guard lock(store_->mutex);
  return !store_->store->read_only();
}

std::shared_ptr<const LibrarySnapshot> Library::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

bool Library::refresh(bool force, RefreshInfo* info) {
  std::lock_guard refreshing(refresh_mutex_);
  const auto current = snapshot();
  int64_t generation;
  std::optional<store::ModelIdentity> identity;
  {
    std::lock_guard lock(store_->mutex);
    generation = store_->store->library_generation();
    identity = store_->store->model();
  }
  if (!same_embeddings(identity_, identity)) {  // checked first: a switch of sets need not change the generation
    if (identity) throw ModelChanged(model_changed(db_path_, identity));
    throw Error(model_changed(db_path_, identity));
  }
  if (!force && generation == current->library_generation()) return false;
  auto next = std::make_shared<LibrarySnapshot>(store_, db_path_, identity_, options_.note, options_.warn, compressed_slot_);
  if (info) *info = RefreshInfo{};
  if (force || !next->load_delta(*current, info)) next->load_all();
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = next;
  }
  return true;
}

std::vector<store::WindowRecord> Library::track_windows(int64_t track_id) const {
  std::lock_guard lock(store_->mutex);
  return store_->store->windows(track_id);
}

void Library::store_labels(const std::vector<store::TrackLabel>& labels) {
  {
    std::lock_guard lock(store_->mutex);
    if (store_->store->read_only()) throw Error(db_path_ + ": the index cannot be written");
    store_->store->put_labels(labels);
  }
  // The labels are part of the snapshot: later reads in this session see the new ones.
  auto next = std::make_shared<LibrarySnapshot>(store_, db_path_, identity_, options_.note, options_.warn, compressed_slot_);
  std::lock_guard lock(snapshot_mutex_);
  snapshot_ = next;
}

// --- model -----------------------------------------------------------------------------------

const index::ModelSpec& Library::model_spec() {
  std::lock_guard lock(model_mutex_);
  if (!spec_) {
    const bool given = !options_.model.empty();
    const std::string spec = given ? options_.model : index::model_spec_of(identity_);
    hub::HubOptions hub_options = given ? hub::HubOptions{} : index::hub_options_of(identity_);
    if (!options_.model_config.empty()) hub_options.config = options_.model_config;
    if (!options_.model_tokenizer.empty()) hub_options.tokenizer = options_.model_tokenizer;
    hub::ResolvedModel resolved;
    try {
      resolved = hub::resolve_model(spec, hub_options);
    } catch (const Error& e) {
      if (given) throw;
      throw Error(std::string("the index's model cannot be found: ") + e.what() +
                  " (pass --model with the folder or hub id it was indexed with)");
    }
    auto s = std::make_unique<index::ModelSpec>(
        index::describe_model(resolved, identity_.window_s, identity_.hop_s, identity_.silence_db, identity_.precision));
    const std::string diff = identity_.mismatch(s->identity);
    if (!diff.empty() && shares_audio(s->identity)) {
      note("the model " + spec + " embeds audio exactly as the index's model " + identity_.id +
           " (a text fine-tune): its text queries apply to the stored embeddings");
    } else if (!diff.empty())
      throw Error((given ? "--model " + spec : "the model " + spec) + " does not match the index " + db_path_ + ": " + diff +
                  ". The index was made with " + identity_.describe() +
                  "; searching needs embeddings from the same model (re-index with `clapsearch index DIR --model ... "
                  "--rebuild` to change models)");
    spec_ = std::move(s);
  }
  return *spec_;
}

const ClapModel& Library::model() {
  if (model_ready_.load(std::memory_order_acquire)) return *model_;
  const index::ModelSpec& s = model_spec();
  std::lock_guard lock(model_mutex_);
  if (!model_) {
    note("loading model " + (s.resolved.weights_file.empty() ? s.resolved.dir : s.resolved.weights_file));
    ModelOpenOptions mo;
    mo.threads = options_.threads;
    mo.warn = options_.warn;
    mo.audio_precision = parse_precision(identity_.precision);
    mo.text_precision = options_.text_precision;
    std::shared_ptr<const ClapModel> m = load_model(s.resolved, mo);
    if (m->embedding_dim() != identity_.dim)
      throw Error("the model's embedding size " + std::to_string(m->embedding_dim()) + " differs from the index's " +
                  std::to_string(identity_.dim));
    model_ = std::move(m);
    model_ready_.store(true, std::memory_order_release);
  }
  return *model_;
}

bool Library::model_loaded() const { return model_ready_.load(std::memory_order_acquire); }

// A ClapState borrowed from the pool for one model run; returned when the lease ends.
class Library::StateLease {
 public:
  StateLease(Library& lib, std::unique_ptr<ClapState> state) : lib_(&lib), state_(std::move(state)) {}
  StateLease(StateLease&& o) noexcept : lib_(o.lib_), state_(std::move(o.state_)) { o.lib_ = nullptr; }
  ~StateLease() {
    if (!lib_ || !state_) return;
    {
      std::lock_guard lock(lib_->states_mutex_);
      lib_->free_states_.push_back(std::move(state_));
    }
    lib_->states_cv_.notify_one();
  }
  ClapState& operator*() { return *state_; }

 private:
  Library* lib_;
  std::unique_ptr<ClapState> state_;
};

Library::StateLease Library::lease_state() {
  std::unique_lock lock(states_mutex_);
  const int limit = options_.max_model_runs;
  if (free_states_.empty() && limit > 0 && states_made_ >= limit) {
    if (options_.max_waiting >= 0 && waiting_ >= options_.max_waiting)
      throw Busy("busy: " + std::to_string(limit) + " model run(s) in progress and " + std::to_string(waiting_) +
                 " waiting; try again shortly");
    ++waiting_;
    auto ready = [&] { return !free_states_.empty(); };
    bool ok = true;
    if (options_.model_wait_ms > 0) ok = states_cv_.wait_for(lock, std::chrono::milliseconds(options_.model_wait_ms), ready);
    else states_cv_.wait(lock, ready);
    --waiting_;
    if (!ok)
      throw Busy("busy: every model run slot stayed taken for " + std::to_string(options_.model_wait_ms / 1000) +
                 " s; try again shortly");
  }
  std::unique_ptr<ClapState> state;
  if (!free_states_.empty()) {
    state = std::move(free_states_.back());
    free_states_.pop_back();
  } else {
    ++states_made_;
    lock.unlock();
    state = std::make_unique<ClapState>(options_.threads, options_.warn);
  }
  return StateLease(*this, std::move(state));
}

// Texts that arrive while the text tower runs wait and go into the next run together: one
// pass over the text weights serves them all (a batch of 16 short texts costs ~8x one text,
// not 16x), and an embedding never depends on its batch (README: Determinism), so gathering
// changes no bit. The caller whose turn it is runs the batch for everyone queued.
struct Library::TextRequest {
  const std::vector<std::string>* texts;
  std::vector<float> out;
  std::exception_ptr error;
  bool done = false;
};

std::vector<float> Library::run_text_tower(const std::vector<std::string>& texts) {
  constexpr size_t kMaxBatchTexts = 64;
  const ClapModel& m = model();
  TextRequest mine{&texts, {}, nullptr, false};
  std::unique_lock lock(text_mutex_);
  text_queue_.push_back(&mine);
  while (!mine.done) {
    if (text_running_) {
      text_cv_.wait(lock);
      continue;
    }
    // This caller runs the next batch: every request queued, up to the batch limit (its own
    // request is always among them: it is the oldest unserved one or was queued behind them).
    std::vector<TextRequest*> batch;
    size_t count = 0;
    while (!text_queue_.empty() && (batch.empty() || count + text_queue_.front()->texts->size() <= kMaxBatchTexts)) {
      count += text_queue_.front()->texts->size();
      batch.push_back(text_queue_.front());
      text_queue_.erase(text_queue_.begin());
    }
    text_running_ = true;
    lock.unlock();
    std::vector<std::string> all;
    for (TextRequest* r : batch) all.insert(all.end(), r->texts->begin(), r->texts->end());
    std::vector<float> emb;
    std::exception_ptr error;
    try {
      StateLease state = lease_state();
      emb = m.embed_text(*state, all);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    size_t at = 0;
    const size_t d = static_cast<size_t>(dim());
    for (TextRequest* r : batch) {
      if (error) r->error = error;
      else r->out.assign(emb.begin() + static_cast<long>(at * d), emb.begin() + static_cast<long>((at + r->texts->size()) * d));
      at += r->texts->size();
      r->done = true;
    }
    text_running_ = false;
    text_cv_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
  return std::move(mine.out);
}

bool Library::shares_audio(const store::ModelIdentity& candidate) const {
  store::ModelIdentity recorded = identity_;
  if (recorded.audio_hash.empty()) {
    // An index made before audio hashes were recorded: work out its model's, when that model
    // is still where the index says and is what it recorded.
    try {
      hub::HubOptions quiet = index::hub_options_of(identity_);
      quiet.quiet = true;
      const hub::ResolvedModel resolved = hub::resolve_model(index::model_spec_of(identity_), quiet);
      const index::ModelSpec own =
          index::describe_model(resolved, identity_.window_s, identity_.hop_s, identity_.silence_db, identity_.precision);
      if (own.identity.content_hash == identity_.content_hash) recorded.audio_hash = own.identity.audio_hash;
    } catch (const Error&) {
    }
  }
  return recorded.shares_audio_with(candidate);
}

std::vector<float> Library::embed_texts(const std::vector<std::string>& texts) {
  const int d = dim();
  // Text embeddings are the query model's, keyed by what is on disk now, not by what the index
  // recorded: a model named with --model may be a text fine-tune of the index's, and a model
  // folder whose text tower was replaced at the same path must not be answered from the old
  // weights' cache. When the index's model cannot be found (or no longer matches), only cached
  // texts can be answered, and those are the recorded model's.
  std::string key;
  try {
    key = model_spec().identity.model_key();
  } catch (const Error&) {
    if (!options_.model.empty()) throw;
    key = identity_.model_key();
  }
  // fp32 entries keep the key they always had; another precision gets its own.
  if (options_.text_precision != Precision::F32) key += std::string("#text-") + precision_name(options_.text_precision);
  std::vector<float> out(texts.size() * static_cast<size_t>(d), 0.0f);
  std::vector<std::string> missing;
  std::map<std::string, std::vector<size_t>> slots;  // text -> rows wanting it
  int64_t hits = 0, misses = 0;
  {
    std::lock_guard lock(store_->mutex);
    for (size_t i = 0; i < texts.size(); ++i) {
      const bool seen = slots.count(texts[i]) > 0;
      slots[texts[i]].push_back(i);
      if (seen) continue;
      const auto cached = store_->store->cached_text(key, texts[i]);
      if (cached && static_cast<int>(cached->size()) == d) {
        std::copy(cached->begin(), cached->end(), out.begin() + static_cast<long>(i * d));
        ++hits;
      } else {
        missing.push_back(texts[i]);
        ++misses;
      }
    }
  }
  if (!missing.empty()) {
    const ClapModel& m = model();
    if (!m.has_tokenizer()) throw Error("the model has no tokenizer: text queries are not possible with it");
    const std::vector<float> emb = run_text_tower(missing);
    std::lock_guard lock(store_->mutex);
    bool saved = !store_->store->read_only();
    for (size_t k = 0; k < missing.size(); ++k) {
      std::vector<float> e(emb.begin() + static_cast<long>(k * d), emb.begin() + static_cast<long>((k + 1) * d));
      if (saved) {
        try {
          store_->store->put_cached_text(key, missing[k], e);
        } catch (const Error& err) {
          saved = false;
          // A warning: the search still answers, but the user should learn that the disk is
          // full or failing (the next run embeds these texts again).
          if (options_.warn) options_.warn(std::string("text cache not written: ") + err.what());
        }
      }
      // Rows are taken from the same floats the cache holds: a later cached run prints the same.
      for (size_t row : slots[missing[k]]) std::copy(e.begin(), e.end(), out.begin() + static_cast<long>(row * d));
    }
    if (store_->store->read_only()) note("index opened read-only: text embeddings not cached");
  }
  // Duplicated texts.
  for (const auto& [text, rows] : slots)
    for (size_t r = 1; r < rows.size(); ++r)
      std::copy(out.begin() + static_cast<long>(rows[0] * d), out.begin() + static_cast<long>((rows[0] + 1) * d),
                out.begin() + static_cast<long>(rows[r] * d));
  cache_hits_ += hits;
  cache_misses_ += misses;
  note("text cache: " + std::to_string(hits) + " hit(s), " + std::to_string(misses) + " miss(es)" +
       (misses ? " (embedded with the model)" : " (no model run)"));
  return out;
}

FileWindows Library::embed_file(const std::string& path, double window_s, double hop_s, double max_duration_s,
                                bool untrusted) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an audio file");
  const index::ModelSpec& s = model_spec();  // found and matching before anything is decoded
  WindowSettings ws;
  ws.window_s = window_s > 0 ? window_s : identity_.window_s;
  ws.hop_s = hop_s > 0 ? hop_s : identity_.hop_s;
  check_window_length(ws.window_s, s.sample_rate, s.max_samples);
  index::check_window_settings(ws.window_s, ws.hop_s, "--chunk");  // a query's windows are its chunks
  ws.silence_db = identity_.silence_db;
  ws.max_duration_s = max_duration_s;
  ws.untrusted = untrusted;
  const ClapModel& m = model();
  FileWindows fw;
  {
    StateLease state = lease_state();
    fw = embed_file_windows(m, *state, path, ws);
  }
  int64_t silent = 0;
  for (uint8_t x : fw.silent) silent += x;
  note("embedded " + path + ": " + std::to_string(fw.size()) + " windows (" + std::to_string(silent) + " silent)");
  return fw;
}

std::vector<float> Library::file_embedding(const std::string& path) { return file_track_embedding(embed_file(path)); }

AudioItem Library::audio_item(const std::string& file_or_track) {
  const auto snap = snapshot();
  if (const store::Track* t = snap->find_track(file_or_track)) return {t->path, t->id, snap->track_embedding(t->id)};
  std::error_code ec;
  if (!fs::exists(file_or_track, ec))
    throw Error(file_or_track + ": no such file, and no track with that id or path in the index");
  return {index::absolute_path(file_or_track), -1, file_embedding(file_or_track)};
}

SongWindows Library::song_windows(const std::string& target) {
  // Every window, silent ones included (listed, not scored).
  WindowTable table;
  table.dim = dim();
  int64_t track_id = -1;
  std::string path;
  auto add = [&](int64_t id, double start, double end, bool silent, const float* e) {
    table.window_ids.push_back(id);
    table.track_ids.push_back(track_id);
    table.starts.push_back(start);
    table.ends.push_back(end);
    table.silent.push_back(silent ? 1 : 0);
    if (e) table.embeddings.insert(table.embeddings.end(), e, e + table.dim);
    else table.embeddings.resize(table.embeddings.size() + table.dim, 0.0f);
  };
  const auto snap = snapshot();
  if (const store::Track* t = snap->find_track(target)) {
    if (t->status != store::TrackStatus::Ok) throw Error(t->path + ": could not be indexed: " + t->error);
    track_id = t->id;
    path = t->path;
    for (const auto& w : track_windows(t->id)) {
      const bool has = static_cast<int>(w.embedding.size()) == table.dim;
      add(w.id, w.start_s, w.end_s, w.silent || !has, has ? w.embedding.data() : nullptr);
    }
    if (table.window_ids.empty()) throw Error(t->path + ": no windows in the index");
  } else {
    std::error_code ec;
    if (!fs::exists(target, ec)) throw Error(target + ": no such file, and no track with that id or path in the index");
    const FileWindows fw = embed_file(target);
    path = index::absolute_path(target);
    for (int64_t i = 0; i < fw.size(); ++i)
      add(i, fw.starts[i], fw.ends[i], fw.silent[i] != 0, fw.embeddings.data() + i * fw.dim);
  }
  return SongWindows{track_id, path, search::Catalog(std::move(table))};
}

}  // namespace clap::service
