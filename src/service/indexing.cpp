#include "service/indexing.h"

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "hub/hub.h"
#include "index/crawl.h"
#include "index/identity.h"
#include "index/precut.h"
#include "index/retag_moves.h"
#include "service/accounts.h"
#include "service/migrate.h"
#include "service/worker.h"

namespace clap::service {

namespace {
namespace fs = std::filesystem;

// A private folder (mkdtemp: mode 0700, a name nobody can plant) holding the index a --rebuild
// builds aside: beside a SQLite index (the same file system, so its space is what the index
// needs), named after it (".library.db.rebuild-XXXXXX"), in the temporary folder for a
// PostgreSQL one. Removed with everything in it; the folders of a run that was killed are
// removed by the next rebuild of that index (which holds its indexer lock: no other is running).
class StagingFolder {
 public:
  explicit StagingFolder(const std::string& location) {
    const bool server = store::is_server_location(location);
    fs::path parent = server ? fs::temp_directory_path() : fs::path(location).parent_path();
    if (parent.empty()) parent = ".";
    std::string prefix = ".clapsearch-rebuild-";
    if (!server) {
      prefix = fs::path(location).filename().string();
      prefix.insert(prefix.begin(), '.');
      prefix.append(".rebuild-");
    }
    std::error_code ec;
    if (!server)
      for (const auto& entry : fs::directory_iterator(parent, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() == prefix.size() + 6 && name.rfind(prefix, 0) == 0 && entry.is_directory(ec) && !entry.is_symlink(ec))
          fs::remove_all(entry.path(), ec);
      }
    std::string name = (parent / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(name.data()))
      throw Error(parent.string() + ": cannot make the folder --rebuild builds the new index in: " + std::strerror(errno));
    dir_ = name;
  }
  ~StagingFolder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;
  std::string db() const { return dir_ + "/rebuild.db"; }

 private:
  std::string dir_;
};
}  // namespace

std::string describe_salvage(const store::Salvage& salvage, const std::string& db_path) {
  std::string text = db_path + ": the index is damaged; a new one is built, and the damaged file is kept as " +
                     salvage.backup;
  if (salvage.schema_unreadable) return text + "; its list of tables could not be read, so nothing of it could be kept";
  text += "; carried over from it:";
  bool any = false;
  for (const store::SalvagedTable& t : salvage.tables) {
    if (t.missing || (t.kept == 0 && t.left_out == 0 && t.unreadable == 0)) continue;
    any = true;
    text += "\n  " + (t.table == "tracks" ? std::string("track ids") : t.table == "retired_tracks" ? "retired track ids" : t.table) +
            " " + std::to_string(t.kept) + " kept";
    if (!t.unreadable) text += ", some could not be read (how many is not known)";
    else if (*t.unreadable > 0) text += ", " + std::to_string(*t.unreadable) + " could not be read";
    if (t.left_out > 0) text += ", " + std::to_string(t.left_out) + " left out (the user or list they belong to could not be read)";
  }
  if (!any) text += " nothing (it held no users' data or tracks that could be read)";
  return text;
}

void remove_new_index(const std::string& location) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) fs::remove(location + suffix, ec);
}

