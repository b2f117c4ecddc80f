// The decoder side of the indexing pipeline (pipeline_internal.h): decoder threads read each
// file, cut its windows (all of them, a first pass's, or a later pass's) and send them on.
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

#include "audio/fingerprint.h"
#include "audio/packet_hash.h"
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

// The samples of a decode kept to cut its windows again without decoding the file again, per
// decoder thread (they run side by side), its capacity kept from file to file: a fresh buffer
// cost 0.1 s of page faults per song. Freed when the run's threads end.
std::vector<float>& kept_samples() {
  thread_local std::vector<float> kept;
  return kept;
}

// In pieces of about what a decoder hands over, so an abort is seen as soon as in a decode.
template <class Abort, class Feed>
void replay(const std::vector<float>& kept, const Abort& abort, const Feed& feed) {
  constexpr size_t kPiece = 1 << 16;
  for (size_t at = 0; at < kept.size(); at += kPiece) {
    if (abort()) throw Aborted{};
    feed(kept.data() + at, std::min(kPiece, kept.size() - at));
  }
}

}  // namespace

void Pipeline::start_fingerprint(std::optional<audio::Fingerprinter>& printer) const {
  try {
    printer.emplace(spec_.sample_rate);
  } catch (const std::exception&) {  // no fingerprint; the track is indexed all the same
  }
}

std::vector<uint32_t> Pipeline::finish_fingerprint(std::optional<audio::Fingerprinter>& printer) {
  if (printer) try {
      return printer->finish();
    } catch (const std::exception&) {
    }
  return {};
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
  hash_packets(j, done);
  if (s_.first_pass > 0) return decode_first_pass(j, std::move(done));
  decode_whole(j, std::move(done));
}

void Pipeline::hash_packets(size_t j, Msg& done) const {
  const std::string& path = jobs_[j].file->path;
  try {
    done.packet_hash = audio::packet_hash(path);
  } catch (const std::exception& e) {
    // Recorded as none: the same bytes fail the same way, so it is tried again (and said again)
    // only when the file changes. Its decode says whether it is audio at all.
    done.packet_hash = "";
    done.packet_hash_error = reason_of(e, path);
  }
}

void Pipeline::send_window(size_t j, int idx, int64_t start, int64_t end, double loudness, bool silent,
                           std::vector<float>&& samples) {
  Msg m;
  m.job = j;
  m.idx = idx;
  m.start = start;
  m.end = end;
  m.loudness = loudness;
  m.silent = silent;
  if (!silent) m.samples = std::move(samples);
  send(std::move(m), /*heavy=*/!silent);
}

void Pipeline::send_window(size_t j, int idx, int64_t start, int64_t end, double loudness, bool silent, const float* x) {
  send_window(j, idx, start, end, loudness, silent, silent ? std::vector<float>{} : std::vector<float>(x, x + (end - start)));
}

void Pipeline::DecodeTally::add(size_t n) {
  // Often enough that a progress line (every 5 s off a terminal) has news of a long file.
  constexpr double kProgressSeconds = 1;
  samples_ += static_cast<int64_t>(n);
  if (since(last_) < kProgressSeconds) return;
  last_ = Clock::now();
  Msg m;
  m.kind = Msg::Kind::Progress;
  m.job = j_;
  m.end = samples_;
  p_.send(std::move(m), false);
}

void Pipeline::send_reset(size_t j) {
  Msg reset;
  reset.kind = Msg::Kind::Reset;
  reset.job = j;
  send(std::move(reset), false);
}

WindowStream Pipeline::provisional_cut(size_t j, ProvisionalJudge& judge) {
  return WindowStream(window_, hop_, [this, j, &judge](int idx, int64_t start, int64_t end, const float* x) {
    const audio::WindowLevel level = audio::window_level(x, static_cast<size_t>(end - start));
    send_window(j, idx, start, end, level.rms_db, judge.surely_silent(level), x);
  });
}

