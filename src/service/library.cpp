// Library: opening an index (the store, its model identity), the current snapshot and its
// refresh, labels, and the query items that come either from the index or from a file
// (audio_item, song_windows). The snapshot is library_snapshot.cpp; the model runs,
// library_models.cpp.
#include "service/library.h"

#include <filesystem>

#include "core/error.h"
#include "index/crawl.h"
#include "service/accounts.h"
#include "service/library_internal.h"
#include "service/status.h"
#include "core/missing_file.h"

namespace clap::service {

namespace fs = std::filesystem;

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

Library::Library(const LibraryOptions& options, Access access)
    : options_(options),
      location_(store::resolve_location(options.db)),
      db_path_(store::display_location(location_)),
      store_(std::make_shared<StoreAccess>()),
      compressed_slot_(std::make_shared<CompressedSlot>()) {
  compressed_slot_->mode = options.window_index;
  compressed_slot_->params = options.compressed;
  store_->location = location_;
  store_->file_id = index_file_id(location_);  // before opening: a file replaced meanwhile is seen at the first refresh
  std::string unexpected;
  store_->mode = access == Access::ReadOnly ? store::OpenMode::ReadOnly : store::OpenMode::ReadWriteOrReadOnly;
  store_->store = store::open_store(location_, store_->mode, &unexpected);
  if (!unexpected.empty() && options_.warn)
    options_.warn("the index could not be opened for writing, so it is read without caching anything: " + unexpected);
  const auto m = store_->held().model();
  if (!m) {
    // An index that holds tracks recorded its model with them: its meta rows are gone (edited by
    // hand), and "the index is empty" was said of it, with `clapsearch index` as the way out
    // (hostile pass 14, H14C-4).
    if (const int64_t tracks = store_->held().counts().tracks; tracks > 0)
      throw store::DamagedIndex(no_model_damage(db_path_, tracks));
    throw Error(db_path_ + ": the index is empty (no model recorded yet): run `clapsearch index DIR --db " + db_path_ + "`");
  }
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
  return !store_->held().read_only();
}

std::shared_ptr<const LibrarySnapshot> Library::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

bool Library::refresh(bool force, RefreshInfo* info) {
  std::lock_guard refreshing(refresh_mutex_);
  // The index deleted and made again (or another moved over it): the open connection still reads
  // the old file, whose generation never moves. The reader opens the new one (the server and the
  // Python module do so on ModelChanged). A file gone for now (being made again) is waited for.
  if (store_->file_id)
    if (const auto now = index_file_id(location_); now && *now != *store_->file_id)
      throw ModelChanged(db_path_ + ": the index file was replaced (deleted and made again, or another moved over it) "
                                    "since it was opened");
  const auto current = snapshot();
  int64_t generation;
  std::optional<store::ModelIdentity> identity;
  const auto read_state = [&] {
    std::lock_guard lock(store_->mutex);
    generation = store_->held().library_generation();
    identity = store_->held().model();
  };
  try {
    read_state();
  } catch (const ModelChanged&) {
    throw;
  } catch (const std::exception&) {
    // A database server restarted (an upgrade, a failover) leaves this connection dead for good,
    // and the server's /api/ answered 503 "no connection to the server" until `serve` itself was
    // restarted (H11S-5; its query connections were opened again, this one never). Opened again
    // once here, and the state read again: a server still away throws, and the next refresh
    // tries again. An index file has nothing to reconnect.
    if (!store::is_server_location(location_)) throw;
    {
      std::lock_guard lock(store_->mutex);
      store_->store = store::open_store(location_, store_->mode);
    }
    read_state();
  }
  if (!same_embeddings(identity_, identity)) {  // checked first: a switch of sets need not change the generation
    if (identity) throw ModelChanged(model_changed(db_path_, identity));
    throw Error(model_changed(db_path_, identity));
  }
  if (!force && generation == current->library_generation()) return false;
  auto next = std::make_shared<LibrarySnapshot>(store_, db_path_, identity_, options_.note, options_.warn, compressed_slot_);
  if (info) *info = RefreshInfo{};
  if (force || !next->load_delta(*current, info)) next->load_all();
  if (current->music_catalog_made()) next->music_catalog();  // see music_catalog_made
  if (current->track_codes_made() && next->searchable()) next->track_codes();  // the same for similar's 8-bit rows
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = next;
  }
  return true;
}

bool Library::close_if_replaced() {
  if (!store_->file_id) return false;
  const auto now = index_file_id(location_);
  if (!now || *now == *store_->file_id) return false;
  store_->close(db_path_ + ": the index file was replaced (deleted and made again, or another moved over it): open it again");
  return true;
}

std::vector<store::WindowRecord> Library::track_windows(int64_t track_id) const {
  std::lock_guard lock(store_->mutex);
  return store_->live().windows(track_id);
}

void Library::store_labels(const std::vector<store::TrackLabel>& labels) {
  {
    std::lock_guard lock(store_->mutex);
    store::Store& store = store_->live();
    if (store.read_only()) throw Error(db_path_ + ": the index cannot be written");
    store.put_labels(labels);
  }
  // The labels are part of the snapshot: later reads in this session see the new ones.
  auto next = std::make_shared<LibrarySnapshot>(store_, db_path_, identity_, options_.note, options_.warn, compressed_slot_);
  std::lock_guard lock(snapshot_mutex_);
  snapshot_ = next;
}

std::vector<float> Library::file_embedding(const std::string& path) { return file_track_embedding(embed_file(path)); }

AudioItem Library::audio_item(const std::string& file_or_track) {
  const auto snap = snapshot();
  if (const store::Track* t = snap->find_track(file_or_track)) return {t->path, t->id, snap->track_embedding(t->id)};
  if (const std::string why = missing_file_reason(file_or_track); !why.empty())
    throw Error(file_or_track + ": " + why + ", and no track with that id or path in the index");
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
    if (const std::string why = missing_file_reason(target); !why.empty())
      throw Error(target + ": " + why + ", and no track with that id or path in the index");
    const FileWindows fw = embed_file(target);
    path = index::absolute_path(target);
    for (int64_t i = 0; i < fw.size(); ++i)
      add(i, fw.starts[i], fw.ends[i], fw.silent[i] != 0, fw.embeddings.data() + i * fw.dim);
  }
  return SongWindows{track_id, path, search::Catalog(std::move(table))};
}

}  // namespace clap::service
