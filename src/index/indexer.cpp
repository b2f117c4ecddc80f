#include "index/indexer.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <optional>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "audio/decode.h"
#include "audio/fingerprint.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "core/vector_math.h"
#include "index/bounded_queue.h"
#include "index/window_stream.h"

namespace clap::index {

using store::FileState;
using store::ModelIdentity;
using store::Store;
using store::Track;
using store::TrackStatus;
using store::WindowRecord;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// "<path>: reason" -> "reason" (the store keeps the path in its own column).
std::string reason_of(const std::exception& e, const std::string& path) {
  std::string m = e.what();
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m.empty() ? "unknown error" : m;
}

// A later pass over a partly indexed track (index/passes.h): the windows it adds.
struct Deepen {
  int64_t track_id = 0;
  int64_t set_id = 0;  // 0: the active set's windows; else an inactive embedding set's (build_set)
  int window_total = 0;
  std::vector<int> wanted;  // idx ascending
  // A set build's last windows of the track: its audio (the stored duration) then counts in the
  // run's summary, so a model upgrade reports the audio it embedded, as a first index does.
  double completed_seconds = 0;
};

struct Job {
  const CrawledFile* file = nullptr;  // file->path: where to read it
  bool new_path = true;  // no track has this path yet (candidate for a move)
  const store::IndexJob* queued = nullptr;  // a job claimed from the store's queue (its path names the track)
  const Deepen* deepen = nullptr;  // a later pass: windows added to a stored track
};

// What a decoder sends to the embedding thread, per file, in order: its windows, then one
// of Done / Failed / Moved (a quiet track: its silent windows, Reset, its windows again, Done);
// a later pass's file ends with Done or Skipped (nothing stored changes).
struct Msg {
  enum class Kind { Window, Done, Failed, Moved, Reset, Skipped } kind = Kind::Window;
  size_t job = 0;
  // Window
  int idx = 0;
  int64_t start = 0, end = 0;
  double loudness = 0;
  bool silent = false;
  std::vector<float> samples;  // empty for silent windows
  // Done
  audio::AudioInfo info;
  audio::Tags tags;
  std::string hash;
  std::vector<uint32_t> fingerprint;  // empty when Chromaprint could not make one
  int window_total = 0;  // windows the track has in all (0: as many as were sent)
  // Failed, Skipped
  std::string reason;
  // Moved
  int64_t track_id = 0;
  std::string old_path;
  bool restore = false;  // track_id is a retired track to bring back
};

struct Aborted {};  // thrown through decode_stream when the run is stopping
struct Enough {};   // thrown through decode_stream once the windows wanted are cut

// What send_selected does with each window of a track.
enum Selected : uint8_t { kLeave = 0, kSilentRecord = 1, kEmbed = 2 };

// A file being assembled by the embedding thread.
struct Assembly {
  std::vector<WindowRecord> windows;
  int outstanding = 0;  // windows handed to the model whose embeddings have not come back
  bool decoded = false;
  Msg done;
};

struct MissingTrack {
  const FileState* state = nullptr;
  bool claimed = false;
  bool retired = false;  // a track pruned by an earlier run, kept restorable (store::retire_tracks)
};

int64_t now_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A file's tags into the track row, with the reading they are (store::kTagsVersion).
void apply_tags(Track& t, const audio::Tags& tags) {
  t.title = tags.title;
  t.artist = tags.artist;
  t.album = tags.album;
  t.album_artist = tags.album_artist;
  t.genre = tags.genre;
  t.date = tags.date;
  t.track_no = tags.track;
  t.mbid = tags.mbid;
  t.isrc = tags.isrc;
  t.tags_version = store::kTagsVersion;
}

bool is_gone(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) return false;
  return errno == ENOENT || errno == ENOTDIR;
}

class Pipeline {
 public:
  Pipeline(Store& store, const ModelSpec& spec, const IndexSettings& s, const ModelProvider& provider,
           const IndexCallbacks& cb, IndexSummary& sum, std::vector<Job> jobs,
           std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash, std::string worker = "",
           int pass = 1)
      : store_(store),
        spec_(spec),
        s_(s),
        provider_(provider),
        cb_(cb),
        sum_(sum),
        jobs_(std::move(jobs)),
        missing_by_hash_(std::move(missing_by_hash)),
        worker_(std::move(worker)),
        pass_(pass),
        queue_(static_cast<size_t>(std::max(2, 2 * s.batch))),
        window_(std::llround(s.window_s * spec.sample_rate)),
        hop_(std::llround(s.hop_s * spec.sample_rate)),
        model_state_(s.model_threads) {
    for (const Job& j : jobs_) bytes_total_ += j.file->size;
  }

