// The indexer's runs (indexer.h): the crawl compared with the index, moves, pruning, tags and
// fingerprints of older tracks, the later passes, the job plan of distributed indexing. What is
// decoded and embedded goes through the pipeline (pipeline.h).
#include "index/indexer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "audio/fingerprint.h"
#include "index/speech.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "index/pipeline.h"
#include "index/pipeline_internal.h"
#include "index/retag_moves.h"

namespace clap::index {

using store::FileState;
using store::ModelIdentity;
using store::Store;
using store::Track;
using store::TrackStatus;

namespace {

int64_t now_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Gone: no longer there, or no longer a file (a folder made at its name, a FIFO, a socket, a
// device): the crawl indexes regular files only, so such a name is no track either. A stat that
// fails for another reason (permission, I/O error) says nothing about the file: kept.
bool is_gone(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) return !S_ISREG(st.st_mode);
  return errno == ENOENT || errno == ENOTDIR;
}

}  // namespace

double IndexSummary::outside_model_fraction() const {
  const double pipeline = wall_seconds - load_seconds;
  if (pipeline <= 0) return 0;
  return std::clamp(1.0 - model_seconds / pipeline, 0.0, 1.0);
}

int64_t ensure_identity(Store& store, const ModelIdentity& identity, bool rebuild, bool new_set) {
  if (rebuild) {
    store.wipe(identity);
    return 0;
  }
  const std::optional<ModelIdentity> stored = store.model();
  if (!stored) {
    store.set_model(identity);
    return 0;
  }
  const std::string diff = stored->mismatch(identity);
  if (diff.empty()) {
    // The same model: record what this run knows that the index may not (its content hash,
    // made by an older version; the path it is now reached by; how --precision auto chose the
    // precision, when it chose again), so that queries find it.
    if (stored->content_hash != identity.content_hash || stored->audio_hash != identity.audio_hash ||
        stored->id != identity.id || stored->revision != identity.revision ||
        stored->precision_choice != identity.precision_choice)
      store.set_model(identity);
    return 0;
  }
  if (stored->shares_audio_with(identity)) {
    // A text-only fine-tune of the index's model, or the model it was tuned from: every stored
    // embedding is what this model makes too. The index now records this model (its text
    // queries by default); nothing is re-embedded.
    store.set_model(identity);
    return 0;
  }
  if (store.counts().tracks == 0) {  // nothing made with the old settings: just take the new ones
    store.set_model(identity);
    return 0;
  }
  const bool same_windows = std::fabs(stored->window_s - identity.window_s) < 1e-9 &&
                            std::fabs(stored->hop_s - identity.hop_s) < 1e-9 &&
                            std::fabs(stored->silence_db - identity.silence_db) < 1e-9;
  // Only a model named for it gets a set: the index's own model found changed on disk (the same
  // id, other content) is refused as before, its old weights being gone.
  const bool named = new_set && stored->id != identity.id;
  if (named && same_windows) {
    // Another model over the same windows: its own embedding set, built beside the active one
    // (a set recorded by an earlier run continues: the same model, or one that shares its audio).
    for (const store::EmbeddingSet& set : store.embedding_sets())
      if (!set.active && (set.identity.mismatch(identity).empty() || set.identity.shares_audio_with(identity)))
        return set.id;
    return store.add_embedding_set(identity);
  }
  throw Error("the index " + store.path() + " was built with " + stored->describe() + ", but this run uses " +
              identity.describe() + " (" + diff +
              "). Embeddings from different models or windows cannot be mixed: run again with --rebuild to discard the "
              "index and re-index with the new settings, or use --db to keep a separate library.");
}

namespace {

void check_settings(const ModelSpec& spec, const IndexSettings& settings) {
  if (settings.batch < 1) throw InvalidArgument("--batch must be at least 1");
  if (settings.first_pass < 0) throw InvalidArgument("--first-pass must be 0 (every window at once) or more");
  if (settings.max_passes < 0) throw InvalidArgument("--passes must be 0 (every pass) or more");
  if (std::fabs(settings.window_s - spec.identity.window_s) > 1e-9 || std::fabs(settings.hop_s - spec.identity.hop_s) > 1e-9 ||
      std::fabs(settings.silence_db - spec.identity.silence_db) > 1e-9)
    throw Error("index settings differ from the model identity they were checked against");
  if (settings.hop_s > settings.window_s + 1e-9)
    throw InvalidArgument("--hop (" + number_text(settings.hop_s) + " s) longer than --window (" + number_text(settings.window_s) +
                " s) would leave audio out of every window");

}

// The crawl compared with the index. Not copyable: jobs point into crawled.files and missing
// into states and retired.
struct Comparison {
  CrawlResult crawled;
  std::vector<FileState> states, retired;
  std::vector<Job> jobs;              // new and changed files
  std::vector<MissingTrack> missing;  // tracks whose file is gone (live_missing of them), then retired tracks
  size_t live_missing = 0;
  Comparison() = default;
  Comparison(const Comparison&) = delete;
  Comparison& operator=(const Comparison&) = delete;
};

void compare(Store& store, const std::vector<std::string>& roots, const IndexSettings& settings, IndexSummary& sum,
             Comparison& c) {
  CrawlOptions crawl_options = settings.crawl;
  crawl_options.library_roots = store.roots();  // a link into another folder of the index is inside
  c.crawled = crawl(roots, crawl_options);
  const CrawlResult& crawled = c.crawled;
  sum.found = static_cast<int64_t>(crawled.files.size());
  sum.warnings = crawled.warnings;
  {
    const std::vector<std::string> known = store.roots();
    std::vector<std::string> added;
    for (const auto& r : crawled.roots)
      if (std::find(known.begin(), known.end(), r) == known.end()) added.push_back(r);
    if (!added.empty()) store.add_roots(added);  // no write at all when nothing changed
  }

  // One read of the index, then compare with the crawl: unchanged files cost a hash lookup.
  c.states = store.file_states();
  const std::vector<FileState>& states = c.states;
  std::unordered_map<std::string_view, const FileState*> by_path;
  by_path.reserve(states.size());
  for (const FileState& s : states) by_path.emplace(s.path, &s);
  std::unordered_set<int64_t> seen;
  std::vector<Job>& jobs = c.jobs;
  // A path the index does not know may still be a file it holds under another path (a
  // symlinked root, a hard link): the same device and inode as a stored path that still exists.
  // It is one track, not two. The stored paths are stat'ed once, and only when a new path shows up.
  std::map<std::pair<uint64_t, uint64_t>, const FileState*> by_inode;
  bool inodes_read = false;
  auto same_file_as_stored = [&](const CrawledFile& f) -> const FileState* {
    if (!inodes_read) {
      for (const FileState& s : states) {
        struct stat st {};
        if (::stat(s.path.c_str(), &st) == 0) by_inode.emplace(std::make_pair(uint64_t(st.st_dev), uint64_t(st.st_ino)), &s);
      }
      inodes_read = true;
    }
    auto it = by_inode.find({f.device, f.inode});
    return it == by_inode.end() ? nullptr : it->second;
  };
  for (const CrawledFile& f : crawled.files) {
    auto it = by_path.find(f.path);
    if (it == by_path.end()) {
      if (const FileState* same = same_file_as_stored(f)) {
        seen.insert(same->id);
        ++sum.unchanged;
        if (same->status == TrackStatus::Ok) ++sum.ok_files;
        sum.warnings.push_back({f.path, "the same file as the indexed " + same->path + " (kept once)"});
        continue;
      }
      jobs.push_back({&f, true});
      continue;
    }
    const FileState& s = *it->second;
    seen.insert(s.id);
    bool unchanged = s.size == f.size && s.mtime_ns == f.mtime_ns;
    if (s.status == TrackStatus::Error) unchanged = unchanged && s.ctime_ns == f.ctime_ns && !settings.retry_errors;
    // A file out of the library is played only while its ctime is the one indexed (the server's
    // check that the link still leads to it): a changed ctime is read again, so it plays again.
    if (f.outside) unchanged = unchanged && s.ctime_ns == f.ctime_ns;
    if (unchanged) {
      ++sum.unchanged;
      if (s.status == TrackStatus::Ok) ++sum.ok_files;
      continue;
    }
    jobs.push_back({&f, false});
  }

  // Tracks whose file is gone: moved (matched by content hash below) or to be pruned. Tracks
  // pruned by earlier runs are candidates too: a file that comes back is restored, not embedded.
  store.purge_retired(now_unix_seconds() - kRetiredDays * 86400);
  c.retired = store.retired_tracks();
  const std::vector<FileState>& retired = c.retired;
  std::vector<MissingTrack>& missing = c.missing;
  // A link out of the library left out of the crawl (no --follow-links-out) goes as a deleted
  // file goes: pruned (its user data kept, as any pruned track's), back when it is indexed again.
  // The path or a folder above it is a link left out (links_out is sorted: a lookup per level).
  const auto left_out = [&](const std::string& path) {
    const std::vector<std::string>& links = c.crawled.links_out;
    if (links.empty()) return false;
    for (size_t end = path.size(); end != std::string::npos && end > 0; end = path.rfind('/', end - 1))
      if (std::binary_search(links.begin(), links.end(), path.substr(0, end))) return true;
    return false;
  };
  for (const FileState& s : states) {
    if (seen.count(s.id)) continue;
    if (left_out(s.path)) missing.push_back({&s, false, false, true});
    else if (is_gone(s.path)) missing.push_back({&s, false, false});
  }
  c.live_missing = missing.size();
  for (const FileState& s : retired) missing.push_back({&s, false, true});
}

std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash(Comparison& c) {
  std::unordered_map<std::string, std::vector<MissingTrack*>> by_hash;
  for (MissingTrack& m : c.missing)  // live tracks first: a move wins over a restore
    if (!m.state->content_hash.empty() && m.state->size > 0) by_hash[m.state->content_hash].push_back(&m);

  return by_hash;
}

void prune(Store& store, const Comparison& c, const IndexSettings& settings, const IndexCallbacks& callbacks,
           IndexSummary& sum) {
  // Prune what no move claimed, under the roots of this run only (other folders may be offline).
  // A root whose tracks have mostly vanished is more likely an unmounted drive or an emptied
  // mount point than a mass deletion: its tracks are kept (and said so) unless --prune-missing.
  std::vector<int64_t> prune;
  std::vector<std::string> pruned_paths;
  for (const auto& root : c.crawled.roots) {
    int64_t under = 0;
    for (const FileState& s : c.states)
      if (path_under(s.path, root)) ++under;
    std::vector<const FileState*> gone;
    for (size_t i = 0; i < c.live_missing; ++i) {
      const MissingTrack& m = c.missing[i];
      if (m.claimed || !path_under(m.state->path, root)) continue;
      if (m.link_out) {  // left out on purpose, not vanished: pruned whatever the rest of the folder does
        prune.push_back(m.state->id);
        pruned_paths.push_back(m.state->path);
        --under;
      } else {
        gone.push_back(m.state);
      }
    }
    if (gone.empty()) continue;
    bool found_any = false;
    for (const CrawledFile& f : c.crawled.files)
      if (path_under(f.path, root)) {
        found_any = true;
        break;
      }
    const bool vanished = (!found_any && under >= 1) || (2 * static_cast<int64_t>(gone.size()) > under && under >= 2);
    if (vanished && !settings.prune_missing) {
      sum.held += static_cast<int64_t>(gone.size());
      sum.warnings.push_back(
          {root, std::to_string(gone.size()) + " of its " + std::to_string(under) +
                     " indexed tracks are missing (an unmounted drive or an emptied folder?): kept in the index. "
                     "If they were deleted, run again with --prune-missing"});
      continue;
    }
    for (const FileState* g : gone) {
      prune.push_back(g->id);
      pruned_paths.push_back(g->path);
    }
  }
  if (!prune.empty()) {
    const auto t = Clock::now();
    store.retire_tracks(prune);  // restorable for kRetiredDays
    sum.db_seconds += since(t);
    sum.pruned = static_cast<int64_t>(prune.size());
    if (callbacks.event)
      for (const auto& p : pruned_paths) callbacks.event({FileEvent::Kind::Pruned, p, ""});
  }
}

// Tracks whose row holds an older reading of the tags (indexed before the identifiers were
// stored, or restored from the retired tracks) get their tags read again: a header read, no
// decoding, the embeddings untouched. A file that cannot be read keeps its old tags (and is
// tried again next run).
void refresh_tags(Store& store, IndexSummary& sum) {
  const auto t = Clock::now();
  for (const FileState& s : store.tracks_with_tags_before(store::kTagsVersion)) {
    audio::Tags tags;
    try {
      tags = audio::read_tags(s.path);
    } catch (const std::exception& e) {
      sum.warnings.push_back({s.path, "tags not read again: " + reason_of(e, s.path)});
      continue;
    }
    Track row;
    apply_tags(row, tags);
    store.update_tags(s.id, row);
    ++sum.tags_refreshed;
  }
  sum.db_seconds += since(t);
}

// The rate fingerprints of older tracks are decoded at: the rate of every CLAP model, at which
// the pipeline makes the fingerprints of the tracks it indexes.
constexpr int kFingerprintRate = 48000;

// The fewest samples at kFingerprintRate Chromaprint makes a fingerprint of (about 2.7 s): a
// shorter track has none however often it is decoded. Chromaprint's item count follows the length
// alone, so it is measured once, by bisection over a tone's lengths. 0 when Chromaprint refuses.
int64_t fingerprint_min_samples() {
  static const int64_t samples = []() -> int64_t {
    constexpr int rate = kFingerprintRate;
    try {
      std::vector<float> tone(static_cast<size_t>(rate) * 10);
      for (size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 440 * double(i) / rate));
      const auto makes_one = [&](int64_t n) {
        audio::Fingerprinter p(rate);
        p.feed(tone.data(), static_cast<size_t>(n));
        return !p.finish().empty();
      };
      int64_t none = 0, some = static_cast<int64_t>(tone.size());
      if (!makes_one(some)) return 0;
      while (some - none > 1) {
        const int64_t mid = none + (some - none) / 2;
        (makes_one(mid) ? some : none) = mid;
      }
      return some;
    } catch (const std::exception&) {
      return 0;
    }
  }();
  return samples;
}

// Tracks indexed before fingerprints were stored get one: the first audio::kFingerprintSeconds
// decoded once (no embedding), at the rate the indexer decodes every file. A file that is not
// there (held while its folder is away) or cannot be decoded is left for the next run. A track too
// short for a fingerprint is not decoded: it was decoded again for none in every run (issue 56).
void refresh_fingerprints(Store& store, IndexSummary& sum, const IndexCallbacks& callbacks) {
  std::vector<FileState> missing = store.tracks_without_fingerprint();
  // A partly indexed track gets its fingerprint from its next pass, which decodes the file anyway
  // (a first pass cut as spans decodes too little of it to make one).
  if (!missing.empty()) {
    std::unordered_set<int64_t> partial;
    for (const store::PartialTrack& p : store.partial_tracks()) partial.insert(p.state.id);
    std::erase_if(missing, [&](const FileState& s) { return partial.count(s.id) != 0; });
  }
  if (!missing.empty()) {
    const int64_t fewest = fingerprint_min_samples();
    std::erase_if(missing, [&](const FileState& s) {
      const std::optional<Track> t = store.track(s.id);
      return t && std::llround(t->duration_s * kFingerprintRate) + 1 < fewest;
    });
  }
  IndexProgress progress;
  progress.files_total = static_cast<int64_t>(missing.size());
  const auto t0 = Clock::now();
  for (const FileState& s : missing) {
    ++progress.files_done;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(s.path, ec)) continue;
    // The fingerprint is of the version of the file the track's embeddings were made from, as
    // every other decode checks (Pipeline::send_done): a file whose size or time differs from
    // the stored state (changed since, and not under this run's folders, or queued for a
    // worker) or that changes while being read is left to the run that indexes it again.
    std::vector<uint32_t> items;
    try {
      if (!FileStamp::read_as_indexed(s.path, s.size, s.mtime_ns, [&] { items = audio::fingerprint_file(s.path, kFingerprintRate); }))
        continue;
    } catch (const std::exception& e) {
      sum.warnings.push_back({s.path, "no fingerprint: " + reason_of(e, s.path)});
      continue;
    }
    if (items.empty()) continue;
    store.put_fingerprint(s.id, items);
    ++sum.fingerprints_added;
    if (callbacks.progress && progress.files_done % 16 == 0) {
      progress.elapsed_seconds = since(t0);
      callbacks.progress(progress);
    }
  }
}

