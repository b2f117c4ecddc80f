// The decode-and-embed pipeline (pipeline.h): decoder threads, the bounded queue, the embedding
// thread that batches windows through the model and writes each finished track. One class, kept
// whole in one file (~700 lines): its decoder side and embedding side share the queue, the
// file assemblies and the run's counters.
#include "index/pipeline.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "audio/fingerprint.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/vector_math.h"
#include "index/bounded_queue.h"
#include "index/window_stream.h"

namespace clap::index {

using store::Store;
using store::Track;
using store::TrackStatus;
using store::WindowRecord;

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string reason_of(const std::exception& e, const std::string& path) {
  std::string m = e.what();
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m.empty() ? "unknown error" : m;
}

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

namespace {

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

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

// The first pass keeps a file's decoded samples for cutting its windows when the file is at most
// this long (16 M samples: 64 MB, 5.8 min at 48 kHz, most songs), instead of decoding it again.
constexpr size_t kFirstPassKeptSamples = size_t{16} << 20;

// What send_selected does with each window of a track.
enum Selected : uint8_t { kLeave = 0, kSilentRecord = 1, kEmbed = 2 };

// A file being assembled by the embedding thread.
struct Assembly {
  std::vector<WindowRecord> windows;
  int outstanding = 0;  // windows handed to the model whose embeddings have not come back
  bool decoded = false;
  Msg done;
};

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
    const int workers = std::max(1, std::min<int>(decoders(), static_cast<int>(jobs_.size())));
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

