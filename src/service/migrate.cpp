#include "service/migrate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "service/accounts.h"
#include "service/indexing.h"
#include "service/status.h"
#include "store/orphan_rows.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

// Users' rows whose user is gone: SQLite enforces foreign keys per connection, so a hand edit or
// another tool may delete a user and leave its plays and stars. The copy's foreign keys refuse
// them, and migrate failed on raw SQL: "FOREIGN KEY constraint failed (INSERT INTO stars(...))"
// (hostile pass 14, H14C-6; R11C-7's window rows of no track were named so). Named before anything
// is written, with the way out.
void refuse_rows_of_no_user(const store::UserDataCopy& u, const std::string& from) {
  std::set<int64_t> users;
  for (const store::UserRecord& r : u.users) users.insert(r.id);
  std::map<std::string, int64_t> lost;  // table -> rows of no user
  const auto count = [&](const char* table, int64_t user) {
    if (!users.count(user)) ++lost[table];
  };
  for (const auto& r : u.api_keys) count("api_keys", r.user_id);
  for (const auto& r : u.stars) count("stars", r.user_id);
  for (const auto& r : u.ratings) count("ratings", r.user_id);
  for (const auto& r : u.plays) count("plays", r.user_id);
  for (const auto& r : u.playlists) count("playlists", r.owner);
  for (const auto& r : u.play_queues) count("play_queues", r.user_id);
  for (const auto& r : u.bookmarks) count("bookmarks", r.user_id);
  if (lost.empty()) return;
  std::string rows, deletes;
  for (const auto& [table, n] : lost) {
    rows += (rows.empty() ? "" : ", ") + std::to_string(n) + " in " + table;
    deletes += (deletes.empty() ? "" : "; ") + std::string("DELETE FROM ") + table + " WHERE " +
               (table == "playlists" ? "owner" : "user_id") + " NOT IN (SELECT id FROM users)";
  }
  throw Error(from + ": the index is damaged: it holds rows of users' data whose user is gone (" + rows +
              "), which a copy cannot carry; nothing was written (delete them - " + deletes +
              " - or restore a backup, then migrate)");
}

// Tracks per read/write batch: a few hundred keeps a round trip to a server well used while the
// memory a batch needs stays small (128 tracks of a typical 50 windows: about 13 MB at 512-d).
constexpr size_t kTracksPerBatch = 128;
constexpr size_t kTextsPerBatch = 1000;

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// What a destination holds, for the refusal ("" when empty).
std::string contents(const store::Store& s) {
  std::vector<std::string> parts;
  if (const auto m = s.model()) parts.push_back("an index of " + m->id);
  if (const int64_t n = s.counts().tracks) parts.push_back(plural(n, "track", "tracks"));
  if (const size_t n = s.retired_tracks().size()) parts.push_back(plural(static_cast<int64_t>(n), "retired track", "retired tracks"));
  if (const size_t n = s.roots().size()) parts.push_back(plural(static_cast<int64_t>(n), "folder", "folders"));
  if (!s.export_cached_texts(nullptr, 1).empty()) parts.push_back("cached texts");
  if (const size_t n = s.users().size()) parts.push_back(plural(static_cast<int64_t>(n), "user", "users"));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// Everything but the sum of durations is counted; that sum may differ in its last bits when the
// stores add in another order.
bool same_counts(const store::Counts& a, const store::Counts& b) {
  return a.tracks == b.tracks && a.ok == b.ok && a.errors == b.errors && a.silent_tracks == b.silent_tracks &&
         a.windows == b.windows && a.silent_windows == b.silent_windows &&
         // Equal sums are equal, infinite ones too: durations hand-set to 1e308 add up to inf, and
         // inf - inf is NaN, which called a faithful copy "not matching its source" (R11C-7).
         (a.audio_seconds == b.audio_seconds ||
          std::fabs(a.audio_seconds - b.audio_seconds) <= 1e-9 * std::max(1.0, std::fabs(a.audio_seconds)));
}

// The sets of the copy are the source's: ids, models, which one is active and their coverage.
bool same_sets(const std::vector<store::EmbeddingSet>& a, const std::vector<store::EmbeddingSet>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const store::EmbeddingSet& x, const store::EmbeddingSet& y) {
    return x.id == y.id && x.active == y.active && x.identity.mismatch(y.identity).empty() &&
           x.identity.content_hash == y.identity.content_hash && x.windows == y.windows &&
           x.covered_windows == y.covered_windows && x.tracks == y.tracks && x.covered_tracks == y.covered_tracks;
  });
}