// A stored window of the track at or above the silence threshold: the track is not quiet
// (audio/windows.h), so a later pass tells its silent windows by the threshold alone (Deepen).
bool loud(const std::vector<store::WindowRecord>& stored, double silence_db) {
  return std::any_of(stored.begin(), stored.end(),
                     [&](const store::WindowRecord& w) { return !w.silent && w.loudness_dbfs >= silence_db; });
}

// What a later pass checks of a track whose first pass may have been cut as spans (Deepen::verify):
// its stored duration and its stored windows' levels.
void verify_first_pass(const Track& t, const std::vector<store::WindowRecord>& stored, Deepen& d) {
  d.verify = true;
  d.duration_s = t.duration_s;
  d.stored_levels.clear();
  for (const store::WindowRecord& w : stored) d.stored_levels.emplace_back(w.idx, w.loudness_dbfs);
}

// The windows partly indexed track `p` lacks, laid out in passes (index/passes.h) by `first_pass`:
// those of the lowest pass it lacks (`through` 0), or of every pass up to `through`, into
// `d` (track id, window_total, wanted). Returns that lowest pass (INT_MAX: none lacking).
int missing_windows(const store::PartialTrack& p, int first_pass, int last_pass, int through, Deepen& d) {
  std::vector<uint8_t> state(static_cast<size_t>(p.window_total), 0);  // 1 stored, 2 stored silent
  for (int idx : p.present)
    if (idx >= 0 && idx < p.window_total) state[static_cast<size_t>(idx)] = 1;
  for (int idx : p.silent)
    if (idx >= 0 && idx < p.window_total) state[static_cast<size_t>(idx)] = 2;
  std::vector<int> active;  // every window not stored silent
  for (int i = 0; i < p.window_total; ++i)
    if (state[static_cast<size_t>(i)] != 2) active.push_back(i);
  const std::vector<int> passes = window_passes(static_cast<int>(active.size()), first_pass, last_pass);
  int lowest = INT_MAX;
  for (size_t k = 0; k < active.size(); ++k)
    if (state[static_cast<size_t>(active[k])] == 0) lowest = std::min(lowest, passes[k]);
  // A stored track has had its first pass, whichever windows it took: one that met a silent window
  // (a first pass cut as spans records it), or a long file's held ones, need not be those of the
  // layout over the windows that prove active. A pass-1 window it lacks joins the second pass,
  // rather than a first pass again in the run that made it (a decode more).
  if (lowest != INT_MAX) lowest = std::max(lowest, 2);
  d.track_id = p.state.id;
  d.window_total = p.window_total;
  d.wanted.clear();
  for (size_t k = 0; k < active.size(); ++k)
    if (state[static_cast<size_t>(active[k])] == 0 && passes[k] <= (through > 0 ? through : lowest))
      d.wanted.push_back(active[k]);
  return lowest;
}

