#include "service/library.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "index/crawl.h"
#include "service/window_index.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Library::Library(const LibraryOptions& options, Access access)
    : options_(options),
      db_path_(index::absolute_path(options.db.empty() ? store::default_db_path() : options.db)),
      store_(store::open_store(db_path_, access == Access::ReadOnly ? store::OpenMode::ReadOnly
                                                                     : store::OpenMode::ReadWriteOrReadOnly)) {
  const auto m = store_->model();
  if (!m)
    throw Error(db_path_ + ": the index is empty (no model recorded yet): run `clapsearch index DIR --db " + db_path_ + "`");
  identity_ = *m;
  roots_ = store_->roots();
  if (!options_.model.empty()) model_spec();  // a model that does not match is refused up front
}

Library::~Library() = default;

void Library::note(const std::string& message) const {
  if (options_.note) options_.note(message);
}

// --- tracks ----------------------------------------------------------------------------------

void Library::load_tracks() {
  if (tracks_loaded_) return;
  tracks_ = store_->tracks();
  for (size_t i = 0; i < tracks_.size(); ++i) {
    track_pos_[tracks_[i].id] = i;
    path_pos_[tracks_[i].path] = i;
  }
  tracks_loaded_ = true;
}

const std::vector<store::Track>& Library::tracks() {
  load_tracks();
  return tracks_;
}

const store::Track* Library::track(int64_t id) {
  load_tracks();
  auto it = track_pos_.find(id);
  return it == track_pos_.end() ? nullptr : &tracks_[it->second];
}

const store::Track* Library::find_track(const std::string& id_or_path) {
  load_tracks();
  if (is_integer(id_or_path))
    if (const store::Track* t = track(std::stoll(id_or_path))) return t;
  if (id_or_path.empty()) return nullptr;
  auto it = path_pos_.find(index::absolute_path(id_or_path));
  if (it != path_pos_.end()) return &tracks_[it->second];
  std::error_code ec;
  const fs::path canonical = fs::canonical(id_or_path, ec);  // the same file through a symlink
  if (!ec) {
    it = path_pos_.find(canonical.string());
    if (it != path_pos_.end()) return &tracks_[it->second];
  }
  return nullptr;
}

std::string Library::display_path(const std::string& path) {
  size_t best = 0;
  for (const auto& r : roots_)
    if (r.size() > best && path.size() > r.size() && index::path_under(path, r)) best = r.size();
  if (best == 0) return path;
  std::string rel = path.substr(best);
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  return rel.empty() ? path : rel;
}

std::vector<store::TrackLabel> Library::labels_of(int64_t track_id) {
  if (!labels_loaded_) {
    for (auto& l : store_->all_labels()) labels_[l.track_id].push_back(l);
    labels_loaded_ = true;
  }
  auto it = labels_.find(track_id);
  return it == labels_.end() ? std::vector<store::TrackLabel>{} : it->second;
}

std::string Library::tags_text(const store::Track& t) {
  std::string s;
  if (!t.artist.empty() && !t.title.empty()) s = t.artist + " \u2013 " + t.title;
  else s = t.artist + t.title;
  const auto labels = labels_of(t.id);
  if (!labels.empty()) {
    std::string l;
    for (const auto& x : labels) l += (l.empty() ? "" : ", ") + x.label;
    s += (s.empty() ? "[" : " [") + l + "]";
  }
  return s;
}

std::vector<store::WindowRecord> Library::track_windows(int64_t track_id) const { return store_->windows(track_id); }

void Library::store_labels(const std::vector<store::TrackLabel>& labels) {
  if (store_->read_only()) throw Error(db_path_ + ": the index cannot be written");
  store_->put_labels(labels);
  labels_loaded_ = false;
  labels_.clear();
}

// --- embeddings ------------------------------------------------------------------------------

const search::Catalog& Library::catalog() {
  if (!catalog_) {
    WindowTable t = store_->window_embeddings();
    if (t.size() == 0)
      throw Error(db_path_ + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " +
                  db_path_ + "`");
    catalog_ = std::make_unique<search::Catalog>(std::move(t));
    note("catalog: " + std::to_string(catalog_->window_count()) + " windows of " + std::to_string(catalog_->track_count()) +
         " tracks");
  }
  return *catalog_;
}

const search::VectorIndex& Library::window_index() {
  if (!window_index_) {
    const search::Catalog& c = catalog();
    search::LoadInfo info;
    window_index_ = std::make_unique<search::VectorIndex>(load_window_index(db_path_, c, &info));
    note("window index " + window_index_path(db_path_) + ": " + (info.rebuilt ? "rebuilt (" + info.reason + ")" : "loaded") +
         ", " + search::index_kind_name(window_index_->kind()) + ", " + std::to_string(window_index_->size()) + " windows" +
         (info.save_error.empty() ? "" : "; not saved: " + info.save_error));
  }
  return *window_index_;
}

const Embeddings& Library::track_embeddings() {
  if (!track_embeddings_) {
    track_embeddings_ = std::make_unique<Embeddings>(store_->track_embeddings());
    if (track_embeddings_->size() == 0)
      throw Error(db_path_ + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " +
                  db_path_ + "`");
    track_embeddings_->check("track embeddings of " + db_path_);
  }
  return *track_embeddings_;
}

std::vector<float> Library::track_embedding(int64_t track_id) {
  const Embeddings& e = track_embeddings();
  const int64_t i = e.find(track_id);
  if (i < 0) {
    const store::Track* t = track(track_id);
    if (!t) throw Error("no track " + std::to_string(track_id) + " in the index");
    throw Error(t->path + ": has no embedding in the index (" +
                (t->status == store::TrackStatus::Error ? "it could not be indexed: " + t->error : "silent throughout") + ")");
  }
  return std::vector<float>(e.row(i), e.row(i) + e.dim);
}

