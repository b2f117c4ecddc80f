#include "service/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"
#include "hub/hub.h"
#include "index/crawl.h"
#include "index/identity.h"
#include "service/index_request.h"

namespace clap::service {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string unique_worker_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  std::random_device rd;
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s:%d:%08x", host, static_cast<int>(::getpid()), rd());
  return buf;
}

namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", s);
  return buf;
}

// Renews this worker's leases every lease/3 on a connection of its own (the work loop's is busy
// inside a transaction or a long query at any moment). A failed renewal is tried again at the
// next beat, on a new connection.
class Heartbeat {
 public:
  Heartbeat(std::string location, std::string worker, double lease_s)
      : location_(std::move(location)), worker_(std::move(worker)), lease_s_(lease_s) {
    thread_ = std::thread([this] { run(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    const auto beat = std::chrono::duration<double>(std::max(0.5, lease_s_ / 3));
    std::unique_ptr<store::Store> store;
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, beat, [this] { return stop_; })) {
      try {
        if (!store) store = store::open_store(location_, store::OpenMode::ReadWriteExisting);
        store->renew_leases(worker_, lease_s_);
      } catch (const std::exception&) {
        store.reset();
      }
    }
  }

  std::string location_, worker_;
  double lease_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// Sleeps up to `seconds`, waking early when `stop` is set.
void nap(double seconds, const std::atomic<bool>* stop) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until && !(stop && stop->load())) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

}  // namespace

std::function<std::string(const std::string&)> path_mapper(const std::vector<std::string>& path_map) {
  std::vector<std::pair<std::string, std::string>> map;
  for (const std::string& entry : path_map) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size())
      throw InvalidArgument("--path-map " + entry + ": expected FROM=TO (the planner's folder = where this machine mounts it)");
    std::string from = entry.substr(0, eq), to = entry.substr(eq + 1);
    if (from.front() != '/' || to.front() != '/')
      throw InvalidArgument("--path-map " + entry + ": both folders must be absolute paths");
    map.emplace_back(index::absolute_path(from), index::absolute_path(to));
  }
  // The longest FROM first: /music/live=/mnt/live wins over /music=/mnt/music for /music/live/x.
  std::stable_sort(map.begin(), map.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  if (map.empty()) return {};
  return [map](const std::string& path) {
    for (const auto& [from, to] : map)
      if (index::path_under(path, from)) return to + path.substr(from == "/" ? 0 : from.size());
    return path;
  };
}

void accumulate(index::IndexSummary& t, const index::IndexSummary& b) {
  t.indexed += b.indexed;
  t.errors += b.errors;
  t.silent += b.silent;
  t.ok_files += b.ok_files;
  t.lost_leases += b.lost_leases;
  t.windows += b.windows;
  t.silent_windows += b.silent_windows;
  t.embedded_windows += b.embedded_windows;
  // The windows later passes added: a PostgreSQL index's run (its files go through the job
  // queue) left them out of its summary, which said "indexed 0" alone after embedding every
  // window a resumed run lacked, where SQLite's says "N windows added by passes 2-M" (hostile
  // pass 21, H21C-4).
  t.deepened += b.deepened;
  t.last_pass = std::max(t.last_pass, b.last_pass);
  t.speech_scored += b.speech_scored;
  t.audio_seconds += b.audio_seconds;
  t.load_seconds += b.load_seconds;
  t.model_seconds += b.model_seconds;
  t.decode_seconds += b.decode_seconds;
  t.whole_decodes += b.whole_decodes;
  t.span_decodes += b.span_decodes;
  t.db_seconds += b.db_seconds;
  t.new_errors.insert(t.new_errors.end(), b.new_errors.begin(), b.new_errors.end());
}