// The speech/music scores of the tracks that have none (index/speech.h), after everything this
// run stores: a track's score is computed from its embedding as the run leaves it.
void refresh_speech(Store& store, const ModelSpec& spec, const ModelProvider& model, IndexSummary& sum) {
  std::string warning;
  sum.speech_scored += refresh_speech_scores(store, spec.identity.model_key(), model, warning);
  if (!warning.empty()) sum.warnings.push_back({store.path(), warning});
}

// One later pass: the tracks of `next` in pass `lowest` decoded again and the windows they want
// embedded; those that cannot be read join `left`.
template <class Partial>
void run_pass(Store& store, const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
              const IndexCallbacks& callbacks, IndexSummary& sum, std::vector<std::pair<const Partial*, Deepen>>& next,
              const std::vector<int>& next_pass, int lowest, std::unordered_set<int64_t>& left) {
  {
    std::vector<CrawledFile> files;
    std::vector<Deepen> work;
    for (size_t k = 0; k < next.size(); ++k) {
      if (next_pass[k] != lowest) continue;
      const FileState& f = next[k].first->state;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(f.path, ec)) {  // held while its folder is away
        left.insert(f.id);
        continue;
      }
      CrawledFile c;
      c.path = f.path;
      c.size = f.size;
      c.mtime_ns = f.mtime_ns;
      c.ctime_ns = f.ctime_ns;
      files.push_back(std::move(c));
      work.push_back(std::move(next[k].second));
    }
    std::vector<Job> jobs;
    for (size_t k = 0; k < files.size(); ++k) jobs.push_back({&files[k], false, nullptr, &work[k]});
    const PipelineRun run = run_pipeline(store, spec, settings, model, callbacks, sum, std::move(jobs), {}, "", lowest);
    sum.decode_seconds += run.decode_seconds;
    sum.last_pass = lowest;
    left.insert(run.skipped.begin(), run.skipped.end());
  }
}

