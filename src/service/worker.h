// `clapsearch worker`: one of any number of processes, on any machines, that embed the files a
// planner (`clapsearch index --plan`) queued in a PostgreSQL store.
//
// A worker claims a few jobs at a time (Store::claim_jobs: SELECT ... FOR UPDATE SKIP LOCKED,
// with a lease on the server's clock), embeds them with the index's own model and settings, and
// stores each track with its job in one transaction (Store::finish_job). A heartbeat thread on
// its own connection renews the leases every lease/3. A worker that dies or is cut off loses its
// leases; after the lease the jobs are claimed again, and a track is never stored twice or half
// (finish_job writes only while the lease is held). When the database goes away (a restart), the
// worker gives its jobs back once it is reachable again and goes on, retrying with backoff.
#pragma once
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "index/indexer.h"
#include "service/model.h"
#include "store/store.h"

namespace clap::service {

struct WorkerRequest {
  std::string db;                        // a store with a job queue (postgresql://...)
  std::optional<std::string> model;      // must match the index's model; unset: the index's own
  std::string model_config, model_tokenizer;
  int threads = 0, batch = 8, decoders = 1;
  double lease_s = 120;                  // how long a claimed job stays this worker's without a heartbeat
  bool until_done = false;               // exit once no job is pending or leased (else: run until stopped)
  std::vector<std::string> path_map;     // "FROM=TO": read the planner's FROM/... at TO/... on this machine
  int max_attempts = 3;                  // claims of one job before it is recorded as an error
  double idle_poll_s = 5;                // wait between polls of an empty queue
  int max_passes = 0;                    // take jobs of passes 1..max_passes only (0 = every pass)
  // Files per claim; 0 = a few (2 per decoder, at least 4). A plain `clapsearch index` claims
  // every waiting file at once (kClaimAll): one pipeline run, so a library indexed by one process
  // gets the same track and window ids in PostgreSQL as in SQLite.
  int claim = 0;
  double reconnect_for_s = 600;          // give up when the database stays unreachable this long
  bool quiet = false;                    // no download progress
  const std::atomic<bool>* stop = nullptr;  // set (by a signal handler): finish the claimed files, then exit
};

inline constexpr int kClaimAll = 1 << 30;

struct WorkerRun {
  std::string db_path;  // for messages (no password)
  std::string worker;   // this worker's name in the queue: host:pid:random
  store::ModelIdentity identity;
  index::IndexSummary summary;  // over every batch
  int64_t batches = 0, reconnects = 0;
  bool stopped = false;  // by `stop`
};

// host:pid:random, this process's name in a job queue.
std::string unique_worker_name();

// Checks the path map ("FROM=TO", both absolute); throws clap::Error naming the bad entry.
// Returns a function mapping a planned path to where this machine reads it.
std::function<std::string(const std::string&)> path_mapper(const std::vector<std::string>& path_map);

// Throws clap::Error before claiming anything when the store has no queue or no model yet, or
// this worker's model does not match the index's.
WorkerRun run_worker(const WorkerRequest& request, const index::IndexCallbacks& callbacks = {}, const Notice& note = {});

// The work loop of run_worker on an open store (also what a plain `clapsearch index` on a store
// with a queue runs after planning, with until_done). `location` reopens the store after a lost
// connection. Adds to run.summary.
void work_queue(const std::string& location, std::unique_ptr<store::Store>& store, const index::ModelSpec& spec,
                const index::IndexSettings& settings, const index::ModelProvider& model, const WorkerRequest& request,
                const index::IndexCallbacks& callbacks, const Notice& note, WorkerRun& run);

// Adds a batch's counts and times to a run's.
void accumulate(index::IndexSummary& total, const index::IndexSummary& batch);

}  // namespace clap::service