void Pipeline::decode_whole(size_t j, Msg&& done) {
  const CrawledFile& f = *jobs_[j].file;
  // The acoustic fingerprint (duplicates decide by it) comes from the same decoded samples.
  std::optional<audio::Fingerprinter> printer;
  start_fingerprint(printer);
  // Windows stream to the model as they are cut, judged by the silence threshold. A track whose
  // windows were all below it but is not digital silence is quiet, not silent (audio/windows.h):
  // its window records are dropped and it is cut again against its own loudest window, from the
  // samples kept of this decode while no window was loud. A track that has had no loud window by
  // the time a decode can keep no more (kFirstPassKeptSamples) is cut again from those samples
  // and the rest of this decode, judged provisionally (ProvisionalJudge): never decoded again (a
  // file indexed afresh by a later pass would then be decoded a third time).
  audio::QuietTrackCheck quiet;
  bool loud = false;
  WindowStream judged(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    const audio::WindowLevel level = audio::window_level(x, static_cast<size_t>(end - start));
    quiet.add(level, s_.silence_db);
    if (!(level.rms_db < s_.silence_db)) loud = true;
    send_window(j, idx, start, end, level.rms_db, level.rms_db < s_.silence_db, x);
  });
  std::vector<float>& kept = kept_samples();
  kept.clear();
  bool keeping = true;
  ProvisionalJudge judge(s_.silence_db, window_);
  std::optional<WindowStream> provisional;
  DecodeTally tally(*this, j);
  try {
    done.info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
      tally.add(n);
      if (printer) printer->feed(x, n);
      if (provisional) return provisional->feed(x, n);
      judged.feed(x, n);
      if (!keeping) return;
      if (!loud && kept.size() + n <= kFirstPassKeptSamples) {
        kept.insert(kept.end(), x, x + n);
        return;
      }
      keeping = false;  // loud (no need to keep), or too long to keep
      if (!loud) {
        send_reset(j);
        provisional.emplace(provisional_cut(j, judge));
        replay(kept, [&] { return abort_.load(); }, [&](const float* y, size_t m) { provisional->feed(y, m); });
        provisional->feed(x, n);
      }
      kept.clear();
    });
    if (provisional) provisional->finish();
    else judged.finish();
  } catch (const Aborted&) {
    throw;
  } catch (const std::exception& e) {
    return fail(j, reason_of(e, f.path), done.hash);  // windows already sent are discarded
  }
  if (provisional) {
    done.silent_below = judge.threshold();
  } else if (quiet.needs_quiet_pass()) {
    // No window was loud, so every sample was kept.
    send_reset(j);
    const double threshold = quiet.quiet_threshold();
    WindowStream cut(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
      const double loudness = audio::window_level(x, static_cast<size_t>(end - start)).rms_db;
      send_window(j, idx, start, end, loudness, loudness < threshold, x);
    });
    replay(kept, [&] { return abort_.load(); }, [&](const float* x, size_t n) { cut.feed(x, n); });
    cut.finish();
  }
  done.fingerprint = finish_fingerprint(printer);
  send_done(j, std::move(done));
}

