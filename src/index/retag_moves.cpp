#include "index/retag_moves.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "audio/decode.h"
#include "audio/packet_hash.h"
#include "core/sha256.h"
#include "index/precut.h"

namespace clap::index {

using store::FileState;

namespace {

// How much of what a person tells copies of one recording apart by a missing track and a new file
// share: the album first (an album's copy and a compilation's), then the title, the artist, the
// file's name. The new file's tags are read here (its job reads them again); a track whose tags
// cannot be read (retired, or an unreadable file) shares nothing.
int shared_marks(const std::optional<store::Track>& track, const std::optional<audio::Tags>& tags, const std::string& old_path,
                 const std::string& new_path) {
  int score = 0;
  if (track && tags) {
    if (track->album == tags->album) score += 8;
    if (track->title == tags->title) score += 4;
    if (track->artist == tags->artist) score += 2;
  }
  if (std::filesystem::path(old_path).filename() == std::filesystem::path(new_path).filename()) score += 1;
  return score;
}

// Copies of one recording compared pair by pair at most (tracks x files of one packet hash).
constexpr size_t kMostPairsCompared = 4096;

// How much of an old path a new one keeps: the length of their longest common subsequence of
// bytes (the folders and names a move left as they were), over at most 1,024 bytes of each.
size_t path_kept(const std::string& old_path, const std::string& new_path) {
  const std::string a = old_path.substr(0, 1024), b = new_path.substr(0, 1024);
  std::vector<size_t> row(b.size() + 1, 0), next(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      next[j] = a[i - 1] == b[j - 1] ? row[j - 1] + 1 : std::max(row[j], next[j - 1]);
    std::swap(row, next);
  }
  return row[b.size()];
}

// Pairs the missing tracks of one packet hash (in claim order: live before retired, lower ids
// first) with the new files that have it (crawl order). Several of each are copies of one
// recording moved and retagged together (an album's track and a compilation's, both moved by
// beets): paired in order alone, the copy that crawled first took the lower id, and with it the
// other copy's stars, plays and playlist places (hostile pass 11, H11C-3 and H11S-3). Live tracks
// pair before retired ones; among them the pairs that share the most tags (shared_marks) first,
// then the new path that keeps most of the old one (path_kept); ties, and a group too large to
// compare every pair (more than kMostPairsCompared: such copies are alike), pair in order.
void pair_copies(store::Store& store, const std::vector<MissingTrack*>& tracks, const std::vector<Job*>& jobs,
                 std::unordered_map<const Job*, MissingTrack*>& claim_of) {
  std::vector<MissingTrack*> open;
  for (MissingTrack* m : tracks)
    if (!m->claimed) open.push_back(m);
  if (open.size() < 2 || jobs.size() < 2 || open.size() * jobs.size() > kMostPairsCompared) {
    for (size_t i = 0; i < std::min(open.size(), jobs.size()); ++i) claim_of[jobs[i]] = open[i];
    return;
  }
  std::vector<std::optional<store::Track>> old_tags;
  for (MissingTrack* m : open) old_tags.push_back(m->retired ? std::nullopt : store.track(m->state->id));
  std::vector<std::optional<audio::Tags>> new_tags;
  for (Job* job : jobs) {
    try {
      new_tags.emplace_back(audio::read_tags(job->file->path));
    } catch (const std::exception&) {
      new_tags.emplace_back(std::nullopt);
    }
  }
  struct Pair {
    int score;
    size_t kept, track, file;
  };
  std::vector<Pair> pairs;
  for (size_t t = 0; t < open.size(); ++t)
    for (size_t f = 0; f < jobs.size(); ++f)
      pairs.push_back({shared_marks(old_tags[t], new_tags[f], open[t]->state->path, jobs[f]->file->path),
                       path_kept(open[t]->state->path, jobs[f]->file->path), t, f});
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Pair& a, const Pair& b) {
    const bool ra = open[a.track]->retired, rb = open[b.track]->retired;
    if (ra != rb) return rb;
    if (a.score != b.score) return a.score > b.score;
    return a.kept > b.kept;
  });
  std::vector<bool> track_taken(open.size()), file_taken(jobs.size());
  for (const Pair& p : pairs) {
    if (track_taken[p.track] || file_taken[p.file]) continue;
    track_taken[p.track] = file_taken[p.file] = true;
    claim_of[jobs[p.file]] = open[p.track];
  }
}

}  // namespace