IndexRun run_index(const IndexRequest& r, const index::IndexCallbacks& callbacks, const Notice& warn, LoadedModel* keep) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  IndexRun run;
  const std::string location = store::resolve_location(r.db);
  run.db_path = store::display_location(location);
  store::check_index_folder(location);  // a typo in --db is an error, not a new folder tree
  if (r.plan && !store::is_server_location(location))
    throw Error(run.db_path + ": --plan records jobs for workers on other machines, which needs a PostgreSQL store "
                "(--db postgresql://...); a SQLite index is indexed by `clapsearch index` alone");
  // --rebuild of an index too damaged to open or read (store::is_damage): nothing of it is used,
  // and the file is replaced by a new index once the model is resolved - if it is recognisably a
  // clapsearch index (store::check_replaceable, asked up front: another program's file is refused
  // untouched). Without --rebuild the damage is reported, with --rebuild as the way out.
  std::unique_ptr<StagingFolder> staging;  // removed after the stores below are closed
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::Store> live;  // a --rebuild's index while `store` is the one built aside
  std::unique_ptr<store::IndexerLock> lock;  // taken on `store`, or `live`: ends before either
  std::optional<store::ModelIdentity> stored;
  std::string damage;
  const auto damaged = [&](const std::exception& e) {
    if (!r.rebuild || !store::is_damage(e)) return false;
    store::check_replaceable(location);
    damage = e.what();
    // A SQLite lock (a file) is kept: no other indexer starts meanwhile. A PostgreSQL lock is a
    // session lock of the store's own connection: it ends with it, and its destructor then used
    // the closed connection - `index --rebuild` of a database with a damaged meta row crashed
    // (SIGSEGV, exit 139) after the rebuild (hostile pass 14, H14C-8). replace_damaged_index takes
    // it again on its own connection.
    if (store::is_server_location(location)) lock.reset();
    store.reset();
    return true;
  };
  // A new SQLite index is created only once the run is known to start: a usage mistake found on
  // the way (a folder that is not there, --hop 0.1, --window longer than the model's input, a
  // model that does not exist) leaves nothing at a new --db path (hostile pass 12, R12C-1: it
  // left an empty index and its lock file). Until then the run is that of an index with no model.
  for (const std::string& dir : r.dirs) index::check_root(dir);
  std::error_code absent_ec;
  const bool create_later =
      !store::is_server_location(location) && !fs::exists(fs::symlink_status(location, absent_ec));
  const auto open_existing = [&] {
    try {
      store = store::open_store(location, store::OpenMode::ReadWrite);
    } catch (const std::exception& e) {
      if (!damaged(e)) throw;
    }
    if (store) lock = store->lock_indexer();
    try {
      if (store) stored = store->model();
    } catch (const std::exception& e) {
      if (!damaged(e)) throw;
    }
  };
  if (!create_later) open_existing();
  // A server's database rebuilt in place: what a user made that depends on its tables (another
  // table's foreign key to tracks) is named now, before the model loads, not after the work.
  if (store && r.rebuild && store::is_server_location(location)) store::check_replaceable(location);
  // A damaged SQLite file is replaced by a new index holding what could be read of its users'
  // data and track ids; the file itself is kept beside it (store.h: replace_damaged_index).
  const auto replace_damaged_into = [&](std::unique_ptr<store::Store>& target) {
    target.reset();
    store::Salvage salvage;
    target = store::replace_damaged_index(location, lock, &salvage);
    if (store::is_server_location(location)) {
      if (warn)
        warn(run.db_path + ": the index's missing tables were created again (and those with a column damaged by hand, whose "
                           "rows a rebuild deletes, made anew); it is indexed anew");
      return;
    }
    if (warn) warn(describe_salvage(salvage, run.db_path));
    run.salvage = std::move(salvage);
  };
  const auto replace_damaged = [&] { replace_damaged_into(store); };

  ResolvedSettings resolved_settings = resolve_settings(r, stored);
  index::IndexSettings settings;
  settings.window_s = resolved_settings.window_s;
  settings.hop_s = resolved_settings.hop_s;
  settings.silence_db = resolved_settings.silence_db;
  settings.batch = r.batch;
  settings.model_threads = r.threads;
  settings.decode_threads = r.decoders;
  settings.first_pass = r.first_pass;
  settings.max_passes = r.max_passes;
  settings.retry_errors = r.retry_errors;
  settings.prune_missing = r.prune_missing;
  settings.crawl.include = r.include;
  settings.crawl.exclude = r.exclude;
  settings.crawl.skip = r.skip;
  settings.crawl.follow_links_out = r.follow_links_out;

  ModelOpenOptions mo;
  mo.hub = resolved_settings.model_options;
  mo.hub.quiet = r.quiet;
  mo.threads = r.threads;
  mo.warn = warn;
  mo.audio_precision = resolved_settings.precision;
  mo.prepare_audio = true;  // loaded only to embed audio: packing counts as loading, not as model time
  const hub::ResolvedModel resolved = hub::resolve_model(resolved_settings.model_spec, mo.hub);
  index::ModelSpec spec = index::describe_model(resolved, settings.window_s, settings.hop_s, settings.silence_db,
                                                precision_name(resolved_settings.precision));
  // --precision auto: chosen now on an index's first run, or on a run of an index that still holds
  // no track after an earlier one found no audio to choose on (precision_choice.h).
  if (!resolved_settings.choose_precision && stored && (!r.precision || *r.precision == "auto") &&
      precision_choice_open(*stored) && store) {
    try {
      resolved_settings.choose_precision = store->counts().tracks == 0;
    } catch (const std::exception& e) {
      if (!damaged(e)) throw;  // counts() reads every table: --rebuild of damaged pages goes on
    }
  }
  audio::DecodeCounts sample_decodes;  // the sample's (counted with the run's)
  if (resolved_settings.choose_precision) {
    // The sample's decodes of its files are their first passes' (index/precut.h), in a run that
    // makes first passes here (--plan leaves them to the workers).
    if (r.first_pass > 0 && !r.plan) settings.precut = std::make_shared<index::PrecutFirstPasses>();
    const audio::DecodeCounts before = audio::decode_counts();
    run.precision_choice = choose_run_precision(r, resolved_settings, resolved, mo, settings.precut);
    const audio::DecodeCounts after = audio::decode_counts();
    sample_decodes = {after.whole - before.whole, after.spans - before.spans};
    mo.audio_precision = resolved_settings.precision;
    spec.identity.precision = precision_name(resolved_settings.precision);
  }
  spec.identity.precision_choice = resolved_settings.precision_choice;
  if (create_later) {
    open_existing();
    // Another indexer made the index meanwhile (and held its lock until now): this run is one
    // of an existing index, whose settings are resolved from what it holds.
    if (stored) {
      lock.reset();
      store.reset();
      return run_index(r, callbacks, warn, keep);
    }
  }
  if (!damage.empty()) replace_damaged();
  // The file this run writes (after a damaged one was replaced by a new file, above), to tell at
  // the end whether another file was moved over it or it was deleted meanwhile (kept_at_name).
  std::optional<std::pair<uint64_t, uint64_t>> opened = index_file_id(location);
  // --rebuild of a sound index is built aside (issue 53): in a new SQLite index in a private
  // folder, then copied over the old library in one transaction (replace_index), so that readers
  // (serve, search, a Python Library) keep seeing the old library until the new one is whole,
  // and an interrupted rebuild leaves it as it was. Not with --plan: workers on other machines
  // take their jobs from the store itself, which is then emptied at the start as before.
  if (r.rebuild && damage.empty() && !r.plan) {
    staging = std::make_unique<StagingFolder>(location);
    live = std::move(store);
    store = store::open_store(staging->db(), store::OpenMode::ReadWrite);
  }
  const bool wipe = r.rebuild && !staging;
  try {
    run.built_set = index::ensure_identity(*store, spec.identity, wipe, r.model.has_value() && !staging);
  } catch (const std::exception& e) {
    if (!damage.empty() || !damaged(e)) throw;  // --rebuild's wipe found damaged pages
    replace_damaged();
    opened = index_file_id(location);
    run.built_set = index::ensure_identity(*store, spec.identity, wipe, r.model.has_value());
  }
  // A backup moved over the index, or the index deleted, while the run indexed: what it indexed
  // went into the old file, and the run said "indexed N" of an index that holds none of it (a
  // Python Library.index() and the CLI's index returned success; hostile pass 19, H19P-2). Said
  // as the run's error once its writes are done, as the history import does (H17P-2): a
  // replacement after this check is one of an index that holds the whole run.
  const auto kept_at_name = [&] {
    if (!opened || index_file_id(location) == opened) return;
    throw Error(run.db_path + ": the index file was replaced (deleted, or another moved over it) while this run indexed: the " +
                std::to_string(run.summary.indexed) + " files it indexed went into the old file, not into the index there now; "
                "run the index again (it indexes what the index there lacks)");
  };
  run.identity = spec.identity;

  LoadedModel this_run;
  LoadedModel& loaded = keep ? *keep : this_run;
  const std::string model_key =
      spec.identity.describe() + " " + spec.identity.content_hash + " threads " + std::to_string(r.threads);
  if (loaded.key != model_key) loaded = LoadedModel{model_key, nullptr};
  const index::ModelProvider provider = [&]() -> const ClapModel& {
    if (!loaded.model) loaded.model = load_model(resolved, mo);
    return *loaded.model;
  };
  if (run.built_set) {
    // Another model's set, built beside the active one that every query keeps reading.
    run.summary = index::build_set(*store, run.built_set, spec, settings, provider, callbacks);
    run.set_windows = run.summary.embedded_windows;
    run.summary.deepened = 0;  // not the active set's windows: the summary's own line says what the set got
    run.summary.last_pass = 0;
    for (const store::EmbeddingSet& set : store->embedding_sets())
      if (set.id == run.built_set) run.set = set;
    if (r.switch_when == IndexRequest::Switch::Never || (r.switch_when == IndexRequest::Switch::Complete && !run.set.complete())) {
      run.summary.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      kept_at_name();
      return run;
    }
    store->activate_set(run.built_set);  // one transaction: queries move from the old set to this one
    run.switched = true;
    run.set.active = true;
    // The rest of the run indexes with the model now active: new, changed and missing files, and
    // the windows the set lacked (Switch::Now).
    const index::IndexSummary before = run.summary;
    run.summary = index::index_roots(*store, r.dirs, spec, settings, provider, callbacks);
    run.summary.embedded_windows += before.embedded_windows;
    run.summary.windows += before.windows;
    run.summary.load_seconds += before.load_seconds;
    run.summary.model_seconds += before.model_seconds;
    run.summary.decode_seconds += before.decode_seconds;
    run.summary.whole_decodes += before.whole_decodes;
    run.summary.span_decodes += before.span_decodes;
    run.summary.db_seconds += before.db_seconds;
    run.summary.audio_seconds += before.audio_seconds;
  } else if (store->has_job_queue()) {
    // A store shared by machines: the files to embed become jobs; without --plan this process
    // is also the one worker (other workers may help).
    run.summary = index::plan_roots(*store, r.dirs, settings, callbacks);
    run.planned = run.summary.planned;
    if (r.plan) run.kept_track_ids = static_cast<int64_t>(store->kept_track_ids().size());
    if (!r.plan) {
      WorkerRequest work;
      work.until_done = true;
      work.claim = kClaimAll;
      work.lease_s = 120;
      WorkerRun worker;
      worker.db_path = run.db_path;
      worker.worker = unique_worker_name();
      std::unique_ptr<store::Store> queue = store::open_store(location, store::OpenMode::ReadWriteExisting);
      work_queue(location, queue, spec, settings, provider, work, callbacks, warn, worker);
      accumulate(run.summary, worker.summary);
      run.summary.planned = 0;  // queued and done by this process
      queue->forget_finished_jobs();  // the run is over: nothing left to show as progress
    }
  } else {
    run.summary = index::index_roots(*store, r.dirs, spec, settings, provider, callbacks);
  }
  if (staging) {
    try {
      replace_index(*store, *live);  // the rebuilt library, whole, in one transaction
    } catch (const std::exception& e) {
      // The old library's pages are damaged (found when they are deleted): the file is replaced,
      // as --rebuild replaces any damaged index, and the new library copied into it.
      if (!store::is_damage(e)) throw;
      store::check_replaceable(location);
      replace_damaged_into(live);
      opened = index_file_id(location);  // the new file this run made
      replace_index(*store, *live);
    }
    store.reset();
  }
  // Stars, plays and playlists follow their songs to the ids this run gave them (a --rebuild
  // keeps each file's id: migrate.cpp kept_track_ids; a file moved or deleted and indexed again
  // may get a new one; store.h SongRef), in the store that holds the library now.
  (staging ? *live : *store).reattach_songs();
  run.summary.whole_decodes += sample_decodes.whole;
  run.summary.span_decodes += sample_decodes.spans;
  settings.precut.reset();  // the cuts of files this run did not decode (moved, or changed since)
  run.summary.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();  // resolution included
  kept_at_name();
  return run;
}

}  // namespace clap::service
