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

// Columns: id, path, size, mtime_ns, ctime_ns, attempts.
IndexJob read_job(const pg::Result& r, int i) {
  IndexJob j;
  j.id = r.int64(i, 0);
  j.path = r.text(i, 1);
  j.size = r.int64(i, 2);
  j.mtime_ns = r.int64(i, 3);
  j.ctime_ns = r.int64(i, 4);
  j.attempts = static_cast<int>(r.int64(i, 5));
  return j;
}
}  // namespace

void PostgresStore::plan_jobs(const std::vector<IndexJob>& files) {
  pg::Transaction tx(*c_);
  constexpr size_t kRows = 1000;
  const int64_t now = now_seconds();
  for (size_t at = 0; at < files.size(); at += kRows) {
    const size_t end = std::min(files.size(), at + kRows);
    std::string sql = "INSERT INTO jobs(path, size, mtime_ns, ctime_ns, state, planned_at) VALUES ";
    pg::Params p;
    for (size_t k = at; k < end; ++k) {
      const size_t b = p.size();
      sql += (k > at ? ", (" : "(");
      // Appended piece by piece: GCC 12 warns (-Wrestrict) on `"$" + std::to_string(...)`.
      static constexpr const char* kBefore[5] = {"$", ", $", "::bigint, $", "::bigint, $", "::bigint, 'pending', $"};
      for (size_t i = 0; i < 5; ++i) {
        sql += kBefore[i];
        sql += std::to_string(b + 1 + i);
      }
      sql += "::bigint)";
      p.add(files[k].path).add(files[k].size).add(files[k].mtime_ns).add(files[k].ctime_ns).add(now);
    }
    // An open job for the same file stays as it is (a worker may hold it); anything else starts over.
    sql += " ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
           "ctime_ns = excluded.ctime_ns, state = 'pending', attempts = 0, worker = NULL, lease_until = NULL, "
           "error = NULL, planned_at = excluded.planned_at, finished_at = NULL "
           "WHERE jobs.state NOT IN ('pending', 'leased') OR jobs.size <> excluded.size OR "
           "jobs.mtime_ns <> excluded.mtime_ns";
    c_->query(sql, p);
  }
  tx.commit();
}

int64_t PostgresStore::forget_finished_jobs() {
  return c_->query("DELETE FROM jobs WHERE state IN ('done', 'failed')").affected();
}

std::vector<IndexJob> PostgresStore::claim_jobs(const std::string& worker, int n, double lease_s) {
  // SKIP LOCKED: concurrent claimers pass over each other's rows instead of waiting for them,
  // and never both take one (the row lock is held until this statement's transaction ends).
  auto r = c_->query(
      "UPDATE jobs SET state = 'leased', attempts = attempts + 1, worker = $1, lease_until = now() + $2::interval "
      "WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' OR (state = 'leased' AND lease_until < now()) "
      "ORDER BY (state = 'leased'), id LIMIT $3::integer FOR UPDATE SKIP LOCKED) "
      "RETURNING id, path, size, mtime_ns, ctime_ns, attempts",
      pg::Params().add(worker).add(seconds_interval(lease_s)).add(n));
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
  // The lease is checked and the job row locked in the transaction that writes the track: a
  // worker whose lease ran out (and whose job another worker claimed) writes nothing.
  if (c_->query("SELECT id FROM jobs WHERE id = $1::bigint AND state = 'leased' AND worker = $2 FOR UPDATE",
                pg::Params().add(job.id).add(worker))
          .rows() == 0)
    return 0;
  const int64_t id = write_track(*c_, dim, t, windows, track_embedding);
  c_->query("UPDATE jobs SET state = $2, error = $3, finished_at = $4::bigint, lease_until = NULL WHERE id = $1::bigint",
            pg::Params()
                .add(job.id)
                .add(t.status == TrackStatus::Ok ? "done" : "failed")
                .add_text_or_null(t.error)
                .add(now_seconds()));
  stamp_changed(*c_, bump_generation(*c_), {id});
  tx.commit();
  return id;
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
  return j;
}

}  // namespace clap::store
