// The decoder side of the indexing pipeline (pipeline_internal.h): decoder threads read each
// file, cut its windows (all of them, a first pass's, or a later pass's) and send them on.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "audio/fingerprint.h"
#include "audio/windows.h"
#include "core/sha256.h"
#include "index/passes.h"
#include "index/pipeline_internal.h"
#include "index/window_stream.h"

namespace clap::index::detail {

namespace {

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

std::optional<FileStamp> FileStamp::of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileStamp s;
  s.size = st.st_size;
  s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  s.device = uint64_t(st.st_dev);
  s.inode = uint64_t(st.st_ino);
  return s;
}

void Pipeline::worker() {
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

void Pipeline::send(Msg&& m, bool heavy) {
  if (!queue_.push(std::move(m), heavy)) throw Aborted{};
}

void Pipeline::fail(size_t j, std::string reason, std::string hash) {
  Msg m;
  m.kind = jobs_[j].deepen ? Msg::Kind::Skipped : Msg::Kind::Failed;
  m.job = j;
  m.reason = std::move(reason);
  m.hash = std::move(hash);
  send(std::move(m), false);
}

void Pipeline::send_done(size_t j, Msg&& done) {
  const std::optional<FileStamp> now = FileStamp::of(jobs_[j].file->path);
  if (!now || !opened_[j] || *now != *opened_[j]) {
    // Read in several goes (hash, length, spans, decodes): what they read may be two versions of
    // the file, and none of it is stored (R6-9). The next run indexes the file as it is then.
    Msg m;
    m.kind = jobs_[j].deepen || !jobs_[j].queued ? Msg::Kind::Skipped : Msg::Kind::Failed;
    m.job = j;
    m.reason = "changed while it was being read (the next run indexes it again)";
    return send(std::move(m), false);
  }
  send(std::move(done), false);
}

void Pipeline::decode(size_t j) {
  opened_[j] = FileStamp::of(jobs_[j].file->path);
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
  decode_whole(j, std::move(done));
}

void Pipeline::decode_whole(size_t j, Msg&& done) {
  const CrawledFile& f = *jobs_[j].file;
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
  send_done(j, std::move(done));
}

bool Pipeline::send_first_pass_spans(size_t j, Msg& done) {
  const CrawledFile& f = *jobs_[j].file;
  std::optional<audio::StreamLength> length;
  try {
    length = audio::stream_length(f.path, spec_.sample_rate);
  } catch (const std::exception&) {  // decoding it whole says what is wrong with the file
    return false;
  }
  if (!length) return false;
  const std::vector<audio::Window> plan = audio::plan_windows(length->samples, window_, hop_);
  // A track of no more windows than the first pass takes is indexed whole at once, and its
  // silent windows must be known: decoded whole.
  if (static_cast<int>(plan.size()) <= s_.first_pass) return false;
  const std::vector<int> passes = window_passes(static_cast<int>(plan.size()), s_.first_pass, s_.last_pass);
  std::vector<int> chosen;
  std::vector<audio::SampleSpan> spans;
  for (size_t i = 0; i < plan.size(); ++i)
    if (passes[i] == 1) {
      chosen.push_back(static_cast<int>(i));
      spans.push_back({plan[i].start, plan[i].end});
    }
  std::optional<std::vector<std::vector<float>>> cut;
  try {
    cut = audio::decode_spans(f.path, spec_.sample_rate, spans);
  } catch (const std::exception&) {
    return false;
  }
  if (!cut) return false;
  std::vector<Msg> windows;
  for (size_t k = 0; k < chosen.size(); ++k) {
    Msg m;
    m.job = j;
    m.idx = chosen[k];
    m.start = spans[k].start;
    m.end = spans[k].end;
    m.samples = std::move((*cut)[k]);
    m.loudness = audio::window_level(m.samples.data(), m.samples.size()).rms_db;
    // Below the threshold the window may be silent, or the track quiet and judged against its
    // own loudest window: only the whole track's levels tell, so it is decoded whole. At or
    // above it the track is not quiet and the window is a non-silent one, as a whole decode finds.
    if (m.loudness < s_.silence_db) return false;
    windows.push_back(std::move(m));
  }
  for (Msg& m : windows) send(std::move(m), true);
  done.info.source_rate = static_cast<int>(length->source_rate);
  done.info.source_samples = length->source_samples;
  done.info.output_samples = length->samples;
  done.info.duration_s = double(length->source_samples) / double(length->source_rate);  // as decode_stream says it
  done.info.resampler = length->source_rate == spec_.sample_rate ? "none" : "soxr";
  done.window_total = static_cast<int>(plan.size());
  return true;
}

void Pipeline::decode_first_pass(size_t j, Msg&& done) {
  const CrawledFile& f = *jobs_[j].file;
  if (send_first_pass_spans(j, done)) return send_done(j, std::move(done));
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
  send_done(j, std::move(done));
}

void Pipeline::decode_more(size_t j) {
  const CrawledFile& f = *jobs_[j].file;
  const Deepen& d = *jobs_[j].deepen;
  const std::optional<FileStamp>& st = opened_[j];
  if (!st || st->size != f.size || st->mtime_ns != f.mtime_ns)
    return fail(j, "changed or gone since the index run began (the next run indexes it again)");
  // Rewritten with its size and modification time kept (a copy with its times, `touch -r`): only
  // the change time, which nothing but a write of the inode sets, tells; then the content decides
  // (R6-9). Windows of the new content would be added to the old one's: indexed afresh instead.
  if (st->ctime_ns != f.ctime_ns && !d.content_hash.empty()) {
    Msg done;
    done.kind = Msg::Kind::Done;
    done.job = j;
    try {
      done.hash = sha256_file(f.path);
    } catch (const std::exception& e) {
      return fail(j, reason_of(e, f.path));
    }
    if (done.hash != d.content_hash) {
      if (d.set_id) return fail(j, "its content changed since it was indexed (the index of the active model is indexed again first)");
      try {
        done.tags = audio::read_tags(f.path);
      } catch (const std::exception& e) {
        return fail(j, reason_of(e, f.path));
      }
      done.afresh = true;
      return decode_whole(j, std::move(done));
    }
  }
  if (d.verify) return decode_more_verified(j);
  std::vector<uint8_t> kind(static_cast<size_t>(d.window_total), kLeave);
  for (int idx : d.wanted) kind[static_cast<size_t>(idx)] = kEmbed;
  std::optional<audio::Fingerprinter> printer;
  if (d.make_fingerprint) try {
      printer.emplace(spec_.sample_rate);
    } catch (const std::exception&) {  // no fingerprint; the windows are added all the same
    }
  if (!send_selected(j, f.path, kind, {}, nullptr, d.judge_silence ? std::optional<double>(s_.silence_db) : std::nullopt,
                     printer ? &*printer : nullptr))
    return;
  Msg done;
  done.kind = Msg::Kind::Done;
  done.job = j;
  done.window_total = d.window_total;
  if (printer) try {
      done.fingerprint = printer->finish();
    } catch (const std::exception&) {
    }
  send_done(j, std::move(done));
}

void Pipeline::decode_more_verified(size_t j) {
  const CrawledFile& f = *jobs_[j].file;
  const Deepen& d = *jobs_[j].deepen;
  const size_t total = static_cast<size_t>(d.window_total);
  std::vector<uint8_t> wanted(total, 0);
  for (int idx : d.wanted) wanted[static_cast<size_t>(idx)] = 1;
  std::vector<std::optional<double>> stored(total);
  for (const auto& [idx, level] : d.stored_levels)
    if (idx >= 0 && static_cast<size_t>(idx) < total) stored[static_cast<size_t>(idx)] = level;
  std::optional<audio::Fingerprinter> printer;
  try {
    printer.emplace(spec_.sample_rate);
  } catch (const std::exception&) {  // no fingerprint; the windows are added all the same
  }
  std::vector<audio::WindowLevel> levels;
  audio::QuietTrackCheck quiet;
  bool differs = false;  // this decode is not the one the first pass stored
  WindowStream windows(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    const audio::WindowLevel level = audio::window_level(x, static_cast<size_t>(end - start));
    levels.push_back(level);
    quiet.add(level, s_.silence_db);
    if (differs) return;
    const size_t i = static_cast<size_t>(idx);
    if (i >= total) {
      differs = true;  // more windows than the packets gave
    } else if (stored[i]) {
      differs = std::memcmp(&level.rms_db, &*stored[i], sizeof level.rms_db) != 0;
    } else if (wanted[i]) {
      Msg m;
      m.job = j;
      m.idx = idx;
      m.start = start;
      m.end = end;
      m.loudness = level.rms_db;
      m.silent = d.judge_silence && m.loudness < s_.silence_db;
      if (!m.silent) m.samples.assign(x, x + (end - start));
      const bool heavy = !m.silent;
      send(std::move(m), heavy);
    }
  });
  // Per decoder thread, as the first pass keeps its samples (decode_first_pass).
  thread_local std::vector<float> kept;
  kept.clear();
  bool keeping = true;
  audio::AudioInfo info;
  try {
    info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
      if (abort_) throw Aborted{};
      windows.feed(x, n);
      if (printer) printer->feed(x, n);
      if (keeping && kept.size() + n <= kFirstPassKeptSamples) {
        kept.insert(kept.end(), x, x + n);
      } else {
        keeping = false;
      }
    });
    windows.finish();
  } catch (const Aborted&) {
    throw;
  } catch (const std::exception& e) {
    return fail(j, reason_of(e, f.path));
  }
  if (levels.size() != total || std::memcmp(&info.duration_s, &d.duration_s, sizeof info.duration_s) != 0) differs = true;
  Msg done;
  done.kind = Msg::Kind::Done;
  done.job = j;
  done.window_total = d.window_total;
  if (printer) try {
      done.fingerprint = printer->finish();
    } catch (const std::exception&) {
    }
  if (!differs) return send_done(j, std::move(done));
  // Afresh, as a first index of the file stores it (decode_whole): what was sent is discarded.
  Msg reset;
  reset.kind = Msg::Kind::Reset;
  reset.job = j;
  send(std::move(reset), false);
  done.afresh = true;
  try {
    done.hash = sha256_file(f.path);
    done.tags = audio::read_tags(f.path);
  } catch (const std::exception& e) {
    return fail(j, reason_of(e, f.path));
  }
  if (!keeping) {
    done.fingerprint.clear();
    return decode_whole(j, std::move(done));
  }
  done.info = info;
  done.window_total = static_cast<int>(levels.size());
  const double threshold = quiet.needs_quiet_pass() ? quiet.quiet_threshold() : s_.silence_db;
  WindowStream cut(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    Msg m;
    m.job = j;
    m.idx = idx;
    m.start = start;
    m.end = end;
    m.loudness = levels[static_cast<size_t>(idx)].rms_db;
    m.silent = m.loudness < threshold;
    if (!m.silent) m.samples.assign(x, x + (end - start));
    const bool heavy = !m.silent;
    send(std::move(m), heavy);
  });
  constexpr size_t kPiece = 1 << 16;  // an abort is seen as soon as in a decode
  for (size_t at = 0; at < kept.size(); at += kPiece) {
    if (abort_) throw Aborted{};
    cut.feed(kept.data() + at, std::min(kPiece, kept.size() - at));
  }
  cut.finish();
  send_done(j, std::move(done));
}

