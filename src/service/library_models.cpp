// Library's model runs: finding and loading the model (once, shared), the pool of per-run
// states, text embeddings through the index's text cache (gathered into shared runs), and
// query audio embedded exactly as the indexer embeds a track.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/stat.h>

#include "core/error.h"
#include "service/embedding_sets.h"
#include "service/library_internal.h"
#include "core/missing_file.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

// The models this process has loaded and still holds, by what they were loaded from (R17S-1,
// hostile pass 17): a server opening a copy moved over its index (a restore, a script moving
// copies) loaded the same weights again at each one while every request waited for the reopen,
// and a copy every 0.3 s left it answering a few requests a second. A Library whose model is
// the one another Library of the process holds (the same files, unchanged since: their sizes,
// times and inodes; the same options) shares it: the model is immutable, and each Library keeps
// its own pool of run states. Weak: a model no Library holds is freed as before.
std::string loaded_model_key(const hub::ResolvedModel& resolved, const ModelOpenOptions& mo) {
  ModelFiles files;
  try {
    files = index::model_files_of(resolved);
  } catch (const std::exception&) {
    return "";  // not shared: load_model says what is wrong
  }
  std::string key = std::to_string(static_cast<int>(mo.audio_precision)) + "/" + std::to_string(static_cast<int>(mo.text_precision)) +
                    "/" + std::to_string(mo.prepare_audio) + std::to_string(mo.prepare_text) + "/" + std::to_string(mo.threads);
  // A file's status change time is in the key with its modification time: a file rewritten in
  // place (the same inode) and its modification time put back (touch -r, cp -p, rsync -t, or a
  // file system whose times are whole seconds) kept its key, and the old weights were shared
  // (hostile pass 19, H19S-2); the change time is set by every write and by setting the times,
  // and cannot be set back. The tokenizer is a folder, whose own times do not change when a file
  // in it is rewritten: its files are keyed one by one.
  const auto file_key = [](const std::string& path, struct stat& st) {
    if (::stat(path.c_str(), &st) != 0) return std::string();
    return path + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
           std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
  };
  for (const std::string* path : {&files.weights, &files.config, &files.preprocessor, &files.tokenizer_dir}) {
    struct stat st {};
    if (path->empty()) {
      key += "|-";
      continue;
    }
    const std::string one = file_key(*path, st);
    if (one.empty()) return "";
    key += "|" + one;
    if (S_ISDIR(st.st_mode)) {
      std::error_code ec;
      std::set<std::string> names;  // in order: a listing's order is the file system's
      for (const auto& entry : std::filesystem::directory_iterator(*path, ec)) names.insert(entry.path().string());
      if (ec) return "";
      for (const std::string& name : names) {
        struct stat inner {};
        const std::string k = file_key(name, inner);
        if (k.empty()) return "";
        key += "|" + k;
      }
    }
  }
  return key;
}

std::mutex loaded_models_mutex;
std::map<std::string, std::weak_ptr<const ClapModel>>& loaded_models() {
  static std::map<std::string, std::weak_ptr<const ClapModel>> models;
  return models;
}

}  // namespace

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
    std::unique_ptr<index::ModelSpec> s;
    try {
      s = std::make_unique<index::ModelSpec>(
          index::describe_model(resolved, identity_.window_s, identity_.hop_s, identity_.silence_db, identity_.precision));
    } catch (const InvalidArgument& e) {
      // The settings are the index's, not options given: "--hop 1e-300 s: at least 0.5 s" (exit
      // 2, a usage error) named an option nobody passed (hostile pass 14, H14C-4).
      char settings[160];
      std::snprintf(settings, sizeof settings, "window %g s, hop %g s, silence below %g dBFS", identity_.window_s,
                    identity_.hop_s, identity_.silence_db);
      throw Error(db_path_ + ": the index records " + settings + ", which the model " + spec + " cannot use (" + e.what() +
                  "); an index edited by hand? `clapsearch index DIR --db " + db_path_ + " --rebuild` makes a new one");
    }
    const std::string diff = identity_.mismatch(s->identity);
    if (!diff.empty() && shares_audio(s->identity)) {
      note("the model " + spec + " embeds audio exactly as the index's model " + identity_.id +
           " (a text fine-tune): its text queries apply to the stored embeddings");
    } else if (!diff.empty()) {
      // The model of another set of the index: switching sets is the remedy, not a rebuild
      // (which would throw that set's embeddings away; issue 53, L12).
      std::string remedy = "re-index with `clapsearch index DIR --model ... --rebuild` to change models";
      try {
        for (const store::EmbeddingSet& set : list_embedding_sets(location_))
          if (!set.active && set.identity.mismatch(s->identity).empty())
            remedy = set.complete() ? "the index holds this model's embeddings as set " + std::to_string(set.id) +
                                          ": switch to it with `clapsearch models --activate " + std::to_string(set.id) + "`"
                                    : "the index's set " + std::to_string(set.id) + " of this model is incomplete: " +
                                          "`clapsearch index DIR --model " + spec + "` completes it and switches to it";
      } catch (const Error&) {
        // The sets cannot be listed (a store error): the general advice stands.
      }
      throw Error((given ? "--model " + spec : "the model " + spec) + " does not match the index " + db_path_ + ": " + diff +
                  ". The index was made with " + identity_.describe() +
                  "; searching needs embeddings from the same model (" + remedy + ")");
    }
    spec_ = std::move(s);
  }
  return *spec_;
}