// Later passes (index/passes.h): pass after pass over every partly indexed track, the lowest
// pass any track still needs first, so the whole library reaches one level before any track
// goes deeper. A track whose file cannot be read as it was indexed is left for the next run.
// Everything a pass stores stays; a run stopped at any moment continues from the stored rows.
void deepen(Store& store, const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
            const IndexCallbacks& callbacks, IndexSummary& sum) {
  std::unordered_set<int64_t> left;  // skipped by this run: not tried again in it
  for (;;) {
    std::vector<std::pair<const store::PartialTrack*, Deepen>> next;
    std::vector<int> next_pass;
    int lowest = INT_MAX;
    const std::vector<store::PartialTrack> partial = store.partial_tracks();
    std::unordered_set<int64_t> unprinted;
    for (const FileState& s : store.tracks_without_fingerprint()) unprinted.insert(s.id);
    for (const store::PartialTrack& p : partial) {
      if (left.count(p.state.id)) continue;
      Deepen d;
      const int pass = missing_windows(p, settings.first_pass, settings.last_pass, 0, d);
      if (pass == INT_MAX) continue;
      // Judged afresh each pass: a track cut as spans has silent windows stored once a later pass
      // met some, and more may follow. (For a track whose first pass was a whole decode, the
      // wanted windows are non-silent ones: judging them changes nothing.)
      const std::vector<store::WindowRecord> stored = store.windows(p.state.id);
      d.judge_silence = loud(stored, settings.silence_db);
      d.make_fingerprint = unprinted.count(p.state.id) != 0;
      d.content_hash = p.state.content_hash;
      if (d.make_fingerprint)
        if (const std::optional<Track> t = store.track(p.state.id)) verify_first_pass(*t, stored, d);
      next.emplace_back(&p, std::move(d));
      next_pass.push_back(pass);
      lowest = std::min(lowest, pass);
    }
    if (next.empty() || (settings.max_passes > 0 && lowest > settings.max_passes)) return;
    run_pass(store, spec, settings, model, callbacks, sum, next, next_pass, lowest, left);
  }
}