std::string sets_text(const std::vector<store::EmbeddingSet>& sets) {
  std::string out;
  for (const store::EmbeddingSet& e : sets)
    out += (out.empty() ? "" : ", ") + std::to_string(e.id) + (e.active ? " (active) " : " ") + e.identity.id + " " +
           std::to_string(e.covered_windows) + "/" + std::to_string(e.windows) + " windows";
  return "embedding sets " + (out.empty() ? std::string("none") : out);
}

std::string counts_text(const store::Counts& c) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.17g", c.audio_seconds);
  return std::to_string(c.tracks) + " tracks (" + std::to_string(c.ok) + " ok, " + std::to_string(c.errors) + " errors, " +
         std::to_string(c.silent_tracks) + " silent, " + seconds + " s of audio), " + std::to_string(c.windows) +
         " windows (" + std::to_string(c.silent_windows) + " silent)";
}

// The copy itself, inside one read scope of the source and one import transaction of the
// destination: committed whole or not at all.
// The users' rows, counted as the summary counts them.
std::string user_data_text(const store::UserDataCopy& d) {
  return plural(static_cast<int64_t>(d.users.size()), "user", "users") + ", " +
         plural(static_cast<int64_t>(d.api_keys.size()), "API key", "API keys") + ", " +
         plural(static_cast<int64_t>(d.stars.size()), "star", "stars") + ", " +
         plural(static_cast<int64_t>(d.ratings.size()), "rating", "ratings") + ", " +
         plural(static_cast<int64_t>(d.plays.size()), "play", "plays") + ", " +
         plural(static_cast<int64_t>(d.playlists.size()), "playlist", "playlists") + ", " +
         plural(static_cast<int64_t>(d.play_queues.size()), "play queue", "play queues") + ", " +
         plural(static_cast<int64_t>(d.bookmarks.size()), "bookmark", "bookmarks");
}

// `replace`: the library of `dst` is replaced (an index --rebuild built aside, replace_index);
// its users and what they keep stay as they are, and `src` (the index built aside) has none.
// `index --rebuild` builds the new library aside, numbering its tracks from 1 in the order it
// meets the files; but a track id is a song's id in the Subsonic API (and the /api/ routes), which
// apps cache. So each rebuilt track takes the id the same file has in the library it replaces: by
// path, else (a file moved since the last run) by content hash; a file new to the library takes an
// id above every id of either index. An id thus never moves to another song. Returns the rebuilt
// index's id -> the id it is stored with.
std::map<int64_t, int64_t> kept_track_ids(const store::Store& rebuilt, const store::Store& live) {
  const std::vector<store::FileState> now = rebuilt.file_states();
  // The library's tracks, then the ids it keeps for files not indexed since (a damaged index
  // replaced at the end of the rebuild keeps only those: store.h replace_damaged_index); a
  // track's path wins over a kept id's.
  std::vector<store::FileState> before = live.file_states();
  for (store::FileState& kept : live.kept_track_ids()) before.push_back(std::move(kept));
  // New files are numbered above every id the live index's user data names (K6-1): the rebuild
  // drops the retired tracks but keeps what users keep on them, which a new file given such an
  // id showed as its own (a star on a deleted song on the next file added).
  int64_t next = 0;
  {
    const store::UserDataCopy data = live.export_user_data();
    const auto above = [&](const store::SongRef& song) { next = std::max(next, song.track_id); };
    for (const auto* feedback : {&data.stars, &data.ratings})
      for (const store::FeedbackRecord& f : *feedback)
        if (f.kind == "song") above(f.song);
    for (const store::PlayRecord& p : data.plays) above(p.song);
    for (const store::PlaylistRecord& p : data.playlists)
      for (const store::SongRef& e : p.entries) above(e);
    for (const store::PlayQueueRecord& q : data.play_queues)
      for (const store::SongRef& e : q.entries) above(e);
    for (const store::BookmarkRecord& b : data.bookmarks) above(b.song);
  }
  std::map<std::string, int64_t> by_path;
  std::multimap<std::string, int64_t> by_hash;
  for (const store::FileState& f : before) {
    next = std::max(next, f.id);
    by_path.emplace(f.path, f.id);
  }
  std::set<int64_t> taken;
  std::map<int64_t, int64_t> ids;
  for (const store::FileState& f : now) {
    next = std::max(next, f.id);
    if (const auto it = by_path.find(f.path); it != by_path.end()) {
      ids[f.id] = it->second;
      taken.insert(it->second);
    }
  }
  for (const store::FileState& f : before)
    if (!taken.count(f.id) && !f.content_hash.empty()) by_hash.emplace(f.content_hash, f.id);
  for (const store::FileState& f : now) {
    if (ids.count(f.id)) continue;
    int64_t id = 0;
    for (auto [it, end] = by_hash.equal_range(f.content_hash); it != end && !f.content_hash.empty(); ++it)
      if (!taken.count(it->second)) {
        id = it->second;
        break;
      }
    ids[f.id] = id ? id : ++next;
    taken.insert(ids[f.id]);
  }
  return ids;
}