Pipeline::SpanCut Pipeline::send_first_pass_spans(size_t j, Msg& done) {
  const CrawledFile& f = *jobs_[j].file;
  // Cut before the run from this version of the file (PrecutFirstPasses: --precision auto's
  // sample): its length and its spans' samples are taken from that decode, not read again.
  std::optional<PrecutSpans> pre;
  if (s_.precut) pre = s_.precut->take(f.path, opened_[j]);
  std::optional<audio::StreamLength> length;
  if (pre) {
    length = pre->length;
  } else {
    try {
      length = audio::stream_length(f.path, spec_.sample_rate);
    } catch (const std::exception&) {  // decoding it whole says what is wrong with the file
      return SpanCut::Refused;
    }
  }
  // A length no file holds is a container's lie (audio/windows.h): decoded whole, the real one.
  if (!length || audio::window_count(length->samples, window_, hop_) > audio::kMaxLaidOutWindows) return SpanCut::Refused;
  const std::vector<audio::Window> plan = audio::plan_windows(length->samples, window_, hop_);
  // A track of no more windows than the first pass takes is indexed whole at once, and its
  // silent windows must be known: decoded whole.
  const std::vector<int> chosen = first_pass_span_windows(plan, s_.first_pass);
  if (chosen.empty()) return SpanCut::Refused;
  std::vector<audio::SampleSpan> spans;
  for (int i : chosen) spans.push_back({plan[static_cast<size_t>(i)].start, plan[static_cast<size_t>(i)].end});
  const auto same_spans = [&](const std::vector<audio::SampleSpan>& other) {
    return std::equal(spans.begin(), spans.end(), other.begin(), other.end(),
                      [](const audio::SampleSpan& a, const audio::SampleSpan& b) { return a.start == b.start && a.end == b.end; });
  };
  std::optional<std::vector<std::vector<float>>> cut;
  if (pre && (same_spans(pre->spans) || (pre->spans.empty() && !pre->samples && chosen.back() + 1 == static_cast<int>(plan.size())))) {
    cut = std::move(pre->samples);  // nullopt: that decode failed, as this one would have
  } else {
    try {
      cut = audio::decode_spans(f.path, spec_.sample_rate, spans);
    } catch (const std::exception&) {
      return SpanCut::Spent;
    }
  }
  if (!cut || cut->size() != spans.size()) return SpanCut::Spent;
  std::vector<Msg> windows;
  bool loud = false;
  for (size_t k = 0; k < chosen.size(); ++k) {
    Msg m;
    m.job = j;
    m.idx = chosen[k];
    m.start = spans[k].start;
    m.end = spans[k].end;
    m.samples = std::move((*cut)[k]);
    m.loudness = audio::window_level(m.samples.data(), m.samples.size()).rms_db;
    // A window at or above the threshold says the track is not quiet (audio/windows.h): then one
    // below it is silent, as a whole decode finds, and recorded so. With none, only the whole
    // track's levels tell a quiet track from silent windows.
    m.silent = m.loudness < s_.silence_db;
    if (m.silent) m.samples = {};
    loud = loud || !m.silent;
    windows.push_back(std::move(m));
  }
  if (!loud) return SpanCut::Spent;
  for (Msg& m : windows) {
    const bool heavy = !m.silent;
    send(std::move(m), heavy);
  }
  done.info.source_rate = static_cast<int>(length->source_rate);
  done.info.source_samples = length->source_samples;
  done.info.output_samples = length->samples;
  done.info.duration_s = double(length->source_samples) / double(length->source_rate);  // as decode_stream says it
  done.info.resampler = length->source_rate == spec_.sample_rate ? "none" : "soxr";
  done.window_total = static_cast<int>(plan.size());
  return SpanCut::Sent;
}