// An inactive embedding set's build (build_set): pass after pass over the stored non-silent
// windows the set does not hold yet, laid out as deepen lays out a track's windows.
void build_set_passes(Store& store, int64_t set_id, const ModelSpec& spec, const IndexSettings& settings,
                      const ModelProvider& model, const IndexCallbacks& callbacks, IndexSummary& sum) {
  std::unordered_set<int64_t> left;
  std::unordered_map<int64_t, double> duration_of;
  for (const Track& t : store.tracks()) duration_of[t.id] = t.duration_s;
  for (;;) {
    std::vector<std::pair<const store::SetTrack*, Deepen>> next;
    std::vector<int> next_pass;
    int lowest = INT_MAX;
    const std::vector<store::SetTrack> tracks = store.set_tracks(set_id);
    for (const store::SetTrack& t : tracks) {
      if (left.count(t.state.id) || t.held.size() >= t.stored.size()) continue;
      const std::vector<int> passes = window_passes(static_cast<int>(t.stored.size()), settings.first_pass, settings.last_pass);
      const std::unordered_set<int> held(t.held.begin(), t.held.end());
      int pass = INT_MAX;
      for (size_t k = 0; k < t.stored.size(); ++k)
        if (!held.count(t.stored[k])) pass = std::min(pass, passes[k]);
      Deepen d;
      d.track_id = t.state.id;
      d.set_id = set_id;
      d.content_hash = t.state.content_hash;
      d.window_total = std::max(t.window_total, t.stored.back() + 1);
      for (size_t k = 0; k < t.stored.size(); ++k)
        if (!held.count(t.stored[k]) && passes[k] == pass) d.wanted.push_back(t.stored[k]);
      if (t.held.size() + d.wanted.size() == t.stored.size()) d.completed_seconds = duration_of[t.state.id];
      next.emplace_back(&t, std::move(d));
      next_pass.push_back(pass);
      lowest = std::min(lowest, pass);
    }
    if (next.empty() || (settings.max_passes > 0 && lowest > settings.max_passes)) return;
    run_pass(store, spec, settings, model, callbacks, sum, next, next_pass, lowest, left);
  }
}

}  // namespace