// --- model -----------------------------------------------------------------------------------

const index::ModelSpec& Library::model_spec() {
  if (!spec_) {
    const bool given = !options_.model.empty();
    const std::string spec = given ? options_.model : index::model_spec_of(identity_);
    hub::ResolvedModel resolved;
    try {
      resolved = hub::resolve_model(spec);
    } catch (const Error& e) {
      if (given) throw;
      throw Error(std::string("the index's model cannot be found: ") + e.what() +
                  " (pass --model with the folder or hub id it was indexed with)");
    }
    auto s = std::make_unique<index::ModelSpec>(
        index::describe_model(resolved, identity_.window_s, identity_.hop_s, identity_.silence_db));
    const std::string diff = identity_.mismatch(s->identity);
    if (!diff.empty())
      throw Error((given ? "--model " + spec : "the model " + spec) + " does not match the index " + db_path_ + ": " + diff +
                  ". The index was made with " + identity_.describe() +
                  "; searching needs embeddings from the same model (re-index with `clapsearch index DIR --model ... "
                  "--rebuild` to change models)");
    spec_ = std::move(s);
  }
  return *spec_;
}

const ClapModel& Library::model() {
  if (!model_) {
    const index::ModelSpec& s = model_spec();
    note("loading model " + s.resolved.dir);
    ModelOpenOptions mo;
    mo.threads = options_.threads;
    mo.warn = options_.warn;
    model_ = load_model(s.resolved, mo);
    state_ = std::make_unique<ClapState>(options_.threads, options_.warn);
    if (model_->embedding_dim() != identity_.dim)
      throw Error("the model's embedding size " + std::to_string(model_->embedding_dim()) + " differs from the index's " +
                  std::to_string(identity_.dim));
  }
  return *model_;
}

std::vector<float> Library::embed_texts(const std::vector<std::string>& texts) {
  const int d = dim();
  const std::string key = identity_.model_key();
  std::vector<float> out(texts.size() * static_cast<size_t>(d), 0.0f);
  std::vector<std::string> missing;
  std::map<std::string, std::vector<size_t>> slots;  // text -> rows wanting it
  for (size_t i = 0; i < texts.size(); ++i) {
    if (slots.count(texts[i])) {
      slots[texts[i]].push_back(i);
      continue;
    }
    slots[texts[i]].push_back(i);
    const auto cached = store_->cached_text(key, texts[i]);
    if (cached && static_cast<int>(cached->size()) == d) {
      std::copy(cached->begin(), cached->end(), out.begin() + static_cast<long>(i * d));
      ++cache_hits_;
    } else {
      missing.push_back(texts[i]);
      ++cache_misses_;
    }
  }
  if (!missing.empty()) {
    const ClapModel& m = model();
    if (!m.has_tokenizer()) throw Error("the model has no tokenizer: text queries are not possible with it");
    const std::vector<float> emb = m.embed_text(*state_, missing);
    bool saved = !store_->read_only();
    for (size_t k = 0; k < missing.size(); ++k) {
      std::vector<float> e(emb.begin() + static_cast<long>(k * d), emb.begin() + static_cast<long>((k + 1) * d));
      if (saved) {
        try {
          store_->put_cached_text(key, missing[k], e);
        } catch (const Error& err) {
          saved = false;
          note(std::string("text cache not written: ") + err.what());
        }
      }
      // Rows are taken from the same floats the cache holds: a later cached run prints the same.
      for (size_t row : slots[missing[k]]) std::copy(e.begin(), e.end(), out.begin() + static_cast<long>(row * d));
    }
    if (store_->read_only()) note("index opened read-only: text embeddings not cached");
  }
  // Duplicated texts.
  for (const auto& [text, rows] : slots)
    for (size_t r = 1; r < rows.size(); ++r)
      std::copy(out.begin() + static_cast<long>(rows[0] * d), out.begin() + static_cast<long>((rows[0] + 1) * d),
                out.begin() + static_cast<long>(rows[r] * d));
  note("text cache: " + std::to_string(cache_hits_) + " hit(s), " + std::to_string(cache_misses_) + " miss(es)" +
       (cache_misses_ ? " (embedded with the model)" : " (no model run)"));
  return out;
}

FileWindows Library::embed_file(const std::string& path, double window_s, double hop_s) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an audio file");
  const index::ModelSpec& s = model_spec();  // found and matching before anything is decoded
  WindowSettings ws;
  ws.window_s = window_s > 0 ? window_s : identity_.window_s;
  ws.hop_s = hop_s > 0 ? hop_s : identity_.hop_s;
  check_window_length(ws.window_s, s.sample_rate, s.max_samples);
  ws.silence_db = identity_.silence_db;
  const ClapModel& m = model();
  FileWindows fw = embed_file_windows(m, *state_, path, ws);
  int64_t silent = 0;
  for (uint8_t s : fw.silent) silent += s;
  note("embedded " + path + ": " + std::to_string(fw.size()) + " windows (" + std::to_string(silent) + " silent)");
  return fw;
}

std::vector<float> Library::file_embedding(const std::string& path) { return file_track_embedding(embed_file(path)); }

AudioItem Library::audio_item(const std::string& file_or_track) {
  if (const store::Track* t = find_track(file_or_track)) return {t->path, t->id, track_embedding(t->id)};
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
  if (const store::Track* t = find_track(target)) {
    if (t->status != store::TrackStatus::Ok) throw Error(t->path + ": could not be indexed: " + t->error);
    track_id = t->id;
    path = t->path;
    for (const auto& w : store_->windows(t->id)) {
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