void Pipeline::decode_first_pass(size_t j, Msg&& done) {
  const CrawledFile& f = *jobs_[j].file;
  switch (send_first_pass_spans(j, done)) {
    case SpanCut::Sent:
      return send_done(j, std::move(done));
    case SpanCut::Spent:
      // Decoded once already (its spans): decoded whole now and indexed whole, every window, so
      // that no later pass decodes it a third time.
      return decode_whole(j, std::move(done));
    case SpanCut::Refused:
      break;
  }
  std::optional<audio::Fingerprinter> printer;
  start_fingerprint(printer);
  // A file too long to keep (below) has its first pass's windows cut as the scan passes them: the
  // windows of the layout its container's duration gives (window_passes over all its windows), the
  // samples of each held. Those found non-silent are its first pass (exactly the layout's where the
  // duration is exact and no window of it is silent); later passes take every other window.
  std::vector<uint8_t> candidate;
  // A duration claiming more windows than kMaxLaidOutWindows is not laid out (audio/windows.h):
  // the layout is then the one decoded (the whole file's windows, below). Compared in double:
  // llround of a claim past int64 is undefined.
  const double claimed = done.tags.duration_s * spec_.sample_rate;
  if (claimed > 0 && claimed < 0x1p62 &&
      audio::window_count(std::llround(claimed), window_, hop_) <= audio::kMaxLaidOutWindows) {
    const std::vector<audio::Window> plan = audio::plan_windows(std::llround(claimed), window_, hop_);
    if (static_cast<int>(plan.size()) > s_.first_pass) {
      const std::vector<int> layout = window_passes(static_cast<int>(plan.size()), s_.first_pass, s_.last_pass);
      for (int p : layout) candidate.push_back(p == 1);
    }
  }
  std::map<int, std::vector<float>> held;
  std::vector<audio::WindowLevel> levels;
  audio::QuietTrackCheck quiet;
  WindowStream scan(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    levels.push_back(audio::window_level(x, static_cast<size_t>(end - start)));
    quiet.add(levels.back(), s_.silence_db);
    if (static_cast<size_t>(idx) < candidate.size() && candidate[static_cast<size_t>(idx)])
      held[idx].assign(x, x + (end - start));
  });
  std::vector<float>& kept = kept_samples();
  kept.clear();
  bool keeping = true;
  DecodeTally tally(*this, j);
  try {
    done.info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
      tally.add(n);
      if (abort_) throw Aborted{};
      scan.feed(x, n);
      if (printer) printer->feed(x, n);
      if (keeping && kept.size() + n <= kFirstPassKeptSamples) {
        kept.insert(kept.end(), x, x + n);
      } else {
        keeping = false;  // too long: its windows come from `held`
        kept.clear();
      }
    });
    scan.finish();
  } catch (const Aborted&) {
    throw;
  } catch (const std::exception& e) {
    return fail(j, reason_of(e, f.path), done.hash);
  }
  done.fingerprint = finish_fingerprint(printer);
  // The threshold the one-shot path arrives at (decode(): a quiet track judged against itself).
  const double threshold = quiet.needs_quiet_pass() ? quiet.quiet_threshold() : s_.silence_db;
  std::vector<int> active;
  for (size_t i = 0; i < levels.size(); ++i)
    if (!(levels[i].rms_db < threshold)) active.push_back(static_cast<int>(i));
  std::vector<uint8_t> kind(levels.size(), kSilentRecord);
  for (int i : active) kind[static_cast<size_t>(i)] = kLeave;
  bool sent = false;
  if (keeping) {
    const std::vector<int> passes = window_passes(static_cast<int>(active.size()), s_.first_pass, s_.last_pass);
    for (size_t k = 0; k < active.size(); ++k)
      if (passes[k] == 1) kind[static_cast<size_t>(active[k])] = kEmbed;
    if (!send_selected(j, f.path, kind, levels, &kept)) return;
    sent = true;
  } else {
    bool any = false;
    for (const auto& [idx, x] : held)
      if (static_cast<size_t>(idx) < kind.size() && kind[static_cast<size_t>(idx)] == kLeave) {
        kind[static_cast<size_t>(idx)] = kEmbed;
        any = true;
      }
    sent = any && send_held(j, kind, levels, held, done.info.output_samples);
  }
  // No window of the layout held is non-silent, or its container gives no duration to lay them
  // out by: decoded again, and indexed whole now, every active window, so that no later pass
  // decodes it a third time (decoding only the first pass's windows again, as spans or whole,
  // left the rest to a third decode).
  if (!sent) {
    for (int i : active) kind[static_cast<size_t>(i)] = kEmbed;
    if (!send_selected(j, f.path, kind, levels)) return;
  }
  done.window_total = static_cast<int>(levels.size());
  send_done(j, std::move(done));
}

