// PostgresStore: the job queue of distributed indexing (plan, claim, renew, release).
#include "store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "store/postgres.h"
#include "store/postgres_internal.h"
#include "store/rows.h"

namespace clap::store {

using namespace pg_impl;

// --- job queue --------------------------------------------------------------------------------

namespace {
std::string seconds_interval(double s) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f seconds", s);
  return buf;
}

// Columns: id, path, size, mtime_ns, ctime_ns, attempts, pass, first_pass.
IndexJob read_job(const pg::Result& r, int i) {
  IndexJob j;
  j.id = r.int64(i, 0);
  j.path = r.text(i, 1);
  j.size = r.int64(i, 2);
  j.mtime_ns = r.int64(i, 3);
  j.ctime_ns = r.int64(i, 4);
  j.attempts = static_cast<int>(r.int64(i, 5));
  j.pass = static_cast<int>(r.int64(i, 6));
  j.first_pass = static_cast<int>(r.int64(i, 7));
  return j;
}

// What a job row starts over with when it is planned again (ON CONFLICT ... DO UPDATE SET).
constexpr const char* kStartOver =
    "size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, first_pass = excluded.first_pass, "
    "state = 'pending', attempts = 0, worker = NULL, lease_until = NULL, error = NULL, planned_at = excluded.planned_at, "
    "finished_at = NULL, claim_seq = NULL, finish_seq = NULL";

// Inside a finishing job's transaction: the job done (or failed), in the order of job_events.
void close_job(pg::Connection& c, int64_t job_id, bool ok, const std::string& error) {
  c.query("UPDATE jobs SET state = $2, error = $3, finished_at = $4::bigint, lease_until = NULL, "
          "finish_seq = nextval('job_events') WHERE id = $1::bigint",
          pg::Params().add(job_id).add(ok ? "done" : "failed").add_text_or_null(error).add(now_seconds()));
}

// Inside a finishing job's transaction: the job of the track's next pass, pending, when the
// track it wrote (by the job's path) is ok and still lacks windows.
void queue_next_pass(pg::Connection& c, int64_t job_id) {
  c.query(std::string("INSERT INTO jobs(path, pass, first_pass, size, mtime_ns, ctime_ns, state, planned_at) "
                      "SELECT j.path, j.pass + 1, j.first_pass, j.size, j.mtime_ns, j.ctime_ns, 'pending', $2::bigint "
                      "FROM jobs j JOIN tracks t ON t.path = j.path WHERE j.id = $1::bigint AND t.status = 'ok' AND "
                      "t.window_total > (SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id) "
                      "ON CONFLICT (path, pass) DO UPDATE SET ") +
              kStartOver,
          pg::Params().add(job_id).add(now_seconds()));
}

// Takes the job's row lock and checks that `worker` holds its lease: a worker whose lease ran out
// (and whose job another worker claimed) writes nothing.
bool holds_lease(pg::Connection& c, const IndexJob& job, const std::string& worker) {
  return c.query("SELECT id FROM jobs WHERE id = $1::bigint AND state = 'leased' AND worker = $2 FOR UPDATE",
                 pg::Params().add(job.id).add(worker))
             .rows() > 0;
}
}  // namespace

void PostgresStore::plan_jobs(const std::vector<IndexJob>& files) {
  pg::Transaction tx(*c_);
  constexpr size_t kRows = 1000;
  const int64_t now = now_seconds();
  for (size_t at = 0; at < files.size(); at += kRows) {
    const size_t end = std::min(files.size(), at + kRows);
    std::string sql = "INSERT INTO jobs(path, size, mtime_ns, ctime_ns, pass, first_pass, state, planned_at) VALUES ";
    pg::Params p;
    for (size_t k = at; k < end; ++k) {
      const size_t b = p.size();
      sql += (k > at ? ", (" : "(");
      // Appended piece by piece: GCC 12 warns (-Wrestrict) on `"$" + std::to_string(...)`.
      static constexpr const char* kBefore[7] = {"$",           ", $",           "::bigint, $",           "::bigint, $",
                                                 "::bigint, $", "::integer, $", "::integer, 'pending', $"};
      for (size_t i = 0; i < 7; ++i) {
        sql += kBefore[i];
        sql += std::to_string(b + 1 + i);
      }
      sql += "::bigint)";
      p.add(files[k].path).add(files[k].size).add(files[k].mtime_ns).add(files[k].ctime_ns);
      p.add(files[k].pass).add(files[k].first_pass).add(now);
    }
    // An open job for the same file and pass stays as it is (a worker may hold it); anything else
    // starts over.
    sql += std::string(" ON CONFLICT (path, pass) DO UPDATE SET ") + kStartOver +
           " WHERE jobs.state NOT IN ('pending', 'leased') OR jobs.size <> excluded.size OR "
           "jobs.mtime_ns <> excluded.mtime_ns";
    c_->query(sql, p);
  }
  tx.commit();
}