IndexSummary index_roots(Store& store, const std::vector<std::string>& roots, const ModelSpec& spec,
                         const IndexSettings& settings, const ModelProvider& model, const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  const audio::DecodeCounts decodes_before = audio::decode_counts();
  check_settings(spec, settings);
  // Only the active set's model writes the tracks and windows tables (another model's embeddings
  // go to its own set: ensure_identity, build_set).
  if (const std::optional<ModelIdentity> active = store.model();
      active && !active->mismatch(spec.identity).empty() && !active->shares_audio_with(spec.identity))
    throw Error("the index " + store.path() + " is searched with " + active->describe() + ", not " +
                spec.identity.describe() + ": another model's embeddings are built as its own embedding set");
  settle_interrupted_claims(store);
  Comparison c;
  compare(store, roots, settings, sum, c);
  claim_retagged_before_pipeline(store, c.jobs, c.missing, callbacks, sum);
  sum.decode_seconds = run_pipeline(store, spec, settings, model, callbacks, sum, c.jobs, missing_by_hash(c)).decode_seconds;
  prune(store, c, settings, callbacks, sum);
  refresh_tags(store, sum);
  refresh_fingerprints(store, sum, callbacks);
  refresh_packet_hashes(store, sum, callbacks);
  deepen(store, spec, settings, model, callbacks, sum);
  refresh_speech(store, spec, model, sum);
  sum.count_decodes(decodes_before);
  sum.wall_seconds = since(t0);
  return sum;
}

IndexSummary build_set(Store& store, int64_t set_id, const ModelSpec& spec, const IndexSettings& settings,
                       const ModelProvider& model, const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  const audio::DecodeCounts decodes_before = audio::decode_counts();
  check_settings(spec, settings);
  build_set_passes(store, set_id, spec, settings, model, callbacks, sum);
  sum.count_decodes(decodes_before);
  sum.wall_seconds = since(t0);
  return sum;
}