void work_queue(const std::string& location, std::unique_ptr<store::Store>& store, const index::ModelSpec& spec,
                const index::IndexSettings& settings, const index::ModelProvider& model, const WorkerRequest& r,
                const index::IndexCallbacks& callbacks, const Notice& note, WorkerRun& run) {
  index::JobOptions options;
  options.worker = run.worker;
  options.read_path = path_mapper(r.path_map);
  options.max_attempts = r.max_attempts;
  // A few files per claim: enough to keep the decoders ahead of the model, few enough that a
  // dying worker strands little work and the jobs spread over the workers.
  const int claim = r.claim > 0 ? r.claim : std::max(4, 2 * settings.decode_threads);
  Heartbeat heartbeat(location, run.worker, r.lease_s);
  const Clock::time_point started = Clock::now();
  int64_t files_done = 0;
  double backoff = 0.5;
  Clock::time_point unreachable_since{};
  bool unreachable = false;
  while (!(r.stop && r.stop->load())) {
    try {
      if (!store) {
        store = store::open_store(location, store::OpenMode::ReadWriteExisting);
        // The jobs claimed before the connection broke: given back, claimed again below.
        store->release_jobs(run.worker);
        ++run.reconnects;
        if (note) note("connected again to " + run.db_path);
      }
      unreachable = false;
      backoff = 0.5;
      // --passes N (settings.max_passes): this process takes no job of a later pass; those
      // stay queued for the next run or another worker.
      const std::vector<store::IndexJob> jobs = store->claim_jobs(run.worker, claim, r.lease_s, settings.max_passes);
      if (jobs.empty()) {
        const store::JobCounts counts = store->job_counts();
        if (r.until_done && counts.open_through(settings.max_passes) == 0) break;
        // Jobs leased by other workers: wait; if a lease runs out, this worker takes the job.
        nap(r.idle_poll_s, r.stop);
        continue;
      }
      // The index's active set may have changed since this worker started (`clapsearch models
      // --activate`, `index --model NEW`): its model would then store another model's embeddings.
      // Checked after the claim: a switch refuses while jobs are leased, so a claim before the
      // switch holds it off, and a claim after it finds the new model here.
      if (const std::optional<store::ModelIdentity> now = store->model();
          !now || (!now->mismatch(spec.identity).empty() && !now->shares_audio_with(spec.identity))) {
        store->release_jobs(run.worker);
        throw Error(run.db_path + ": the index's active embedding set is now " + (now ? now->describe() : "none") +
                    ", not this worker's " + spec.identity.describe() + ": start the worker again to embed with it");
      }
      ++run.batches;
      // Progress over the whole queue as this worker sees it, not per claim: the files it has
      // done, plus this claim, plus what is still waiting for any worker.
      const int64_t waiting = callbacks.progress ? store->job_counts().pending : 0;
      index::IndexCallbacks batch_callbacks = callbacks;
      if (callbacks.progress)
        batch_callbacks.progress = [&, done_before = files_done, audio_before = run.summary.audio_seconds, waiting](index::IndexProgress p) {
          p.audio_seconds += audio_before;
          p.files_total = done_before + p.files_total + waiting;
          p.files_done += done_before;
          p.elapsed_seconds = std::chrono::duration<double>(Clock::now() - started).count();
          p.eta_seconds = p.files_done > 0 ? p.elapsed_seconds * double(p.files_total - p.files_done) / double(p.files_done) : -1;
          if (p.finished && p.files_done < p.files_total) p.finished = false;  // more claims to come
          callbacks.progress(p);
        };
      const index::IndexSummary batch = index::embed_jobs(*store, jobs, options, spec, settings, model, batch_callbacks);
      files_done += static_cast<int64_t>(jobs.size());
      accumulate(run.summary, batch);
    } catch (const Error& e) {
      // Is the database still there? If it answers, the error was something else: stop.
      bool reachable = false;
      if (store) {
        try {
          store->job_counts();
          reachable = true;
        } catch (const std::exception&) {
        }
      }
      if (reachable) throw;
      store.reset();
      if (!unreachable) {
        unreachable = true;
        unreachable_since = Clock::now();
      }
      const double down = std::chrono::duration<double>(Clock::now() - unreachable_since).count();
      if (down > r.reconnect_for_s)
        throw Error(run.db_path + ": unreachable for " + seconds_text(down) + ", giving up: " + e.what());
      if (note) note("lost " + run.db_path + " (" + e.what() + "); trying again in " + seconds_text(backoff));
      nap(backoff, r.stop);
      backoff = std::min(backoff * 2, 30.0);
    }
  }
  if (r.stop && r.stop->load()) {
    run.stopped = true;
    if (store) store->release_jobs(run.worker);
  }
}

WorkerRun run_worker(const WorkerRequest& r, const index::IndexCallbacks& callbacks, const Notice& note) {
  const auto t0 = Clock::now();
  WorkerRun run;
  const std::string location = store::resolve_location(r.db);
  run.db_path = store::display_location(location);
  run.worker = unique_worker_name();
  if (r.lease_s < 5) throw InvalidArgument("--lease must be at least 5 seconds");
  if (r.max_attempts < 1) throw InvalidArgument("--max-attempts must be at least 1");
  if (r.max_passes < 0) throw InvalidArgument("--passes must be 0 (every pass) or more");
  path_mapper(r.path_map);  // a bad map is refused before anything is claimed
  if (!store::is_server_location(location))
    throw Error(run.db_path + ": a SQLite index has no job queue: index it with `clapsearch index` on one machine; "
                "workers on several machines need a PostgreSQL store (--db postgresql://...)");
  std::unique_ptr<store::Store> store = store::open_store(location, store::OpenMode::ReadWriteExisting);
  const std::optional<store::ModelIdentity> stored = store->model();
  if (!stored)
    throw Error(run.db_path + ": no model recorded yet: plan the work first (`clapsearch index DIR --plan --db " +
                run.db_path + "`)");

  // The index's model and settings, whatever this machine would default to: every worker embeds
  // alike. A model given here must be the index's (or a text-only tune of it).
  IndexRequest as_index;
  as_index.model = r.model;
  as_index.model_config = r.model_config;
  as_index.model_tokenizer = r.model_tokenizer;
  const ResolvedSettings resolved_settings = resolve_settings(as_index, stored);
  ModelOpenOptions mo;
  mo.hub = resolved_settings.model_options;
  mo.hub.quiet = r.quiet;
  mo.threads = r.threads;
  mo.warn = note;
  mo.audio_precision = resolved_settings.precision;
  mo.prepare_audio = true;
  const hub::ResolvedModel resolved = hub::resolve_model(resolved_settings.model_spec, mo.hub);
  const index::ModelSpec spec = index::describe_model(resolved, stored->window_s, stored->hop_s, stored->silence_db,
                                                      precision_name(resolved_settings.precision));
  if (const std::string diff = stored->mismatch(spec.identity); !diff.empty() && !stored->shares_audio_with(spec.identity))
    throw Error("this worker's model " + spec.identity.describe() + " is not the index's " + stored->describe() + " (" + diff +
                "): every worker must embed with the index's model and settings");
  run.identity = *stored;

  index::IndexSettings settings;
  settings.window_s = stored->window_s;
  settings.hop_s = stored->hop_s;
  settings.silence_db = stored->silence_db;
  settings.batch = r.batch;
  settings.model_threads = r.threads;
  settings.decode_threads = r.decoders;
  settings.max_passes = r.max_passes;

  std::unique_ptr<ClapModel> model;
  const index::ModelProvider provider = [&]() -> const ClapModel& {
    if (!model) model = load_model(resolved, mo);
    return *model;
  };
  work_queue(location, store, spec, settings, provider, r, callbacks, note, run);
  run.summary.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return run;
}

}  // namespace clap::service