  // IndexSettings::decode_threads, or its automatic choice for these jobs.
  int decoders() const {
    if (s_.decode_threads > 0) return s_.decode_threads;
    const bool first_passes = s_.first_pass > 0 && std::none_of(jobs_.begin(), jobs_.end(), [](const Job& j) {
      return j.deepen != nullptr;
    });
    return first_passes && std::thread::hardware_concurrency() >= 2 ? 2 : 1;
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
  // window's level (which windows are silent, how many there are), its duration and fingerprint;
  // then the first pass's windows are cut from the samples kept of that decode (a file up to
  // kFirstPassKeptSamples long; a longer one's are decoded as spans, audio::decode_spans, or
  // where that cannot be exact it is decoded again, stopping after the last of them). Silent
  // windows are recorded now: the stored rows then tell later passes which windows remain to embed.
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
    // Per decoder thread (they run this side by side), its capacity kept from file to file:
    // a fresh buffer cost 0.1 s of page faults per song. Freed when the run's threads end.
    thread_local std::vector<float> kept;
    kept.clear();
    bool keeping = true;
    try {
      done.info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
        if (abort_) throw Aborted{};
        scan.feed(x, n);
        if (printer) printer->feed(x, n);
        if (keeping && kept.size() + n <= kFirstPassKeptSamples) {
          kept.insert(kept.end(), x, x + n);
        } else {
          keeping = false;  // too long: decoded again below
        }
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
    // A file too long to keep: its windows decoded as spans (only they and their pre-roll), or,
    // where the file does not allow them to be cut exactly so, by decoding it again.
    if (!(!keeping && send_spans(j, f.path, kind, levels, done.info.output_samples)) &&
        !send_selected(j, f.path, kind, levels, keeping ? &kept : nullptr))
      return;
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

  // The windows `kind` selects (as send_selected sends them) of a track of `total` samples, the
  // embedded ones cut by audio::decode_spans: bit for bit the samples a whole decode gives them,
  // without decoding the rest of the file. False, with nothing sent, when the file does not allow
  // that (audio/decode.h): the caller then decodes it whole.
  bool send_spans(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                  const std::vector<audio::WindowLevel>& levels, int64_t total) {
    const std::vector<audio::Window> plan = audio::plan_windows(total, window_, hop_);
    if (plan.size() != kind.size()) return false;
    std::vector<audio::SampleSpan> spans;
    for (size_t i = 0; i < kind.size(); ++i)
      if (kind[i] == kEmbed) spans.push_back({plan[i].start, plan[i].end});
    std::optional<std::vector<std::vector<float>>> cut;
    try {
      cut = audio::decode_spans(path, spec_.sample_rate, spans);
    } catch (const std::exception&) {  // decoding it whole says what is wrong with the file
      return false;
    }
    if (!cut) return false;
    size_t k = 0;
    for (size_t i = 0; i < kind.size(); ++i) {
      if (abort_) throw Aborted{};
      if (kind[i] == kLeave) continue;
      Msg m;
      m.job = j;
      m.idx = static_cast<int>(i);
      m.start = plan[i].start;
      m.end = plan[i].end;
      m.silent = kind[i] == kSilentRecord;
      if (m.silent) {
        m.loudness = levels[i].rms_db;
      } else {
        m.samples = std::move((*cut)[k++]);
        m.loudness = audio::window_level(m.samples.data(), m.samples.size()).rms_db;
      }
      const bool heavy = !m.silent;
      send(std::move(m), heavy);
    }
    return true;
  }

  // Decodes `path` (or reads `decoded`, the samples a decode of it gave) and sends the windows
  // `kind` selects, in window order: kSilentRecord as a silent window's record (its level from
  // `levels`), kEmbed with its samples. Stops after the last one. False (Failed or Skipped sent)
  // when the file could not be decoded or ended before them.
  bool send_selected(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                     const std::vector<audio::WindowLevel>& levels, const std::vector<float>* decoded = nullptr) {
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
      if (decoded) {
        // In pieces of about what a decoder hands over, so an abort is seen as soon.
        constexpr size_t kPiece = 1 << 16;
        for (size_t at = 0; at < decoded->size(); at += kPiece) {
          if (abort_) throw Aborted{};
          windows.feed(decoded->data() + at, std::min(kPiece, decoded->size() - at));
        }
      } else {
        audio::decode_stream(path, spec_.sample_rate, [&](const float* x, size_t n) {
          if (abort_) throw Aborted{};
          windows.feed(x, n);
        });
      }
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
    // Every job has ended by now; should one not have said so, the later ones are not held back.
    write_ready(/*all=*/true);
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
    if (a.outstanding == 0) commit(j, [this, j] { finish(j); });
  }

  // Every job ends in one write (a track, an error, a move, a skip), made in the order of the
  // jobs whatever order their decodes and embeddings end in: the store gives new rows their ids
  // in write order, so with several decoders too the same files get the same ids, and results
  // that tie (copies of one recording) come out in the same order from every index of them.
  // A job whose end comes early waits here until every earlier one has been written (with one
  // decoder, at most until the batch holding an earlier file's last windows has run).
  void commit(size_t j, std::function<void()> write) {
    ready_.emplace(j, std::move(write));
    write_ready(/*all=*/false);
  }

  // The waiting writes in job order: those that continue the written jobs without a gap, or all.
  void write_ready(bool all) {
    while (!ready_.empty() && (all || ready_.begin()->first == next_commit_)) {
      const std::function<void()> next = std::move(ready_.begin()->second);
      next_commit_ = ready_.begin()->first + 1;
      ready_.erase(ready_.begin());
      next();
    }
  }

  void on_failed(const Msg& m) {
    const size_t j = m.job;
    std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
    files_.erase(j);
    commit(j, [this, j, reason = m.reason, hash = m.hash] { record_error(j, reason, hash, nullptr); });
  }

  void on_skipped(const Msg& m) {
    const size_t j = m.job;
    std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
    files_.erase(j);
    commit(j, [this, j, reason = m.reason] { skipped(j, reason); });
  }

  void skipped(size_t j, const std::string& reason) {
    ++sum_.skipped;
    sum_.warnings.push_back({jobs_[j].file->path, "not deepened: " + reason});
    skipped_.push_back(jobs_[j].deepen->track_id);
    // A queued pass's job is done with nothing added (the next plan sees to the file).
    if (jobs_[j].queued) store_.finish_pass_job(*jobs_[j].queued, worker_, jobs_[j].deepen->track_id, {}, nullptr);
    file_finished(j);
  }

  void on_moved(const Msg& m) {
    commit(m.job, [this, m] { moved(m); });
  }

  void moved(const Msg& m) {
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
    for (size_t j : ready) commit(j, [this, j] { finish(j); });
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
    bool written = true;
    if (d.set_id) store_.add_set_windows(d.set_id, d.track_id, a.windows, embedding.data());
    else if (jobs_[j].queued) written = store_.finish_pass_job(*jobs_[j].queued, worker_, d.track_id, a.windows, embedding.data());
    else store_.add_windows(d.track_id, a.windows, embedding.data());
    sum_.db_seconds += since(tw);
    if (!written) return lease_lost(j, base_track(j).path);
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
      record_error(j, "silent: every window (" + std::to_string(a.windows.size()) + ") is below " + number_text(s_.silence_db) + " dBFS",
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
    if (!written) lease_lost(j, t.path);
    return written;
  }

  // A queued job whose lease ran out: another worker has the file and stores it.
  void lease_lost(size_t j, const std::string& path) {
    ++sum_.lost_leases;
    file_finished(j);
    if (cb_.event) cb_.event({FileEvent::Kind::LeaseLost, path, "the lease ran out and another worker took the file"});
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
  std::map<size_t, std::function<void()>> ready_;  // jobs' writes waiting for an earlier job's (commit)
  size_t next_commit_ = 0;
  std::vector<Pending> batch_;
  Clock::time_point start_ = Clock::now();
  int64_t files_done_ = 0, bytes_done_ = 0, bytes_total_ = 0;
  double audio_done_ = 0;
};

}  // namespace

PipelineRun run_pipeline(Store& store, const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
                         const IndexCallbacks& callbacks, IndexSummary& sum, std::vector<Job> jobs,
                         std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash, std::string worker,
                         int pass) {
  Pipeline pipeline(store, spec, settings, model, callbacks, sum, std::move(jobs), std::move(missing_by_hash),
                    std::move(worker), pass);
  pipeline.run();
  return {pipeline.decode_seconds(), pipeline.skipped()};
}

}  // namespace clap::index