IndexSummary plan_roots(Store& store, const std::vector<std::string>& roots, const IndexSettings& settings,
                        const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  const audio::DecodeCounts decodes_before = audio::decode_counts();
  store.forget_finished_jobs();  // the progress `status` shows is this plan's
  settle_interrupted_claims(store);
  Comparison c;
  compare(store, roots, settings, sum, c);
  // Moves are found here, not by the workers: a new path is hashed only when a missing or
  // retired track has its exact size (cheap, and rare outside a real move), and a match moves
  // or restores that track instead of queueing the file.
  std::unordered_map<int64_t, std::vector<MissingTrack*>> missing_by_size;
  for (MissingTrack& m : c.missing)
    if (!m.state->content_hash.empty() && m.state->size > 0) missing_by_size[m.state->size].push_back(&m);
  std::vector<store::IndexJob> queue;
  std::vector<Job*> unmatched;  // new paths no content hash matched, for the packet hashes below
  for (Job& job : c.jobs) {
    const CrawledFile& f = *job.file;
    if (!is_valid_utf8(f.path)) {  // PostgreSQL text holds UTF-8 only: one file skipped, not the plan
      sum.warnings.push_back({f.path, "skipped: its name is not valid UTF-8, which a PostgreSQL index cannot store (rename it)"});
      continue;
    }
    MissingTrack* claimed = nullptr;
    if (job.new_path && f.size > 0 && missing_by_size.count(f.size)) {
      std::string hash;
      try {
        hash = sha256_file(f.path);
      } catch (const std::exception&) {  // unreadable: the worker records why
      }
      for (MissingTrack* m : missing_by_size[f.size])
        if (!m->claimed && m->state->content_hash == hash) {
          claimed = m;
          break;
        }
    }
    if (!claimed) {
      if (job.new_path && f.size > 0) unmatched.push_back(&job);
      queue.push_back({0, f.path, f.size, f.mtime_ns, f.ctime_ns, 0, 1, settings.first_pass});
      continue;
    }
    claimed->claimed = true;
    if (claimed->retired) {
      store.restore_track(claimed->state->id, f.path, f.size, f.mtime_ns, f.ctime_ns);
      ++sum.restored;
    } else {
      store.move_track(claimed->state->id, f.path, f.size, f.mtime_ns, f.ctime_ns);
      ++sum.moved;
    }
    if (callbacks.event)
      callbacks.event({claimed->retired ? FileEvent::Kind::Restored : FileEvent::Kind::Moved, f.path, claimed->state->path});
  }
  // A move with a retag (retag_moves.h): the track moves to the path, whose job stays queued (a
  // changed file's: its new tags and content hash are read as a retag in place's are).
  claim_retagged_moves(store, c.missing, {}, unmatched, callbacks, sum);
  prune(store, c, settings, callbacks, sum);
  // Tracks left partly indexed (an earlier plan's passes not done, a run stopped by --passes): a
  // job for the lowest pass each lacks (at least the second: the first pass is a whole file's),
  // whose finish queues the next; files planned above get theirs when their first pass is done.
  std::unordered_set<std::string> replanned;
  for (const store::IndexJob& j : queue) replanned.insert(j.path);
  for (const store::PartialTrack& p : store.partial_tracks()) {
    std::error_code ec;
    if (replanned.count(p.state.path) || !std::filesystem::is_regular_file(p.state.path, ec)) continue;
    Deepen d;
    const int pass = missing_windows(p, settings.first_pass, settings.last_pass, 0, d);
    if (pass != INT_MAX)
      queue.push_back({0, p.state.path, p.state.size, p.state.mtime_ns, p.state.ctime_ns, 0, std::max(pass, 2), settings.first_pass});
  }
  store.plan_jobs(queue);
  sum.planned = static_cast<int64_t>(queue.size());
  refresh_tags(store, sum);
  refresh_fingerprints(store, sum, callbacks);
  refresh_packet_hashes(store, sum, callbacks);
  sum.count_decodes(decodes_before);
  sum.wall_seconds = since(t0);
  return sum;
}