  void run() {
    if (jobs_.empty()) return;
    start_ = Clock::now();
    const int workers = std::max(1, std::min<int>(s_.decode_threads, static_cast<int>(jobs_.size())));
    active_workers_ = workers;
    std::vector<std::thread> threads;
    struct Joiner {
      Pipeline& p;
      std::vector<std::thread>& t;
      ~Joiner() {
        p.abort_ = true;
        p.queue_.close();
        for (auto& th : t)
          if (th.joinable()) th.join();
      }
    } joiner{*this, threads};
    for (int w = 0; w < workers; ++w) threads.emplace_back([this] { worker(); });
    consume();
  }

  double decode_seconds() const { return decode_ns_.load() / 1e9; }
  // Tracks of a later pass left as they were (file changed, gone or unreadable).
  const std::vector<int64_t>& skipped() const { return skipped_; }

 private:
  // ---- decoder side ------------------------------------------------------------------------

  void worker() {
    // Below the model's threads: on a machine with as many busy model threads as cores, a
    // decoder at the same priority takes whole time slices from one OpenMP thread and every
    // other thread waits for it at the next barrier. Niced, it fills the gaps instead (and
    // still gets the CPU whenever the model waits for windows).
    if (s_.decoder_nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), s_.decoder_nice);
    try {
      for (;;) {
        if (abort_) break;
        const size_t j = next_job_++;
        if (j >= jobs_.size()) break;
        // CPU time of this thread: waiting for room in the queue does not count.
        const int64_t t0 = thread_cpu_ns();
        try {
          decode(j);
        } catch (const Aborted&) {
          break;
        }
        decode_ns_ += thread_cpu_ns() - t0;
      }
    } catch (...) {  // bad_alloc and the like: stop, and let the consumer report it
      std::lock_guard<std::mutex> lock(missing_mutex_);
      if (!worker_error_) worker_error_ = std::current_exception();
    }
    if (--active_workers_ == 0) queue_.close();
  }

  void send(Msg&& m, bool heavy) {
    if (!queue_.push(std::move(m), heavy)) throw Aborted{};
  }

  // A later pass's failure is a skip: what the track holds stays (the next run tries again).
  void fail(size_t j, std::string reason, std::string hash = "") {
    Msg m;
    m.kind = jobs_[j].deepen ? Msg::Kind::Skipped : Msg::Kind::Failed;
    m.job = j;
    m.reason = std::move(reason);
    m.hash = std::move(hash);
    send(std::move(m), false);
  }

  void decode(size_t j) {
    if (jobs_[j].deepen) return decode_more(j);
    const CrawledFile& f = *jobs_[j].file;
    Msg done;
    done.kind = Msg::Kind::Done;
    done.job = j;
    try {
      done.hash = sha256_file(f.path);  // reading is cheap next to decoding
    } catch (const std::exception& e) {
      return fail(j, reason_of(e, f.path));
    }
    if (jobs_[j].new_path && f.size > 0) {
      MissingTrack* claimed = nullptr;
      {
        std::lock_guard<std::mutex> lock(missing_mutex_);
        auto it = missing_by_hash_.find(done.hash);
        if (it != missing_by_hash_.end())
          for (MissingTrack* t : it->second)
            if (!t->claimed) {
              t->claimed = true;
              claimed = t;
              break;
            }
      }
      if (claimed) {
        Msg m;
        m.kind = Msg::Kind::Moved;
        m.job = j;
        m.track_id = claimed->state->id;
        m.old_path = claimed->state->path;
        m.restore = claimed->retired;
        return send(std::move(m), false);
      }
    }
    try {
      done.tags = audio::read_tags(f.path);
    } catch (const std::exception& e) {
      return fail(j, reason_of(e, f.path), done.hash);
    }
    if (s_.first_pass > 0) return decode_first_pass(j, std::move(done));
    // Windows stream to the model as they are cut. A track whose windows were all below the
    // silence threshold but is not digital silence is quiet, not silent (audio/windows.h): its
    // window records are dropped and it is cut again against its own loudest window.
    double threshold = s_.silence_db;
    // The acoustic fingerprint (duplicates decide by it) comes from the same decoded samples.
    std::optional<audio::Fingerprinter> printer;
    try {
      printer.emplace(spec_.sample_rate);
    } catch (const std::exception&) {  // no fingerprint; the track is indexed all the same
    }
    for (int pass = 0; pass < 2; ++pass) {
      if (printer && pass > 0) printer->restart();
      audio::QuietTrackCheck quiet;
      WindowStream windows(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
        const audio::WindowLevel level = audio::window_level(x, static_cast<size_t>(end - start));
        quiet.add(level, threshold);
        Msg m;
        m.job = j;
        m.idx = idx;
        m.start = start;
        m.end = end;
        m.loudness = level.rms_db;
        m.silent = m.loudness < threshold;
        if (!m.silent) m.samples.assign(x, x + (end - start));
        const bool heavy = !m.silent;
        send(std::move(m), heavy);
      });
      try {
        done.info = audio::decode_stream(f.path, spec_.sample_rate,
                                         [&](const float* x, size_t n) {
                                           windows.feed(x, n);
                                           if (printer) printer->feed(x, n);
                                         });
        windows.finish();
      } catch (const Aborted&) {
        throw;
      } catch (const std::exception& e) {
        return fail(j, reason_of(e, f.path), done.hash);  // windows already sent are discarded
      }
      if (pass > 0 || !quiet.needs_quiet_pass()) break;
      threshold = quiet.quiet_threshold();
      Msg reset;
      reset.kind = Msg::Kind::Reset;
      reset.job = j;
      send(std::move(reset), false);
    }
    if (printer) try {
        done.fingerprint = printer->finish();
      } catch (const std::exception&) {
      }
    send(std::move(done), false);
  }

  // Progressive indexing's first pass (index/passes.h): the file is decoded once to learn every
  // window's level (which windows are silent, how many there are), its duration and fingerprint,
  // then again to cut the first pass's windows, stopping after the last of them. Silent windows
  // are recorded now: the stored rows then tell later passes which windows remain to embed.
  void decode_first_pass(size_t j, Msg&& done) {
    const CrawledFile& f = *jobs_[j].file;
    std::optional<audio::Fingerprinter> printer;
    try {
      printer.emplace(spec_.sample_rate);
    } catch (const std::exception&) {  // no fingerprint; the track is indexed all the same
    }
    std::vector<audio::WindowLevel> levels;
    audio::QuietTrackCheck quiet;
    WindowStream scan(window_, hop_, [&](int, int64_t start, int64_t end, const float* x) {
      levels.push_back(audio::window_level(x, static_cast<size_t>(end - start)));
      quiet.add(levels.back(), s_.silence_db);
    });
    try {
      done.info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
        if (abort_) throw Aborted{};
        scan.feed(x, n);
        if (printer) printer->feed(x, n);
      });
      scan.finish();
    } catch (const Aborted&) {
      throw;
    } catch (const std::exception& e) {
      return fail(j, reason_of(e, f.path), done.hash);
    }
    if (printer) try {
        done.fingerprint = printer->finish();
      } catch (const std::exception&) {
      }
    // The threshold the one-shot path arrives at (decode(): a quiet track judged against itself).
    const double threshold = quiet.needs_quiet_pass() ? quiet.quiet_threshold() : s_.silence_db;
    std::vector<int> active;
    for (size_t i = 0; i < levels.size(); ++i)
      if (!(levels[i].rms_db < threshold)) active.push_back(static_cast<int>(i));
    const std::vector<int> passes = window_passes(static_cast<int>(active.size()), s_.first_pass, s_.last_pass);
    std::vector<uint8_t> kind(levels.size(), kSilentRecord);
    for (size_t i = 0; i < levels.size(); ++i)
      if (!(levels[i].rms_db < threshold)) kind[i] = kLeave;
    for (size_t k = 0; k < active.size(); ++k)
      if (passes[k] == 1) kind[static_cast<size_t>(active[k])] = kEmbed;
    if (!send_selected(j, f.path, kind, levels)) return;
    done.window_total = static_cast<int>(levels.size());
    send(std::move(done), false);
  }

  // A later pass: the file decoded again (stopping after the last window wanted) and the
  // windows it adds cut. A file that changed since (the next run indexes it again) is skipped.
  void decode_more(size_t j) {
    const CrawledFile& f = *jobs_[j].file;
    const Deepen& d = *jobs_[j].deepen;
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || st.st_size != f.size ||
        int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec != f.mtime_ns)
      return fail(j, "changed or gone since the index run began (the next run indexes it again)");
    std::vector<uint8_t> kind(static_cast<size_t>(d.window_total), kLeave);
    for (int idx : d.wanted) kind[static_cast<size_t>(idx)] = kEmbed;
    if (!send_selected(j, f.path, kind, {})) return;
    Msg done;
    done.kind = Msg::Kind::Done;
    done.job = j;
    done.window_total = d.window_total;
    send(std::move(done), false);
  }

  // Decodes `path` and sends the windows `kind` selects, in window order: kSilentRecord as a
  // silent window's record (its level from `levels`), kEmbed with its samples. Stops decoding
  // after the last one. False (Failed or Skipped sent) when the file could not be decoded or
  // ended before them.
  bool send_selected(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                     const std::vector<audio::WindowLevel>& levels) {
    int last = -1;
    for (size_t i = 0; i < kind.size(); ++i)
      if (kind[i] != kLeave) last = static_cast<int>(i);
    auto record = [&](int idx, int64_t start, int64_t end, const float* x) {
      Msg m;
      m.job = j;
      m.idx = idx;
      m.start = start;
      m.end = end;
      m.silent = kind[static_cast<size_t>(idx)] == kSilentRecord;
      m.loudness = m.silent ? levels[static_cast<size_t>(idx)].rms_db
                            : audio::window_level(x, static_cast<size_t>(end - start)).rms_db;
      if (!m.silent) m.samples.assign(x, x + (end - start));
      const bool heavy = !m.silent;
      send(std::move(m), heavy);
    };
    int seen = 0;
    WindowStream windows(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
      if (idx > last) throw Enough{};
      seen = idx + 1;
      if (kind[static_cast<size_t>(idx)] != kLeave) record(idx, start, end, x);
      if (idx == last) throw Enough{};
    });
    try {
      audio::decode_stream(path, spec_.sample_rate, [&](const float* x, size_t n) {
        if (abort_) throw Aborted{};
        windows.feed(x, n);
      });
      windows.finish();
    } catch (const Enough&) {
    } catch (const Aborted&) {
      throw;
    } catch (const std::exception& e) {
      fail(j, reason_of(e, path));
      return false;
    }
    if (seen <= last) {
      fail(j, "decoded to " + std::to_string(seen) + " windows, fewer than the " + std::to_string(kind.size()) +
                  " it had (the next run indexes it again)");
      return false;
    }
    return true;
  }

  // ---- embedding side ----------------------------------------------------------------------

  const ClapModel& model() {
    if (!model_) {
      const auto t = Clock::now();
      model_ = &provider_();
      sum_.load_seconds += since(t);
      if (model_->embedding_dim() != spec_.identity.dim || model_->sample_rate() != spec_.sample_rate ||
          model_->window_samples() < window_)
        throw Error("the loaded model does not match its configuration files (embedding size, rate or window)");
    }
    return *model_;
  }

  void consume() {
    while (std::optional<Msg> m = queue_.pop()) {
      switch (m->kind) {
        case Msg::Kind::Window: on_window(std::move(*m)); break;
        case Msg::Kind::Done: on_done(std::move(*m)); break;
        case Msg::Kind::Failed: on_failed(*m); break;
        case Msg::Kind::Moved: on_moved(*m); break;
        case Msg::Kind::Reset: files_[m->job].windows.clear(); break;  // only silent windows were sent
        case Msg::Kind::Skipped: on_skipped(*m); break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(missing_mutex_);
      if (worker_error_) std::rethrow_exception(worker_error_);
    }
    if (!batch_.empty()) run_batch();
    report(true);
  }

  void on_window(Msg&& m) {
    Assembly& a = files_[m.job];
    WindowRecord w;
    w.idx = m.idx;
    w.start_s = double(m.start) / spec_.sample_rate;
    w.end_s = double(m.end) / spec_.sample_rate;
    w.loudness_dbfs = m.loudness;
    w.silent = m.silent;
    a.windows.push_back(std::move(w));
    if (!m.silent) {
      ++a.outstanding;
      batch_.push_back({m.job, a.windows.size() - 1, std::move(m.samples)});
      if (static_cast<int>(batch_.size()) >= s_.batch) run_batch();
    }
  }

  void on_done(Msg&& m) {
    const size_t j = m.job;
    Assembly& a = files_[j];
    a.decoded = true;
    a.done = std::move(m);
    if (a.outstanding == 0) finish(j);
  }

  void on_failed(const Msg& m) {
    const size_t j = m.job;
    std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
    files_.erase(j);
    record_error(j, m.reason, m.hash, nullptr);
  }

  void on_skipped(const Msg& m) {
    const size_t j = m.job;
    std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
    files_.erase(j);
    ++sum_.skipped;
    sum_.warnings.push_back({jobs_[j].file->path, "not deepened: " + m.reason});
    skipped_.push_back(jobs_[j].deepen->track_id);
    file_finished(j);
  }

  void on_moved(const Msg& m) {
    const CrawledFile& f = *jobs_[m.job].file;
    const auto t = Clock::now();
    int64_t id = m.track_id;
    if (m.restore) id = store_.restore_track(m.track_id, f.path, f.size, f.mtime_ns, f.ctime_ns);
    else store_.move_track(m.track_id, f.path, f.size, f.mtime_ns, f.ctime_ns);
    sum_.db_seconds += since(t);
    ++(m.restore ? sum_.restored : sum_.moved);
    const auto moved = store_.track(id);
    if (moved && moved->status == TrackStatus::Ok) ++sum_.ok_files;
    file_finished(m.job);
    if (cb_.event) cb_.event({m.restore ? FileEvent::Kind::Restored : FileEvent::Kind::Moved, f.path, m.old_path});
  }

  void run_batch() {
    const ClapModel& mdl = model();
    std::vector<std::span<const float>> clips;
    clips.reserve(batch_.size());
    for (const Pending& p : batch_) clips.emplace_back(p.samples.data(), p.samples.size());
    const auto t = Clock::now();
    const std::vector<float> emb = mdl.embed_audio(model_state_, clips, s_.batch);
    sum_.model_seconds += since(t);
    sum_.embedded_windows += static_cast<int64_t>(batch_.size());
    const int dim = mdl.embedding_dim();
    std::vector<size_t> ready;
    for (size_t k = 0; k < batch_.size(); ++k) {
      Assembly& a = files_[batch_[k].job];
      a.windows[batch_[k].pos].embedding.assign(emb.begin() + long(k * dim),
                                                                     emb.begin() + long((k + 1) * dim));
      if (--a.outstanding == 0 && a.decoded) ready.push_back(batch_[k].job);
    }
    batch_.clear();
    for (size_t j : ready) finish(j);
    report(false);
  }

  Track base_track(size_t j) const {
    const CrawledFile& f = *jobs_[j].file;
    Track t;
    t.path = jobs_[j].queued ? jobs_[j].queued->path : f.path;
    t.size = f.size;
    t.mtime_ns = f.mtime_ns;
    t.ctime_ns = f.ctime_ns;
    return t;
  }

  // A later pass's windows, all embedded: added to the track with the track embedding made
  // again from every window it then holds (in window order, as a one-shot index makes it), in
  // one transaction.
  void finish_more(size_t j, const Assembly& a) {
    const Deepen& d = *jobs_[j].deepen;
    const auto tw = Clock::now();
    std::vector<WindowRecord> all = d.set_id ? store_.set_windows(d.set_id, d.track_id) : store_.windows(d.track_id);
    for (const WindowRecord& w : a.windows) all.push_back(w);
    std::sort(all.begin(), all.end(), [](const WindowRecord& x, const WindowRecord& y) { return x.idx < y.idx; });
    std::vector<float> active_windows;
    int active = 0;
    for (const WindowRecord& w : all)
      if (!w.silent) {
        ++active;
        active_windows.insert(active_windows.end(), w.embedding.begin(), w.embedding.end());
      }
    const std::vector<float> embedding = track_embedding(active, spec_.identity.dim, active_windows.data(), nullptr);
    if (d.set_id) store_.add_set_windows(d.set_id, d.track_id, a.windows, embedding.data());
    else store_.add_windows(d.track_id, a.windows, embedding.data());
    sum_.db_seconds += since(tw);
    sum_.windows += static_cast<int64_t>(a.windows.size());
    sum_.deepened += static_cast<int64_t>(a.windows.size());
    sum_.audio_seconds += d.completed_seconds;
    audio_done_ += d.completed_seconds;
    file_finished(j);
  }

  // A decoded file whose windows all have their embeddings: one transaction.
  void finish(size_t j) {
    Assembly a = std::move(files_[j]);
    files_.erase(j);
    if (jobs_[j].deepen) return finish_more(j, a);
    const Msg& d = a.done;
    Track t = base_track(j);
    t.window_total = d.window_total;
    t.content_hash = d.hash;
    t.duration_s = d.info.duration_s;
    t.fingerprint = d.fingerprint;
    apply_tags(t, d.tags);
    const int dim = spec_.identity.dim;
    std::vector<float> active_windows;  // the non-silent windows' embeddings, in window order
    int active = 0;
    for (const WindowRecord& w : a.windows) {
      ++sum_.windows;
      if (w.silent) {
        ++sum_.silent_windows;
        continue;
      }
      ++active;
      active_windows.insert(active_windows.end(), w.embedding.begin(), w.embedding.end());
    }
    sum_.audio_seconds += t.duration_s;
    audio_done_ += t.duration_s;
    if (active == 0) {
      t.silent = true;
      ++sum_.silent;
      record_error(j, "silent: every window (" + std::to_string(a.windows.size()) + ") is below " + fmt(s_.silence_db) + " dBFS",
                   t.content_hash, &t, &a.windows);
      return;
    }
    const std::vector<float> embedding = track_embedding(active, dim, active_windows.data(), nullptr);
    t.status = TrackStatus::Ok;
    if (!write(j, t, a.windows, embedding.data())) return;
    ++sum_.indexed;
    ++sum_.ok_files;
    file_finished(j);
    if (cb_.event) cb_.event({FileEvent::Kind::Indexed, t.path, ""});
  }

  void record_error(size_t j, const std::string& reason, const std::string& hash, Track* decoded,
                    const std::vector<WindowRecord>* windows = nullptr) {
    Track t = decoded ? *decoded : base_track(j);
    if (!hash.empty()) t.content_hash = hash;
    t.status = TrackStatus::Error;
    t.error = reason;
    if (!write(j, t, windows ? *windows : std::vector<WindowRecord>{}, nullptr)) return;
    ++sum_.errors;
    sum_.new_errors.push_back({t.path, reason});
    file_finished(j);
    if (cb_.event) cb_.event({FileEvent::Kind::Error, t.path, reason});
  }

  // Stores a finished file (a queued job: with its job, if this worker still holds the lease).
  // False when the lease was lost: another worker has the file and stores it.
  bool write(size_t j, const Track& t, const std::vector<WindowRecord>& windows, const float* embedding) {
    const auto tw = Clock::now();
    const store::IndexJob* queued = jobs_[j].queued;
    const bool written = queued ? store_.finish_job(*queued, worker_, t, windows, embedding) != 0
                                : (store_.put_track(t, windows, embedding), true);
    sum_.db_seconds += since(tw);
    if (!written) {
      ++sum_.lost_leases;
      file_finished(j);
      if (cb_.event) cb_.event({FileEvent::Kind::LeaseLost, t.path, "the lease ran out and another worker took the file"});
    }
    return written;
  }

  void file_finished(size_t j) {
    ++files_done_;
    bytes_done_ += jobs_[j].file->size;
    report(false);
  }

  void report(bool finished) {
    if (!cb_.progress) return;
    IndexProgress p;
    p.files_done = files_done_;
    p.files_total = static_cast<int64_t>(jobs_.size());
    p.bytes_done = bytes_done_;
    p.bytes_total = bytes_total_;
    p.audio_seconds = audio_done_;
    p.elapsed_seconds = since(start_);
    if (bytes_done_ > 0 && bytes_total_ > 0)
      p.eta_seconds = p.elapsed_seconds * double(bytes_total_ - bytes_done_) / double(bytes_done_);
    p.finished = finished;
    p.pass = pass_;
    cb_.progress(p);
  }

  struct Pending {
    size_t job;
    size_t pos;  // in the file's Assembly::windows
    std::vector<float> samples;
  };

  Store& store_;
  const ModelSpec& spec_;
  const IndexSettings& s_;
  const ModelProvider& provider_;
  const IndexCallbacks& cb_;
  IndexSummary& sum_;
  std::vector<Job> jobs_;
  std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash_;
  std::string worker_;  // this worker's name in the store's job queue (queued jobs only)
  const int pass_;      // for progress reports
  std::vector<int64_t> skipped_;
  std::mutex missing_mutex_;
  BoundedQueue<Msg> queue_;
  const int64_t window_, hop_;
  ClapState model_state_;  // the model's buffers and thread count, reused for every batch

  std::atomic<size_t> next_job_{0};
  std::atomic<int> active_workers_{0};
  std::atomic<bool> abort_{false};
  std::atomic<int64_t> decode_ns_{0};
  std::exception_ptr worker_error_;  // guarded by missing_mutex_

  const ClapModel* model_ = nullptr;
  std::unordered_map<size_t, Assembly> files_;
  std::vector<Pending> batch_;
  Clock::time_point start_ = Clock::now();
  int64_t files_done_ = 0, bytes_done_ = 0, bytes_total_ = 0;
  double audio_done_ = 0;
};

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
    // made by an older version; the path it is now reached by), so that queries find it.
    if (stored->content_hash != identity.content_hash || stored->audio_hash != identity.audio_hash ||
        stored->id != identity.id || stored->revision != identity.revision)
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
  if (named && same_windows && store.has_embedding_sets()) {
    // Another model over the same windows: its own embedding set, built beside the active one
    // (a set recorded by an earlier run continues: the same model, or one that shares its audio).
    for (const store::EmbeddingSet& set : store.embedding_sets())
      if (!set.active && (set.identity.mismatch(identity).empty() || set.identity.shares_audio_with(identity)))
        return set.id;
    return store.add_embedding_set(identity);
  }
  if (named && same_windows)
    throw Error("the index " + store.path() + " was built with " + stored->describe() + ", but this run uses " +
                identity.describe() + " (" + diff +
                "). This store holds one model's embeddings (building a second embedding set beside the first is not "
                "supported for a PostgreSQL store yet): run again with --rebuild to discard the index and re-index with "
                "the new model, or use --db to keep a separate library.");
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
    throw InvalidArgument("--hop (" + fmt(settings.hop_s) + " s) longer than --window (" + fmt(settings.window_s) +
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
  c.crawled = crawl(roots, settings.crawl);
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
  for (const FileState& s : states)
    if (!seen.count(s.id) && is_gone(s.path)) missing.push_back({&s, false, false});
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
    for (size_t i = 0; i < c.live_missing; ++i)
      if (!c.missing[i].claimed && path_under(c.missing[i].state->path, root)) gone.push_back(c.missing[i].state);
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

// Tracks indexed before fingerprints were stored get one: the first audio::kFingerprintSeconds
// decoded once (no embedding), at the rate the indexer decodes every file. A file that is not
// there (held while its folder is away) or cannot be decoded is left for the next run.
void refresh_fingerprints(Store& store, IndexSummary& sum, const IndexCallbacks& callbacks) {
  const std::vector<FileState> missing = store.tracks_without_fingerprint();
  IndexProgress progress;
  progress.files_total = static_cast<int64_t>(missing.size());
  const auto t0 = Clock::now();
  for (const FileState& s : missing) {
    ++progress.files_done;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(s.path, ec)) continue;
    std::vector<uint32_t> items;
    try {
      items = audio::fingerprint_file(s.path, kFingerprintRate);
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
    Pipeline pipeline(store, spec, settings, model, callbacks, sum, std::move(jobs), {}, "", lowest);
    pipeline.run();
    sum.decode_seconds += pipeline.decode_seconds();
    sum.last_pass = lowest;
    left.insert(pipeline.skipped().begin(), pipeline.skipped().end());
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
    for (const store::PartialTrack& p : partial) {
      if (left.count(p.state.id)) continue;
      std::vector<uint8_t> state(static_cast<size_t>(p.window_total), 0);  // 1 stored, 2 stored silent
      for (int idx : p.present)
        if (idx >= 0 && idx < p.window_total) state[static_cast<size_t>(idx)] = 1;
      for (int idx : p.silent)
        if (idx >= 0 && idx < p.window_total) state[static_cast<size_t>(idx)] = 2;
      std::vector<int> active;  // every window not stored silent
      for (int i = 0; i < p.window_total; ++i)
        if (state[static_cast<size_t>(i)] != 2) active.push_back(i);
      const std::vector<int> passes = window_passes(static_cast<int>(active.size()), settings.first_pass, settings.last_pass);
      int pass = INT_MAX;
      for (size_t k = 0; k < active.size(); ++k)
        if (state[static_cast<size_t>(active[k])] == 0) pass = std::min(pass, passes[k]);
      if (pass == INT_MAX) continue;
      Deepen d;
      d.track_id = p.state.id;
      d.window_total = p.window_total;
      for (size_t k = 0; k < active.size(); ++k)
        if (state[static_cast<size_t>(active[k])] == 0 && passes[k] == pass) d.wanted.push_back(active[k]);
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
  check_settings(spec, settings);
  // Only the active set's model writes the tracks and windows tables (another model's embeddings
  // go to its own set: ensure_identity, build_set).
  if (const std::optional<ModelIdentity> active = store.model();
      active && !active->mismatch(spec.identity).empty() && !active->shares_audio_with(spec.identity))
    throw Error("the index " + store.path() + " is searched with " + active->describe() + ", not " +
                spec.identity.describe() + ": another model's embeddings are built as its own embedding set");
  Comparison c;
  compare(store, roots, settings, sum, c);
  Pipeline pipeline(store, spec, settings, model, callbacks, sum, c.jobs, missing_by_hash(c));
  pipeline.run();
  sum.decode_seconds = pipeline.decode_seconds();
  prune(store, c, settings, callbacks, sum);
  refresh_tags(store, sum);
  refresh_fingerprints(store, sum, callbacks);
  deepen(store, spec, settings, model, callbacks, sum);
  sum.wall_seconds = since(t0);
  return sum;
}

IndexSummary build_set(Store& store, int64_t set_id, const ModelSpec& spec, const IndexSettings& settings,
                       const ModelProvider& model, const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  check_settings(spec, settings);
  build_set_passes(store, set_id, spec, settings, model, callbacks, sum);
  sum.wall_seconds = since(t0);
  return sum;
}

IndexSummary plan_roots(Store& store, const std::vector<std::string>& roots, const IndexSettings& settings,
                        const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  store.forget_finished_jobs();  // the progress `status` shows is this plan's
  Comparison c;
  compare(store, roots, settings, sum, c);
  // Moves are found here, not by the workers: a new path is hashed only when a missing or
  // retired track has its exact size (cheap, and rare outside a real move), and a match moves
  // or restores that track instead of queueing the file.
  std::unordered_map<int64_t, std::vector<MissingTrack*>> missing_by_size;
  for (MissingTrack& m : c.missing)
    if (!m.state->content_hash.empty() && m.state->size > 0) missing_by_size[m.state->size].push_back(&m);
  std::vector<store::IndexJob> queue;
  for (const Job& job : c.jobs) {
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
      queue.push_back({0, f.path, f.size, f.mtime_ns, f.ctime_ns, 0});
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
  store.plan_jobs(queue);
  sum.planned = static_cast<int64_t>(queue.size());
  prune(store, c, settings, callbacks, sum);
  refresh_tags(store, sum);
  refresh_fingerprints(store, sum, callbacks);
  sum.wall_seconds = since(t0);
  return sum;
}

IndexSummary embed_jobs(Store& store, const std::vector<store::IndexJob>& jobs, const JobOptions& options,
                        const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
                        const IndexCallbacks& callbacks) {
  const auto t0 = Clock::now();
  IndexSummary sum;
  check_settings(spec, settings);
  std::vector<CrawledFile> files;
  files.reserve(jobs.size());
  std::vector<const store::IndexJob*> runnable;
  for (const store::IndexJob& job : jobs) {
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
    files.push_back(std::move(f));
    runnable.push_back(&job);
  }
  std::vector<Job> work;
  for (size_t k = 0; k < files.size(); ++k) work.push_back({&files[k], false, runnable[k]});
  // A worker embeds whole tracks: the job queue has no passes (yet).
  IndexSettings whole = settings;
  whole.first_pass = 0;
  Pipeline pipeline(store, spec, whole, model, callbacks, sum, std::move(work), {}, options.worker);
  pipeline.run();
  sum.decode_seconds = pipeline.decode_seconds();
  sum.wall_seconds = since(t0);
  return sum;
}

}  // namespace clap::index