int64_t PostgresStore::forget_finished_jobs() {
  return c_->query("DELETE FROM jobs WHERE state IN ('done', 'failed')").affected();
}

std::vector<IndexJob> PostgresStore::claim_jobs(const std::string& worker, int n, double lease_s, int max_pass) {
  // SKIP LOCKED: concurrent claimers pass over each other's rows instead of waiting for them,
  // and never both take one (the row lock is held until this statement's transaction ends).
  // The pass barrier: a job whose pass is above that of any open job waits, so the whole library
  // gets its first pass before any file its second, whichever workers take the jobs (an open job
  // of a lower pass is a committed row this statement sees: a finish that commits later lets the
  // next claim through). claim_seq (the first claim) and finish_seq come from one sequence, so
  // the order of claims and finishes can be read back from the table.
  auto r = c_->query(
      "UPDATE jobs SET state = 'leased', attempts = attempts + 1, worker = $1, lease_until = now() + $2::interval, "
      "claim_seq = COALESCE(claim_seq, nextval('job_events')) "
      "WHERE id IN (SELECT j.id FROM jobs j WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < now())) "
      "AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.pass < j.pass AND e.state IN ('pending', 'leased')) "
      "AND ($4::integer = 0 OR j.pass <= $4::integer) "
      "ORDER BY j.pass, (j.state = 'leased'), j.id LIMIT $3::integer FOR UPDATE SKIP LOCKED) "
      "RETURNING id, path, size, mtime_ns, ctime_ns, attempts, pass, first_pass",
      pg::Params().add(worker).add(seconds_interval(lease_s)).add(n).add(max_pass));
  std::vector<IndexJob> jobs;
  for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_job(r, i));
  std::sort(jobs.begin(), jobs.end(), [](const IndexJob& a, const IndexJob& b) { return a.id < b.id; });
  return jobs;
}

int64_t PostgresStore::renew_leases(const std::string& worker, double lease_s) {
  return c_->query("UPDATE jobs SET lease_until = now() + $2::interval WHERE state = 'leased' AND worker = $1",
                   pg::Params().add(worker).add(seconds_interval(lease_s)))
      .affected();
}

int64_t PostgresStore::finish_job(const IndexJob& job, const std::string& worker, const Track& t,
                                  const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  const int dim = m ? m->dim : 0;
  check_embedding_sizes(t.path, windows, 0, dim);
  pg::Transaction tx(*c_);
  // The lease is checked and the job row locked in the transaction that writes the track.
  if (!holds_lease(*c_, job, worker)) return 0;
  const int64_t id = write_track(*c_, dim, t, windows, track_embedding);
  close_job(*c_, job.id, t.status == TrackStatus::Ok, t.error);
  queue_next_pass(*c_, job.id);
  stamp_changed(*c_, bump_generation(*c_), {id});
  tx.commit();
  return id;
}

bool PostgresStore::finish_pass_job(const IndexJob& job, const std::string& worker, int64_t track_id,
                                    const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  pg::Transaction tx(*c_);
  if (!holds_lease(*c_, job, worker)) return false;
  if (!windows.empty()) write_windows(*c_, m ? m->dim : 0, track_id, windows, track_embedding);
  close_job(*c_, job.id, true, "");
  if (!windows.empty()) {
    queue_next_pass(*c_, job.id);
    stamp_changed(*c_, bump_generation(*c_), {track_id});
  }
  tx.commit();
  return true;
}

int64_t PostgresStore::release_jobs(const std::string& worker) {
  return c_->query("UPDATE jobs SET state = 'pending', worker = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0) "
                   "WHERE state = 'leased' AND worker = $1",
                   pg::Params().add(worker))
      .affected();
}

JobCounts PostgresStore::job_counts() const {
  auto r = c_->query("SELECT state, COUNT(*), COUNT(*) FILTER (WHERE lease_until < now()) FROM jobs GROUP BY state");
  JobCounts j;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string state = r.text(i, 0);
    const int64_t n = r.int64(i, 1);
    if (state == "pending") j.pending = n;
    else if (state == "leased") j.leased = n, j.expired = r.int64(i, 2);
    else if (state == "done") j.done = n;
    else if (state == "failed") j.failed = n;
  }
  auto p = c_->query("SELECT pass, COUNT(*) FROM jobs WHERE state IN ('pending', 'leased') GROUP BY pass");
  for (int i = 0; i < p.rows(); ++i) {
    const int64_t pass = std::max<int64_t>(0, p.int64(i, 0));
    if (static_cast<size_t>(pass) >= j.open_by_pass.size()) j.open_by_pass.resize(static_cast<size_t>(pass) + 1, 0);
    j.open_by_pass[static_cast<size_t>(pass)] += p.int64(i, 1);
  }
  return j;
}

}  // namespace clap::store