void copy_index(const store::Store& src, store::Store& dst, const std::string& from_loc, const std::string& to_loc,
                MigrateSummary& sum, const std::function<void(int64_t, int64_t)>& progress, bool replace = false) {
  const auto read = src.read_scope();  // one committed state of the source, however long the copy takes
  const std::optional<store::ModelIdentity> model = src.model();
  if (!model) throw Error(sum.from + ": the index is empty (no model recorded): nothing to copy");
  const std::vector<std::string> roots = src.roots();
  const std::vector<int64_t> ids = src.track_ids();
  std::vector<int64_t> retired_ids;
  for (const auto& r : src.retired_tracks()) retired_ids.push_back(r.id);
  const store::Counts source_counts = src.counts();
  const std::vector<store::EmbeddingSet> source_sets = src.embedding_sets();
  const store::SetRowsOfNoTrack left_out = store::set_rows_of_no_track(src);
  sum.set_windows_of_no_track = left_out.windows;
  sum.set_tracks_of_no_track = left_out.tracks;
  const int64_t total = static_cast<int64_t>(ids.size() + retired_ids.size());

  const std::map<int64_t, int64_t> kept_ids = replace ? kept_track_ids(src, dst) : std::map<int64_t, int64_t>{};
  // A rebuilt track that keeps its id and its content keeps when it was first indexed too: it is
  // the song's "created" in the Subsonic API (apps' "recently added", getAlbumList2 newest), and a
  // rebuild adds no song. Read from the library being replaced before it is.
  std::map<int64_t, std::pair<int64_t, std::string>> first_indexed;  // live id -> indexed_at, content hash
  if (replace)
    for (const store::Track& t : dst.tracks()) first_indexed.emplace(t.id, std::make_pair(t.indexed_at, t.content_hash));
  if (const std::string held = contents(dst); !replace && !held.empty())
    throw Error(sum.to + ": not empty (it holds " + held +
                "); clapsearch migrate copies into an empty database or a new file only - give another --to");
  const auto import = replace ? dst.begin_replace(*model, roots) : dst.begin_import(*model, roots);
  dst.import_sets(source_sets);  // every set with its id, the active one the index's model
  sum.roots = static_cast<int64_t>(roots.size());
  sum.embedding_sets = static_cast<int64_t>(source_sets.size());
  int64_t done = 0;
  if (progress) progress(done, total);
  for (size_t at = 0; at < ids.size(); at += kTracksPerBatch) {
    const std::vector<int64_t> batch(ids.begin() + static_cast<ptrdiff_t>(at),
                                     ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), at + kTracksPerBatch)));
    std::vector<store::TrackCopy> copies = src.export_tracks(batch);
    if (copies.size() != batch.size()) throw Error(sum.from + ": tracks changed while they were read");
    for (store::TrackCopy& c : copies) {
      // A duration that is not a number (hand damage, which `status` names) cannot be carried:
      // SQLite binds NaN as NULL, which its NOT NULL column refused on raw SQL ("NOT NULL
      // constraint failed: tracks.duration_s (INSERT ...)"), and PostgreSQL's copy failed the
      // counts' comparison ("the copy does not match its source: ... nan s of audio"; NaN equals
      // nothing) (hostile pass 16). Named as status names it; nothing is written. Other hand-set
      // values (infinity, 1e308) are copied as they are (docs/operations.md).
      if (std::isnan(c.track.duration_s)) {
        std::string why = track_duration_damage(c.track, sum.from);
        if (why.empty())  // an error track's
          why = sum.from + ": the index is damaged: track " + std::to_string(c.track.id) +
                " has a duration that is not a number; `clapsearch index DIR --db " + sum.from + " --rebuild` makes a new one";
        throw Error(why + "; nothing was written (a copy cannot carry it): repair or rebuild it, then migrate");
      }
      if (const auto it = kept_ids.find(c.track.id); it != kept_ids.end()) c.track.id = it->second;
      if (const auto it = first_indexed.find(c.track.id); it != first_indexed.end() && it->second.first > 0 &&
                                                          !c.track.content_hash.empty() && it->second.second == c.track.content_hash)
        c.track.indexed_at = it->second.first;
    }
    dst.import_tracks(copies);
    for (const auto& c : copies) {
      sum.windows += static_cast<int64_t>(c.windows.size());
      sum.labels += static_cast<int64_t>(c.labels.size());
      for (const auto& set : c.sets) sum.set_windows += static_cast<int64_t>(set.windows.size());
    }
    sum.tracks += static_cast<int64_t>(copies.size());
    done += static_cast<int64_t>(copies.size());
    if (progress) progress(done, total);
  }
  for (size_t at = 0; at < retired_ids.size(); at += kTracksPerBatch) {
    const std::vector<int64_t> batch(
        retired_ids.begin() + static_cast<ptrdiff_t>(at),
        retired_ids.begin() + static_cast<ptrdiff_t>(std::min(retired_ids.size(), at + kTracksPerBatch)));
    const std::vector<store::RetiredCopy> copies = src.export_retired(batch);
    if (copies.size() != batch.size()) throw Error(sum.from + ": retired tracks changed while they were read");
    dst.import_retired(copies);
    for (const auto& c : copies) sum.retired_windows += static_cast<int64_t>(c.windows.size());
    sum.retired += static_cast<int64_t>(copies.size());
    done += static_cast<int64_t>(copies.size());
    if (progress) progress(done, total);
  }
  // The packet hashes of the files the tracks and retired tracks were indexed from (by content
  // hash): without them a file moved and retagged after the copy is a new track, its users' data
  // left on the old one (retag_moves.h), until an index run demuxed every file again.
  std::vector<std::string> content_hashes;
  for (const store::FileState& f : src.file_states()) content_hashes.push_back(f.content_hash);
  for (const store::FileState& f : src.retired_tracks()) content_hashes.push_back(f.content_hash);
  const std::map<std::string, std::string> packets = src.packet_hashes(content_hashes);
  dst.put_packet_hashes({packets.begin(), packets.end()});
  sum.packet_hashes = static_cast<int64_t>(packets.size());
  for (std::vector<store::CachedText> page = src.export_cached_texts(nullptr, kTextsPerBatch); !page.empty();
       page = src.export_cached_texts(&page.back(), kTextsPerBatch)) {
    dst.import_cached_texts(page);
    sum.cached_texts += static_cast<int64_t>(page.size());
  }
  // The users with what they keep: their passwords are sealed with the source's key file and are
  // sealed again with the copy's (service/accounts.h).
  store::UserDataCopy users;
  if (!replace) {
    users = src.export_user_data();
    refuse_rows_of_no_user(users, sum.from);
    rekey_passwords(users, src, from_loc, dst, to_loc);
    dst.import_user_data(users);
  }
  sum.users = static_cast<int64_t>(users.users.size());
  sum.api_keys = static_cast<int64_t>(users.api_keys.size());
  sum.stars = static_cast<int64_t>(users.stars.size());
  sum.ratings = static_cast<int64_t>(users.ratings.size());
  sum.plays = static_cast<int64_t>(users.plays.size());
  sum.playlists = static_cast<int64_t>(users.playlists.size());

  // Every track's windows were copied: window rows beyond them belong to no track (a hand edit or
  // another tool left them; SQLite's foreign keys are not enforced on every connection). They
  // cannot be carried, and were "the copy does not match its source" with nothing named (R11C-7).
  if (source_counts.windows > sum.windows)
    throw Error(sum.from + ": the index is damaged: it holds " + std::to_string(source_counts.windows - sum.windows) +
                " window row(s) of no track, which a copy cannot carry; nothing was written (delete them - "
                "DELETE FROM windows WHERE track_id NOT IN (SELECT id FROM tracks) - or restore a backup, then migrate)");
  // Verified before it is committed: a copy that does not match is rolled back.
  sum.counts = dst.counts();
  if (!same_counts(sum.counts, source_counts))
    throw Error("the copy does not match its source: " + counts_text(sum.counts) + " in " + sum.to + ", " +
                counts_text(source_counts) + " in " + sum.from + "; nothing was written");
  if (const std::vector<store::EmbeddingSet> sets = dst.embedding_sets(); !same_sets(sets, source_sets))
    throw Error("the copy does not match its source: " + sets_text(sets) + " in " + sum.to + ", " + sets_text(source_sets) +
                " in " + sum.from + "; nothing was written");
  if (const size_t n = dst.retired_tracks().size(); n != retired_ids.size())
    throw Error("the copy does not match its source: " + std::to_string(n) + " retired tracks in " + sum.to + ", " +
                std::to_string(retired_ids.size()) + " in " + sum.from + "; nothing was written");
  if (const std::map<std::string, std::string> copied = dst.packet_hashes(content_hashes); copied != packets)
    throw Error("the copy does not match its source: " + std::to_string(copied.size()) + " packet hashes in " + sum.to +
                ", " + std::to_string(packets.size()) + " in " + sum.from + "; nothing was written");
  if (const std::string copied = user_data_text(dst.export_user_data()), source = user_data_text(users);
      !replace && copied != source)
    throw Error("the copy does not match its source: " + copied + " in " + sum.to + ", " + source + " in " + sum.from +
                "; nothing was written");
  if (const std::vector<std::string> problems = dst.check(); !problems.empty()) {
    // A faithful copy of a source with problems has them too: those are the source's to fix.
    const std::vector<std::string> source_problems = src.check();
    const std::set<std::string> known(source_problems.begin(), source_problems.end());
    std::string own;
    for (const auto& p : problems) {
      if (known.count(p)) sum.inherited_problems.push_back(p);
      else own += (own.empty() ? "" : "; ") + p;
    }
    if (!own.empty()) throw Error(sum.to + ": the copy fails its check (" + own + "); nothing was written");
  }
  import->commit();
}

}  // namespace