namespace {

// What a later pass's job adds to the stored track of its path: the windows of passes up to the
// job's it lacks, laid out by the job's first pass; nullopt when there is nothing to add (the
// track is gone, not ok or complete).
std::optional<Deepen> queued_pass(const Store& store, const store::IndexJob& job, int last_pass, double silence_db) {
  const std::optional<Track> t = store.track_by_path(job.path);
  if (!t || t->status != TrackStatus::Ok || t->window_count >= t->window_total) return std::nullopt;
  store::PartialTrack p;
  p.state.id = t->id;
  p.window_total = t->window_total;
  const std::vector<store::WindowRecord> stored = store.windows(t->id);
  for (const store::WindowRecord& w : stored) {
    p.present.push_back(w.idx);
    if (w.silent) p.silent.push_back(w.idx);
  }
  Deepen d;
  if (missing_windows(p, job.first_pass, last_pass, job.pass, d) == INT_MAX || d.wanted.empty()) return std::nullopt;
  d.judge_silence = loud(stored, silence_db);
  d.make_fingerprint = store.fingerprints({t->id}).empty();
  d.content_hash = t->content_hash;
  if (d.make_fingerprint) verify_first_pass(*t, stored, d);
  return d;
}

}  // namespace

IndexSummary embed_jobs(Store& store, const std::vector<store::IndexJob>& jobs, const JobOptions& options,
                        const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
                        const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  const audio::DecodeCounts decodes_before = audio::decode_counts();
  check_settings(spec, settings);
  // Stable addresses: the pipeline's jobs point into these.
  std::vector<CrawledFile> files;
  files.reserve(jobs.size());
  std::vector<Deepen> deepens;
  deepens.reserve(jobs.size());
  std::map<int, std::vector<Job>> first_passes;  // files' first passes, by the first_pass they were planned with
  std::vector<Job> later;                        // later passes over stored tracks
  int later_pass = INT_MAX;
  for (const store::IndexJob& job : jobs) {
    if (job.attempts > options.max_attempts && job.pass > 1) {
      // A later pass whose workers kept dying: the track keeps what it has (the next plan tries again).
      if (store.finish_pass_job(job, options.worker, 0, {}, nullptr))
        sum.warnings.push_back({job.path, "pass " + std::to_string(job.pass) + " given up after " + std::to_string(job.attempts - 1) +
                                              " attempts (each worker that took it stopped before finishing)"});
      continue;
    }
    if (job.attempts > options.max_attempts) {
      // Every earlier claim ended without a result: the worker died on this file (a crash in a
      // decoder, the machine's memory) or was cut off. Recorded as an error instead of trying forever.
      Track t;
      t.path = job.path;
      t.size = job.size;
      t.mtime_ns = job.mtime_ns;
      t.ctime_ns = job.ctime_ns;
      t.status = TrackStatus::Error;
      t.error = "given up after " + std::to_string(job.attempts - 1) +
                " attempts: each worker that took the file stopped before finishing it (crashed, killed or cut off)";
      if (store.finish_job(job, options.worker, t, {}, nullptr) != 0) {
        ++sum.errors;
        sum.new_errors.push_back({t.path, t.error});
        if (callbacks.event) callbacks.event({FileEvent::Kind::Error, t.path, t.error});
      }
      continue;
    }
    CrawledFile f;
    f.path = options.read_path ? options.read_path(job.path) : job.path;
    f.size = job.size;
    f.mtime_ns = job.mtime_ns;
    f.ctime_ns = job.ctime_ns;
    if (job.pass <= 1) {
      files.push_back(std::move(f));
      first_passes[job.first_pass].push_back({&files.back(), false, &job});
      continue;
    }
    std::optional<Deepen> d = queued_pass(store, job, settings.last_pass, settings.silence_db);
    if (!d) {  // nothing to add: done
      store.finish_pass_job(job, options.worker, 0, {}, nullptr);
      continue;
    }
    files.push_back(std::move(f));
    deepens.push_back(std::move(*d));
    later.push_back({&files.back(), false, &job, &deepens.back()});
    later_pass = std::min(later_pass, job.pass);
    sum.last_pass = std::max(sum.last_pass, job.pass);  // the summary's "added by passes 2-N"
  }
  for (auto& [first_pass, work] : first_passes) {
    IndexSettings layout = settings;
    layout.first_pass = first_pass;
    sum.decode_seconds +=
        run_pipeline(store, spec, layout, model, callbacks, sum, std::move(work), {}, options.worker).decode_seconds;
  }
  if (!later.empty())
    sum.decode_seconds +=
        run_pipeline(store, spec, settings, model, callbacks, sum, std::move(later), {}, options.worker, later_pass).decode_seconds;
  // Every track without a score, this worker's and others' alike (two workers scoring one track
  // write the same value).
  refresh_speech(store, spec, model, sum);
  sum.count_decodes(decodes_before);
  sum.wall_seconds = since(t0);
  return sum;
}

}  // namespace clap::index