void claim_retagged_moves(store::Store& store, std::vector<MissingTrack>& missing,
                          const std::vector<const MissingTrack*>& reserved, const std::vector<Job*>& candidates,
                          const IndexCallbacks& callbacks, IndexSummary& sum) {
  if (candidates.empty()) return;
  const std::unordered_set<const MissingTrack*> held(reserved.begin(), reserved.end());
  std::vector<MissingTrack*> pool;
  std::vector<std::string> hashes;
  for (MissingTrack& m : missing)
    if (!m.claimed && !m.link_out && !held.count(&m) && !m.state->content_hash.empty()) {
      pool.push_back(&m);
      hashes.push_back(m.state->content_hash);
    }
  if (pool.empty()) return;
  const std::map<std::string, std::string> stored = store.packet_hashes(hashes);
  std::map<std::string, std::vector<MissingTrack*>> by_packets;
  for (MissingTrack* m : pool)
    if (auto it = stored.find(m->state->content_hash); it != stored.end() && !it->second.empty())
      by_packets[it->second].push_back(m);
  if (by_packets.empty()) return;  // nothing to match: no file is demuxed
  for (auto& [packets, tracks] : by_packets)
    std::stable_sort(tracks.begin(), tracks.end(), [](const MissingTrack* a, const MissingTrack* b) {
      return std::make_pair(a->retired, a->state->id) < std::make_pair(b->retired, b->state->id);
    });
  // Each candidate's packet hash, in crawl order; the files of each hash that a missing track has.
  std::vector<std::pair<Job*, std::string>> files;
  std::map<std::string, std::vector<Job*>> files_by_packets;
  for (Job* job : candidates) {
    std::string packets;
    try {
      packets = audio::packet_hash(job->file->path);
    } catch (const std::exception&) {  // not audio, or unreadable: indexed as a new file (the run says why)
      continue;
    }
    if (packets.empty() || !by_packets.count(packets)) continue;
    files_by_packets[packets].push_back(job);
    files.emplace_back(job, packets);
  }
  std::unordered_map<const Job*, MissingTrack*> claim_of;
  for (auto& [packets, jobs] : files_by_packets) pair_copies(store, by_packets.at(packets), jobs, claim_of);
  int64_t claims = 0;
  for (const auto& [job, packets] : files) {
    const auto it = claim_of.find(job);
    if (it == claim_of.end()) continue;  // a further copy of audio already claimed: a new file
    MissingTrack* claimed = it->second;
    claimed->claimed = true;
    const CrawledFile& f = *job->file;
    // The old file's state, not the new one's: the job below reads the file as changed (its tags,
    // content hash, windows), and a run stopped before it does reads it again next time.
    const FileState& s = *claimed->state;
    if (claimed->retired) {
      store.restore_track(s.id, f.path, s.size, s.mtime_ns, s.ctime_ns);
      ++sum.restored;
    } else {
      store.move_track(s.id, f.path, s.size, s.mtime_ns, s.ctime_ns);
      ++sum.moved;
    }
    job->new_path = false;
    ++claims;
    if (callbacks.event)
      callbacks.event({claimed->retired ? FileEvent::Kind::Restored : FileEvent::Kind::Moved, f.path, s.path});
  }
  // A user's reference to a song is attached while its track has the reference's content hash or
  // path (store.h SongRef), and a move with a retag changes both: once the job below has read the
  // new bytes, the references would name neither, be detached (misattached_songs; `doctor` gives
  // them another id) and follow a file later put at the old path. Brought to the new path now,
  // while the track still has the old content hash, they stay attached by path through the
  // retag, as a retag in place's do.
  if (claims > 0) store.reattach_songs();
}