bool Pipeline::send_spans(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
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
  // The spans are placed by the packets' timestamps, the level scan's windows by the samples the
  // whole decode gave. They agree unless that decode lost or added samples where the spans did not
  // look (a damaged frame far before a span, which the span decoder never decodes: an MP3 with 20
  // KB of noise in the middle gave windows a frame off, S6-1). Each window's level is the whole
  // decode's, bit for bit, or the file is decoded again whole.
  {
    size_t at = 0;
    for (size_t i = 0; i < kind.size(); ++i) {
      if (kind[i] != kEmbed) continue;
      const std::vector<float>& x = (*cut)[at++];
      const double level = audio::window_level(x.data(), x.size()).rms_db;
      if (std::memcmp(&level, &levels[i].rms_db, sizeof level) != 0) return false;
    }
  }
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

bool Pipeline::send_selected(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                             const std::vector<audio::WindowLevel>& levels, const std::vector<float>* decoded,
                             std::optional<double> silent_below, audio::Fingerprinter* printer) {
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
    if (silent_below && m.loudness < *silent_below) m.silent = true;
    if (!m.silent) m.samples.assign(x, x + (end - start));
    const bool heavy = !m.silent;
    send(std::move(m), heavy);
  };
  int seen = 0;
  // With a fingerprint to make the decode runs on through its first kFingerprintSeconds.
  int64_t fed = 0;
  const auto enough = [&] { return !printer || fed >= int64_t(audio::kFingerprintSeconds * spec_.sample_rate); };
  WindowStream windows(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    if (idx > last) {
      if (enough()) throw Enough{};
      return;
    }
    seen = idx + 1;
    if (kind[static_cast<size_t>(idx)] != kLeave) record(idx, start, end, x);
    if (idx == last && enough()) throw Enough{};
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
        if (printer) {
          printer->feed(x, n);
          fed += int64_t(n);
        }
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

}  // namespace clap::index::detail