const ClapModel& Library::model() {
  if (model_ready_.load(std::memory_order_acquire)) return *model_;
  const index::ModelSpec& s = model_spec();
  std::lock_guard lock(model_mutex_);
  if (!model_) {
    ModelOpenOptions mo;
    mo.threads = options_.threads;
    mo.warn = options_.warn;
    mo.audio_precision = parse_precision(identity_.precision);
    mo.text_precision = options_.text_precision;
    mo.prepare_audio = mo.prepare_text = options_.load_both_towers;
    const std::string key = loaded_model_key(s.resolved, mo);
    std::shared_ptr<const ClapModel> m;
    if (!key.empty()) {
      std::lock_guard models_lock(loaded_models_mutex);
      auto& models = loaded_models();
      for (auto it = models.begin(); it != models.end();) it = it->second.expired() ? models.erase(it) : std::next(it);
      if (const auto found = models.find(key); found != models.end()) m = found->second.lock();
    }
    if (!m) {
      note("loading model " + (s.resolved.weights_file.empty() ? s.resolved.dir : s.resolved.weights_file));
      m = load_model(s.resolved, mo);
      if (!key.empty()) {
        std::lock_guard models_lock(loaded_models_mutex);
        loaded_models()[key] = m;
      }
    }
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
  const std::string* cache_key;  // the text cache's key for these texts (null: not cached)
  std::vector<float> out;
  std::exception_ptr error;
  bool done = false;
};

// Under concurrent load, the clients a batch served send their next texts a few ms apart (each
// first runs its search and gets its answer). A runner that started at the first arrival would
// split them into a small batch and a large one behind it, and every text would wait for both
// (16 clients measured: batches of 12 and 4, p99 217 ms; gathered, batches of 16). So, when the
// last batches served several requests, the runner first waits for as many requests as are
// expected: those the last batch served plus those that arrived while it ran (a client that
// missed a gathering is queued already; without counting it, the split into 15 and 1 repeated
// batch after batch), at least as many as the batch before served. Then it waits for as long as
// requests keep arriving, never longer than half the last batch's run (capped): a wait that
// would cost more than the merge saves is not taken. A lone client (batches of one) never waits.
void Library::gather_text_requests(std::unique_lock<std::mutex>& lock, size_t max_texts) {
  constexpr auto kLongestGather = std::chrono::milliseconds(50);
  constexpr auto kArrivalGap = std::chrono::milliseconds(2);
  const size_t expected =
      std::max(last_text_batch_requests_ + arrived_during_last_run_, previous_text_batch_requests_);
  if (expected < 2) return;
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::min<std::chrono::steady_clock::duration>(last_text_batch_time_ / 2, kLongestGather);
  auto queued_texts = [&] {
    size_t n = 0;
    for (const TextRequest* r : text_queue_) n += r->texts->size();
    return n;
  };
  while (queued_texts() < max_texts) {
    const size_t seen = text_queue_.size();
    const auto until = seen >= expected ? std::min(deadline, std::chrono::steady_clock::now() + kArrivalGap) : deadline;
    if (!text_arrival_cv_.wait_until(lock, until, [&] { return text_queue_.size() != seen; })) return;
  }
}

std::vector<float> Library::run_text_tower(const std::vector<std::string>& texts, const std::string* cache_key) {
  constexpr size_t kMaxBatchTexts = 64;
  const ClapModel& m = model();
  TextRequest mine{&texts, cache_key, {}, nullptr, false};
  std::unique_lock lock(text_mutex_);
  text_queue_.push_back(&mine);
  if (text_turn_ == TextTurn::Running) ++arrived_during_run_;
  text_arrival_cv_.notify_one();
  while (!mine.done) {
    if (text_turn_ != TextTurn::Free) {
      text_cv_.wait(lock);
      continue;
    }
    text_turn_ = TextTurn::Gathering;
    gather_text_requests(lock, kMaxBatchTexts);
    // This caller runs the next batch: every request queued, up to the batch limit (its own
    // request is always among them: it is the oldest unserved one or was queued behind them).
    std::vector<TextRequest*> batch;
    size_t count = 0;
    while (!text_queue_.empty() && (batch.empty() || count + text_queue_.front()->texts->size() <= kMaxBatchTexts)) {
      count += text_queue_.front()->texts->size();
      batch.push_back(text_queue_.front());
      text_queue_.erase(text_queue_.begin());
    }
    previous_text_batch_requests_ = last_text_batch_requests_;
    last_text_batch_requests_ = batch.size();
    arrived_during_run_ = text_queue_.size();  // left over by the batch limit: they wait like late arrivals
    text_turn_ = TextTurn::Running;
    lock.unlock();
    std::vector<std::string> all;
    for (TextRequest* r : batch) all.insert(all.end(), r->texts->begin(), r->texts->end());
    std::vector<float> emb;
    std::vector<uint8_t> cut;  // 1: the text was cut at the model's limit (and warned of)
    std::exception_ptr error;
    std::chrono::steady_clock::duration took{};
    try {
      StateLease state = lease_state();
      const auto started = std::chrono::steady_clock::now();
      emb = m.embed_text(*state, all, 16, 0, &cut);
      took = std::chrono::steady_clock::now() - started;
    } catch (...) {
      error = std::current_exception();
    }
    if (!error) cache_texts(batch, emb, cut);
    lock.lock();
    arrived_during_last_run_ = arrived_during_run_;
    last_text_batch_time_ = took;
    if (!error) ++text_tower_runs_;
    size_t at = 0;
    const size_t d = static_cast<size_t>(dim());
    for (TextRequest* r : batch) {
      if (error) r->error = error;
      else r->out.assign(emb.begin() + static_cast<long>(at * d), emb.begin() + static_cast<long>((at + r->texts->size()) * d));
      at += r->texts->size();
      r->done = true;
    }
    text_turn_ = TextTurn::Free;
    text_cv_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
  return std::move(mine.out);
}

// The batch's new texts go into the text cache in one transaction: one commit for every client
// a gathered run served (on PostgreSQL, one WAL flush instead of one per client), written before
// the clients are answered, so a text asked again right after is a cache hit.
// A text cut at the model's limit is not cached: the warning comes from the tokenizer, which a
// cache hit does not run, so a cached cut text was warned of on its first run only (hostile pass
// 20, H20C-1). Embedded each time, it is warned of on every run, as the model sees it every time.
void Library::cache_texts(const std::vector<TextRequest*>& batch, const std::vector<float>& embeddings,
                          const std::vector<uint8_t>& cut) {
  std::vector<store::CachedText> entries;
  const size_t d = static_cast<size_t>(dim());
  size_t at = 0;
  for (const TextRequest* r : batch) {
    for (const std::string& text : *r->texts) {
      if (r->cache_key && !cut[at])
        entries.push_back({*r->cache_key, text,
                           std::vector<float>(embeddings.begin() + static_cast<long>(at * d),
                                              embeddings.begin() + static_cast<long>((at + 1) * d))});
      ++at;
    }
  }
  if (entries.empty()) return;
  std::lock_guard lock(store_->mutex);
  try {
    store_->live().put_cached_texts(entries);
  } catch (const Error& err) {
    // A warning: the search still answers, but the user should learn that the disk is full or
    // failing (the next run embeds these texts again).
    if (options_.warn) options_.warn(std::string("text cache not written: ") + err.what());
  }
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
    store::Store& store = store_->live();
    for (size_t i = 0; i < texts.size(); ++i) {
      const bool seen = slots.count(texts[i]) > 0;
      slots[texts[i]].push_back(i);
      if (seen) continue;
      const auto cached = store.cached_text(key, texts[i]);
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
    // The run also caches them (in one transaction with the other requests it serves).
    // Under the lock: the refresh loop and live() may open the connection again meanwhile.
    const bool read_only = [&] {
      std::lock_guard lock(store_->mutex);
      return store_->held().read_only();
    }();
    const std::vector<float> emb = run_text_tower(missing, read_only ? nullptr : &key);
    for (size_t k = 0; k < missing.size(); ++k)
      // Rows are taken from the same floats the cache holds: a later cached run prints the same.
      for (size_t row : slots[missing[k]])
        std::copy(emb.begin() + static_cast<long>(k * d), emb.begin() + static_cast<long>((k + 1) * d),
                  out.begin() + static_cast<long>(row * d));
    if (read_only) note("index opened read-only: text embeddings not cached");
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
  if (const std::string why = missing_file_reason(path); !why.empty()) throw Error(path + ": " + why);
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

}  // namespace clap::service