void claim_retagged_before_pipeline(store::Store& store, std::vector<Job>& jobs, std::vector<MissingTrack>& missing,
                                    const IndexCallbacks& callbacks, IndexSummary& sum) {
  std::vector<Job*> candidates;
  for (Job& job : jobs)
    if (job.new_path && job.file->size > 0) candidates.push_back(&job);
  if (candidates.empty() || missing.empty()) return;
  std::unordered_map<int64_t, std::vector<const MissingTrack*>> by_size;
  for (const MissingTrack& m : missing)
    if (!m.state->content_hash.empty() && m.state->size > 0) by_size[m.state->size].push_back(&m);
  std::vector<const MissingTrack*> reserved;  // left to the pipeline's plain moves
  std::vector<Job*> unmatched;
  for (Job* job : candidates) {
    const auto it = by_size.find(job->file->size);
    if (it == by_size.end()) {
      unmatched.push_back(job);
      continue;
    }
    std::string hash;
    try {
      hash = sha256_file(job->file->path);
    } catch (const std::exception&) {  // unreadable: the pipeline records why
    }
    const auto same = std::find_if(it->second.begin(), it->second.end(), [&](const MissingTrack* m) {
      return m->state->content_hash == hash && std::find(reserved.begin(), reserved.end(), m) == reserved.end();
    });
    if (same == it->second.end()) unmatched.push_back(job);
    else reserved.push_back(*same);
  }
  claim_retagged_moves(store, missing, reserved, unmatched, callbacks, sum);
}

void settle_interrupted_claims(store::Store& store) { store.reattach_songs(); }

void refresh_packet_hashes(store::Store& store, IndexSummary& sum, const IndexCallbacks& callbacks) {
  const std::vector<FileState> missing = store.tracks_without_packet_hash();
  if (missing.empty()) return;
  IndexProgress progress;
  progress.pass = 0;  // the catch-up, not a pass of the index (IndexProgress::pass)
  progress.files_total = static_cast<int64_t>(missing.size());
  for (const FileState& s : missing) progress.bytes_total += s.size;
  const auto t0 = std::chrono::steady_clock::now();
  const auto report = [&](bool finished) {
    if (!callbacks.progress) return;
    progress.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress.bytes_done > 0 && progress.bytes_total > progress.bytes_done)
      progress.eta_seconds = progress.elapsed_seconds * double(progress.bytes_total - progress.bytes_done) / double(progress.bytes_done);
    progress.finished = finished;
    callbacks.progress(progress);  // the run's stop: a callback that throws ends it here, between two files
  };
  report(false);
  std::unordered_set<std::string> done;
  const auto catch_up = [&](const FileState& s) {
    std::error_code ec;
    if (done.count(s.content_hash) || !std::filesystem::is_regular_file(s.path, ec)) return;  // held while its folder is away
    // The hash is of the version of the file the track was indexed from (its content hash keys
    // it): a file changed since, or while being read, is left to the run that indexes it again.
    std::string packets;
    try {
      if (!FileStamp::read_as_indexed(s.path, s.size, s.mtime_ns, [&] { packets = audio::packet_hash(s.path); })) return;
    } catch (const std::exception& e) {
      // Recorded as no packet hash (""): a demux that failed fails again on the same bytes, so the
      // file is tried again (and said so) only once it changes, when the pipeline reads it anew.
      // A file changed while it failed is left for the next run.
      const std::optional<FileStamp> now = FileStamp::of(s.path);
      if (!now || now->size != s.size || now->mtime_ns != s.mtime_ns) return;
      sum.warnings.push_back({s.path, "no packet hash (a move with a retag is not told): " + reason_of(e, s.path)});
      packets.clear();
    }
    done.insert(s.content_hash);
    // One file at a time: a run stopped keeps every hash made (a write per file costs little next
    // to its demux: bench/runs/2026-11-27-phash11.md).
    store.put_packet_hashes({{s.content_hash, std::move(packets)}});
  };
  for (const FileState& s : missing) {
    ++progress.files_done;
    progress.bytes_done += s.size;
    catch_up(s);
    report(false);
  }
  report(true);
}

}  // namespace clap::index