void replace_index(const store::Store& src, store::Store& dst) {
  MigrateSummary sum;
  sum.from = src.path();
  sum.to = dst.path();
  copy_index(src, dst, "", "", sum, {}, /*replace=*/true);
}

MigrateSummary migrate_index(const std::string& from, const std::string& to,
                             const std::function<void(int64_t, int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  const std::string from_loc = store::resolve_location(from);
  const std::string to_loc = store::resolve_location(to);
  MigrateSummary sum;
  sum.from = store::display_location(from_loc);
  sum.to = store::display_location(to_loc);
  std::error_code ec;
  if (from_loc == to_loc || (!store::is_server_location(to_loc) && fs::equivalent(from_loc, to_loc, ec)))
    throw Error(sum.to + ": --from and --to are the same index");

  const std::unique_ptr<store::Store> src = store::open_store(from_loc, store::OpenMode::ReadOnly);
  // A SQLite file this call creates is removed again when the copy fails.
  const bool created = !store::is_server_location(to_loc) && !fs::exists(to_loc, ec);
  // So is a password key file it made (for the users' passwords) that nothing uses: named once the
  // target is open (a PostgreSQL database's is named after the id it records).
  std::string key_file;
  bool key_existed = true;
  std::unique_ptr<store::Store> dst;
  try {
    dst = store::open_store(to_loc, store::OpenMode::ReadWrite);
    key_file = key_file_path(*dst, to_loc);
    key_existed = fs::exists(fs::symlink_status(key_file, ec));
    copy_index(*src, *dst, from_loc, to_loc, sum, progress);
  } catch (...) {
    dst.reset();  // closed (and its transaction rolled back) before its file goes
    if (created) remove_new_index(to_loc);
    if (!key_existed) fs::remove(key_file, ec);
    throw;
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace clap::service