bool Pipeline::send_held(size_t j, const std::vector<uint8_t>& kind, const std::vector<audio::WindowLevel>& levels,
                         std::map<int, std::vector<float>>& held, int64_t total) {
  const std::vector<audio::Window> plan = audio::plan_windows(total, window_, hop_);  // as the scan cut them
  if (plan.size() != kind.size()) return false;
  for (size_t i = 0; i < kind.size(); ++i) {
    if (abort_) throw Aborted{};
    if (kind[i] == kLeave) continue;
    const bool silent = kind[i] == kSilentRecord;
    send_window(j, static_cast<int>(i), plan.at(i).start, plan.at(i).end, levels[i].rms_db, silent,
                silent ? std::vector<float>{} : std::move(held.at(static_cast<int>(i))));
  }
  return true;
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
      hash_packets(j, done);
      return decode_whole(j, std::move(done));
    }
  }
  if (d.verify) return decode_more_verified(j);
  std::vector<uint8_t> kind(static_cast<size_t>(d.window_total), kLeave);
  for (int idx : d.wanted) kind[static_cast<size_t>(idx)] = kEmbed;
  std::optional<audio::Fingerprinter> printer;
  if (d.make_fingerprint) start_fingerprint(printer);
  if (!send_selected(j, f.path, kind, {}, nullptr, d.judge_silence ? std::optional<double>(s_.silence_db) : std::nullopt,
                     printer ? &*printer : nullptr))
    return;
  Msg done;
  done.kind = Msg::Kind::Done;
  done.job = j;
  done.window_total = d.window_total;
  done.fingerprint = finish_fingerprint(printer);
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
  start_fingerprint(printer);
  std::vector<audio::WindowLevel> levels;
  audio::QuietTrackCheck quiet;
  bool differs = false;  // this decode is not the one the first pass stored
  bool loud = false;     // a window at or above the silence threshold so far
  // Every window sent again from the start and the track indexed afresh from this decode,
  // judged provisionally (ProvisionalJudge): a long track with no loud window in what a decode
  // keeps may be quiet, which would need its windows cut again against its own level.
  bool rebuilding = false;
  // The windows this pass does not send (the first pass's, and any the layout leaves to a deeper
  // pass), kept for a track indexed afresh from this decode: the level of each, the samples of
  // those at or above the threshold (a few: the first pass's), up to kFirstPassKeptSamples.
  struct Unsent {
    int idx = 0;
    int64_t start = 0, end = 0;
    std::vector<float> samples;
  };
  std::vector<Unsent> unsent;
  size_t unsent_samples = 0;
  bool unsent_whole = true;
  WindowStream windows(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    const size_t n = static_cast<size_t>(end - start);
    const audio::WindowLevel level = audio::window_level(x, n);
    levels.push_back(level);
    quiet.add(level, s_.silence_db);
    if (!(level.rms_db < s_.silence_db)) loud = true;
    const size_t i = static_cast<size_t>(idx);
    if (i >= total) {
      differs = true;  // more windows than the packets gave
    } else if (stored[i] && !differs) {
      differs = std::memcmp(&level.rms_db, &*stored[i], sizeof level.rms_db) != 0;
    }
    if (rebuilding) return;  // the provisional cut sends every window
    // Sent after a difference too: a track indexed afresh keeps them (judged as a one-shot index
    // judges a track that is not quiet).
    if (i < total && wanted[i])
      return send_window(j, idx, start, end, level.rms_db, d.judge_silence && level.rms_db < s_.silence_db, x);
    if (!unsent_whole) return;
    Unsent u{idx, start, end, {}};
    if (!(level.rms_db < s_.silence_db)) {
      if (unsent_samples + n > kFirstPassKeptSamples) {
        unsent_whole = false;
        unsent = {};
        return;
      }
      u.samples.assign(x, x + n);
      unsent_samples += n;
    }
    unsent.push_back(std::move(u));
  });
  std::vector<float>& kept = kept_samples();
  kept.clear();
  bool keeping = true;
  ProvisionalJudge judge(s_.silence_db, window_);
  std::optional<WindowStream> provisional;
  audio::AudioInfo info;
  DecodeTally tally(*this, j);
  try {
    info = audio::decode_stream(f.path, spec_.sample_rate, [&](const float* x, size_t n) {
      tally.add(n);
      if (abort_) throw Aborted{};
      windows.feed(x, n);
      if (printer) printer->feed(x, n);
      if (provisional) return provisional->feed(x, n);
      if (!keeping) return;
      if (kept.size() + n <= kFirstPassKeptSamples) {
        kept.insert(kept.end(), x, x + n);
        return;
      }
      keeping = false;
      if (!loud) {
        send_reset(j);
        rebuilding = true;
        unsent = {};
        provisional.emplace(provisional_cut(j, judge));
        replay(kept, [&] { return abort_.load(); }, [&](const float* y, size_t m) { provisional->feed(y, m); });
        provisional->feed(x, n);
      }
      kept.clear();
    });
    windows.finish();
    if (provisional) provisional->finish();
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
  done.fingerprint = finish_fingerprint(printer);
  if (!differs && !rebuilding) return send_done(j, std::move(done));
  // Afresh, as a first index of the file stores it (decode_whole), from this decode.
  done.afresh = true;
  try {
    done.hash = sha256_file(f.path);
    done.tags = audio::read_tags(f.path);
  } catch (const std::exception& e) {
    return fail(j, reason_of(e, f.path));
  }
  done.info = info;
  done.window_total = static_cast<int>(levels.size());
  if (rebuilding) {
    done.silent_below = judge.threshold();
    return send_done(j, std::move(done));
  }
  // Not quiet: the windows sent stay, and the unsent ones join them (the track is written in
  // window order, Pipeline::finish). Those sent unjudged are judged when the track is written.
  if (!quiet.needs_quiet_pass() && unsent_whole) {
    for (Unsent& u : unsent) {
      if (abort_) throw Aborted{};
      const double loudness = levels[static_cast<size_t>(u.idx)].rms_db;
      send_window(j, u.idx, u.start, u.end, loudness, loudness < s_.silence_db, std::move(u.samples));
    }
    if (!d.judge_silence) done.silent_below = s_.silence_db;
    return send_done(j, std::move(done));
  }
  // A quiet track (every sample kept: a longer one is rebuilding), or one whose unsent windows
  // were too many to hold (a first pass of over kFirstPassKeptSamples): what was sent is
  // discarded and every window cut again from this decode's samples, judged against the track's
  // own level; where they were not kept the file is decoded again (a third decode, only with a
  // --first-pass that long).
  send_reset(j);
  if (!keeping) {
    done.fingerprint.clear();
    return decode_whole(j, std::move(done));
  }
  const double threshold = quiet.needs_quiet_pass() ? quiet.quiet_threshold() : s_.silence_db;
  WindowStream cut(window_, hop_, [&](int idx, int64_t start, int64_t end, const float* x) {
    const double loudness = levels[static_cast<size_t>(idx)].rms_db;
    send_window(j, idx, start, end, loudness, loudness < threshold, x);
  });
  replay(kept, [&] { return abort_.load(); }, [&](const float* x, size_t n) { cut.feed(x, n); });
  cut.finish();
  send_done(j, std::move(done));
}

bool Pipeline::send_selected(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                             const std::vector<audio::WindowLevel>& levels, const std::vector<float>* decoded,
                             std::optional<double> silent_below, audio::Fingerprinter* printer) {
  int last = -1;
  for (size_t i = 0; i < kind.size(); ++i)
    if (kind[i] != kLeave) last = static_cast<int>(i);
  auto record = [&](int idx, int64_t start, int64_t end, const float* x) {
    bool silent = kind[static_cast<size_t>(idx)] == kSilentRecord;
    const double loudness = silent ? levels[static_cast<size_t>(idx)].rms_db
                                   : audio::window_level(x, static_cast<size_t>(end - start)).rms_db;
    if (silent_below && loudness < *silent_below) silent = true;
    send_window(j, idx, start, end, loudness, silent, x);
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
  DecodeTally tally(*this, j);
  try {
    if (decoded) {
      replay(*decoded, [&] { return abort_.load(); }, [&](const float* x, size_t n) { windows.feed(x, n); });
    } else {
      audio::decode_stream(path, spec_.sample_rate, [&](const float* x, size_t n) {
        tally.add(n);
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
