// The decode-and-embed pipeline (pipeline.h, pipeline_internal.h): the run, and its embedding
// side, the thread that batches windows through the model and writes each finished track (the
// decoder side is in pipeline_decode.cpp).
#include "index/pipeline.h"

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

#include "audio/ffmpeg_library.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "index/bounded_queue.h"
#include "index/pipeline_internal.h"

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

}  // namespace clap::index

namespace clap::index::detail {

void Pipeline::run() {
  if (jobs_.empty()) return;
  // FFmpeg, Chromaprint and libsoxr are loaded here, before any file, not by the first decode: one
  // that cannot be loaded (a partial upgrade, a library gone) is the run's error, with nothing
  // recorded. Loaded by a decode, it was every file's own error, and the next run, the library
  // back, counted those files unchanged and left them unindexed.
  audio::media::functions();
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

int Pipeline::decoders() const {
  if (s_.decode_threads > 0) return s_.decode_threads;
  const bool first_passes = s_.first_pass > 0 && std::none_of(jobs_.begin(), jobs_.end(), [](const Job& j) {
    return j.deepen != nullptr;
  });
  return first_passes && std::thread::hardware_concurrency() >= 2 ? 2 : 1;
}

const ClapModel& Pipeline::model() {
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

void Pipeline::consume() {
  while (std::optional<Msg> m = queue_.pop()) {
    switch (m->kind) {
      case Msg::Kind::Window: on_window(std::move(*m)); break;
      case Msg::Kind::Done: on_done(std::move(*m)); break;
      case Msg::Kind::Failed: on_failed(*m); break;
      case Msg::Kind::Moved: on_moved(*m); break;
      case Msg::Kind::Reset: on_reset(m->job); break;
      case Msg::Kind::Skipped: on_skipped(*m); break;
      case Msg::Kind::Progress: on_progress(*m); break;
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

void Pipeline::on_window(Msg&& m) {
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

void Pipeline::on_reset(size_t j) {
  std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
  files_[j] = Assembly{};
}

void Pipeline::on_done(Msg&& m) {
  const size_t j = m.job;
  Assembly& a = files_[j];
  a.decoded = true;
  a.done = std::move(m);
  if (a.outstanding == 0) commit(j, [this, j] { finish(j); });
}

void Pipeline::commit(size_t j, std::function<void()> write) {
  ready_.emplace(j, std::move(write));
  write_ready(/*all=*/false);
}

void Pipeline::write_ready(bool all) {
  while (!ready_.empty() && (all || ready_.begin()->first == next_commit_)) {
    const std::function<void()> next = std::move(ready_.begin()->second);
    next_commit_ = ready_.begin()->first + 1;
    ready_.erase(ready_.begin());
    next();
  }
}

void Pipeline::on_failed(const Msg& m) {
  const size_t j = m.job;
  std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
  files_.erase(j);
  commit(j, [this, j, reason = m.reason, hash = m.hash] { record_error(j, reason, hash, nullptr); });
}

void Pipeline::on_skipped(const Msg& m) {
  const size_t j = m.job;
  std::erase_if(batch_, [j](const Pending& p) { return p.job == j; });
  files_.erase(j);
  commit(j, [this, j, reason = m.reason] { skipped(j, reason); });
}

void Pipeline::skipped(size_t j, const std::string& reason) {
  ++sum_.skipped;
  if (!jobs_[j].deepen) {  // a first pass: nothing stored (the next run indexes the file)
    sum_.warnings.push_back({jobs_[j].file->path, "not indexed: " + reason});
    return file_finished(j);
  }
  sum_.warnings.push_back({jobs_[j].file->path, "not deepened: " + reason});
  skipped_.push_back(jobs_[j].deepen->track_id);
  // A queued pass's job is done with nothing added (the next plan sees to the file).
  if (jobs_[j].queued) store_.finish_pass_job(*jobs_[j].queued, worker_, jobs_[j].deepen->track_id, {}, nullptr);
  file_finished(j);
}

void Pipeline::on_moved(const Msg& m) {
  commit(m.job, [this, m] { moved(m); });
}

void Pipeline::moved(const Msg& m) {
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

void Pipeline::run_batch() {
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

Track Pipeline::base_track(size_t j) const {
  const CrawledFile& f = *jobs_[j].file;
  Track t;
  t.path = jobs_[j].queued ? jobs_[j].queued->path : f.path;
  t.size = f.size;
  t.mtime_ns = f.mtime_ns;
  t.ctime_ns = f.ctime_ns;
  return t;
}

void Pipeline::finish_more(size_t j, const Assembly& a) {
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
  // The fingerprint first, on its own: a run stopped between the two keeps it, and the windows
  // are added again by the next (which then makes no fingerprint).
  if (d.make_fingerprint && !d.set_id && !a.done.fingerprint.empty()) store_.put_fingerprint(d.track_id, a.done.fingerprint);
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

void Pipeline::finish(size_t j) {
  Assembly a = std::move(files_[j]);
  files_.erase(j);
  if (a.done.silent_below)
    for (WindowRecord& w : a.windows)
      if (!w.silent && w.loudness_dbfs < *a.done.silent_below) {
        w.silent = true;
        w.embedding.clear();
      }
  if (jobs_[j].deepen && !a.done.afresh) return finish_more(j, a);
  // In window order, as a one-shot index writes them (a later pass indexing its track afresh sends
  // the windows it did not send before after the others: decode_more_verified).
  std::sort(a.windows.begin(), a.windows.end(), [](const WindowRecord& x, const WindowRecord& y) { return x.idx < y.idx; });
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
  // The packet hash just before its track: an ok track the pipeline wrote always has one (a run
  // stopped between the two leaves a row of no track's content, which purge_retired forgets, and
  // the file is indexed again). A file changed since keeps the row of its new content hash.
  if (d.packet_hash && !t.content_hash.empty()) {
    const auto tw = Clock::now();
    store_.put_packet_hashes({{t.content_hash, *d.packet_hash}});
    sum_.db_seconds += since(tw);
  }
  if (!write(j, t, a.windows, embedding.data())) return;
  if (!d.packet_hash_error.empty())
    sum_.warnings.push_back({t.path, "no packet hash (a move with a retag is not told): " + d.packet_hash_error});
  ++sum_.indexed;
  ++sum_.ok_files;
  file_finished(j);
  if (cb_.event) cb_.event({FileEvent::Kind::Indexed, t.path, ""});
}

void Pipeline::record_error(size_t j, const std::string& reason, const std::string& hash, Track* decoded,
                            const std::vector<WindowRecord>* windows) {
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

bool Pipeline::write(size_t j, const Track& t, const std::vector<WindowRecord>& windows, const float* embedding) {
  const auto tw = Clock::now();
  const store::IndexJob* queued = jobs_[j].queued;
  const bool written = queued ? store_.finish_job(*queued, worker_, t, windows, embedding) != 0
                              : (store_.put_track(t, windows, embedding), true);
  sum_.db_seconds += since(tw);
  if (!written) lease_lost(j, t.path);
  return written;
}

void Pipeline::lease_lost(size_t j, const std::string& path) {
  ++sum_.lost_leases;
  file_finished(j);
  if (cb_.event) cb_.event({FileEvent::Kind::LeaseLost, path, "the lease ran out and another worker took the file"});
}

void Pipeline::file_finished(size_t j) {
  decoding_.erase(j);  // its duration counts now, if it was indexed
  ++files_done_;
  bytes_done_ += jobs_[j].file->size;
  report(false);
}

void Pipeline::on_progress(const Msg& m) {
  decoding_[m.job] = double(m.end) / spec_.sample_rate;
  report(false);
}

void Pipeline::report(bool finished) {
  if (!cb_.progress) return;
  IndexProgress p;
  p.files_done = files_done_;
  p.files_total = static_cast<int64_t>(jobs_.size());
  p.bytes_done = bytes_done_;
  p.bytes_total = bytes_total_;
  p.audio_seconds = audio_done_;
  for (const auto& [job, seconds] : decoding_) p.audio_seconds += seconds;
  p.elapsed_seconds = since(start_);
  if (bytes_done_ > 0 && bytes_total_ > 0)
    p.eta_seconds = p.elapsed_seconds * double(bytes_total_ - bytes_done_) / double(bytes_done_);
  p.finished = finished;
  p.pass = pass_;
  cb_.progress(p);
}

}  // namespace clap::index::detail

namespace clap::index {

PipelineRun run_pipeline(Store& store, const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
                         const IndexCallbacks& callbacks, IndexSummary& sum, std::vector<Job> jobs,
                         std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash, std::string worker,
                         int pass) {
  detail::Pipeline pipeline(store, spec, settings, model, callbacks, sum, std::move(jobs), std::move(missing_by_hash),
                            std::move(worker), pass);
  pipeline.run();
  return {pipeline.decode_seconds(), pipeline.skipped()};
}

}  // namespace clap::index
