// The decode-and-embed pipeline's class (internal to index/: pipeline.cpp holds the run and its
// embedding side, pipeline_decode.cpp its decoder side). One class: its decoder threads and its
// embedding thread share the queue, the file assemblies and the run's counters.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audio/decode.h"
#include "audio/fingerprint.h"
#include "audio/windows.h"
#include "index/bounded_queue.h"
#include "index/pipeline.h"
#include "index/precut.h"
#include "index/window_stream.h"

namespace clap::index::detail {

using store::Store;
using store::Track;
using store::TrackStatus;
using store::WindowRecord;

// What a decoder sends to the embedding thread, per file, in order: its windows, then one
// of Done / Failed / Moved (a quiet track: its silent windows, Reset, its windows again, Done);
// a later pass's file ends with Done or Skipped (nothing stored changes). Reset discards every
// window the file sent before it (a later pass found the first pass off: the track afresh follows).
// Progress, any time in between: how far the file's current decode has come (`end`, in samples),
// so that one long file (a 6-hour recording, silent or not) shows progress as it decodes (R10C-1).
struct Msg {
  enum class Kind { Window, Done, Failed, Moved, Reset, Skipped, Progress } kind = Kind::Window;
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
  // The packet hash of the file read (audio/packet_hash.h), stored with the track: nullopt when
  // not made (a later pass's file, whose content the stored one is); "" when the file could not
  // be demuxed for it (packet_hash_error says why).
  std::optional<std::string> packet_hash;
  std::string packet_hash_error;
  int window_total = 0;  // windows the track has in all (0: as many as were sent)
  // A later pass's job that indexed its track afresh (Deepen::verify found the first pass off a
  // whole decode): the track is written whole, as a first pass writes it.
  bool afresh = false;
  // Set when windows were sent before the track's level was known (ProvisionalJudge): each sent
  // window below this level is silent (its embedding dropped), as the one-shot judgement makes it.
  std::optional<double> silent_below;
  // Failed, Skipped
  std::string reason;
  // Moved
  int64_t track_id = 0;
  std::string old_path;
  bool restore = false;  // track_id is a retired track to bring back
};

struct Aborted {};  // thrown through decode_stream when the run is stopping
struct Enough {};   // thrown through decode_stream once the windows wanted are cut

// A decode's samples are kept to cut its windows again (a first pass's, a quiet track's against
// its own level, a track indexed afresh) when the file is at most this long (16 M samples: 64 MB,
// 5.8 min at 48 kHz, most songs), instead of decoding it again.
constexpr size_t kFirstPassKeptSamples = size_t{16} << 20;

// The judgement of a track whose level is not known yet, window by window as they are cut
// (audio/windows.h: silent below the silence threshold; a quiet track, every window below it but
// not digital silence, against its own loudest window). A window that is silent however the track
// goes on is sent as silent; any other with its samples, embedded, and judged when the track has
// ended (threshold(), sent as Msg::silent_below). For a long track that has had no window at or
// above the silence threshold when its decode can keep no more of its samples
// (kFirstPassKeptSamples): only its end tells whether it is quiet, and cutting it again would be
// another decode. What this sends beyond the one-shot judgement (windows embedded, then dropped)
// costs model time only, on tracks quiet for their first 5.8 min.
class ProvisionalJudge {
 public:
  ProvisionalJudge(double silence_db, int64_t window)
      : silence_db_(silence_db),
        // A quiet track's loudest window holds a sample at kDigitalSilenceDb or above, so its RMS
        // is at least that less 10 log10(its samples): its threshold, kQuietRangeDb lower, is
        // never below this (a dB lower still: clear of rounding).
        floor_(audio::kDigitalSilenceDb - 10 * std::log10(double(std::max<int64_t>(window, 1))) - audio::kQuietRangeDb - 1) {}
  // True when the window (the track's next) is silent however the track ends.
  bool surely_silent(const audio::WindowLevel& level) {
    quiet_.add(level, silence_db_);
    loudest_ = std::max(loudest_, level.rms_db);
    if (!(level.rms_db < silence_db_)) loud_ = true;
    if (!(level.rms_db < silence_db_)) return false;
    if (loud_) return true;  // the track is not quiet: the silence threshold judges it
    // Quiet or not, its threshold is at least the loudest window so far less kQuietRangeDb.
    return level.rms_db < std::max(loudest_ - audio::kQuietRangeDb, floor_);
  }
  // Below it a window is silent, as the one-shot judgement of the whole track has it.
  double threshold() const { return quiet_.needs_quiet_pass() ? quiet_.quiet_threshold() : silence_db_; }

 private:
  double silence_db_, floor_;
  double loudest_ = -1e300;
  bool loud_ = false;
  audio::QuietTrackCheck quiet_;
};

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
    opened_.resize(jobs_.size());
  }

  void run();

  // IndexSettings::decode_threads, or its automatic choice for these jobs.
  int decoders() const;

  double decode_seconds() const { return decode_ns_.load() / 1e9; }
  // Tracks of a later pass left as they were (file changed, gone or unreadable).
  const std::vector<int64_t>& skipped() const { return skipped_; }

 private:
  // ---- decoder side ------------------------------------------------------------------------

  void worker();

  void send(Msg&& m, bool heavy);

  // A later pass's failure is a skip: what the track holds stays (the next run tries again).
  void fail(size_t j, std::string reason, std::string hash = "");

  void decode(size_t j);

  // The packet hash of file `j` into `done` (Msg::packet_hash), by its decoder thread: the file
  // was just read whole for its content hash, so its demux reads what the page cache holds.
  void hash_packets(size_t j, Msg& done) const;

  // Sends window `idx` of file `j` (samples [start, end) of the track, its level `loudness`):
  // a silent one as its record alone, else with its samples (`samples`, or `x`: end - start values).
  void send_window(size_t j, int idx, int64_t start, int64_t end, double loudness, bool silent, std::vector<float>&& samples);
  void send_window(size_t j, int idx, int64_t start, int64_t end, double loudness, bool silent, const float* x);

  // Discards every window file `j` sent so far (Msg::Kind::Reset).
  void send_reset(size_t j);

  // A decode's tally of the samples it has given: every kProgressSeconds of wall time it tells
  // the embedding thread how far the file's decode is (Msg::Kind::Progress). One per decode.
  class DecodeTally {
   public:
    DecodeTally(Pipeline& p, size_t j) : p_(p), j_(j) {}
    void add(size_t n);

   private:
    Pipeline& p_;
    size_t j_;
    int64_t samples_ = 0;
    Clock::time_point last_ = Clock::now();
  };

  // A cut that sends file `j`'s windows as `judge` judges them (the track's windows from its start).
  WindowStream provisional_cut(size_t j, ProvisionalJudge& judge);

  // Sends a file's Done, unless the file changed since its job began (FileStamp, opened_): then
  // it is skipped (a queued first pass: failed) and nothing read from it is stored.
  void send_done(size_t j, Msg&& done);

  // The one-shot decode (decode()'s, also a later pass's track indexed afresh, and a first pass's
  // that indexes a file whole): every window cut as the file decodes, a quiet track cut again
  // against its own loudest window (from the samples kept, or provisionally: ProvisionalJudge),
  // the fingerprint made; `done` (hash and tags filled in) sent last. One decode, whatever the file.
  void decode_whole(size_t j, Msg&& done);

  // Progressive indexing's first pass (index/passes.h): first as spans (send_first_pass_spans:
  // nothing decoded but its windows). Where that cannot be, the file is decoded once to learn every
  // window's level (which windows are silent, how many there are), its duration and fingerprint;
  // then the first pass's windows are cut from the samples kept of that decode (a file up to
  // kFirstPassKeptSamples long), or for a longer one from the windows held as the decode passed
  // them (the layout its container's duration gives: send_held). Silent windows are recorded now:
  // the stored rows then tell later passes which windows remain to embed. A file decoded once
  // already and not served by it is indexed whole at once, every window, by its second decode: one
  // whose span decode could not serve (SpanCut::Spent: decode_whole), and a long one with no held
  // window non-silent or no duration to lay them out by (send_selected). No file is decoded more
  // than twice over a progressive index (its first pass and the rest).
  void decode_first_pass(size_t j, Msg&& done);

  // The first pass's windows of a file too long to keep, from `held` (their samples, taken as the
  // decode passed them): as send_selected sends `kind`'s, for a track of `total` samples. False,
  // with nothing sent, when the windows of `total` samples are not as many as `kind`.
  bool send_held(size_t j, const std::vector<uint8_t>& kind, const std::vector<audio::WindowLevel>& levels,
                 std::map<int, std::vector<float>>& held, int64_t total);

  // A fingerprinter for a decode's samples, or none where Chromaprint refuses (the track is indexed
  // all the same), and what it made (empty: none).
  void start_fingerprint(std::optional<audio::Fingerprinter>& printer) const;
  static std::vector<uint32_t> finish_fingerprint(std::optional<audio::Fingerprinter>& printer);

  // A later pass: the file decoded again (stopping after the last window wanted) and the
  // windows it adds cut. A file that changed since (the next run indexes it again) is skipped.
  void decode_more(size_t j);

  // decode_more for a track whose first pass is checked (Deepen::verify): the file decoded to its
  // end, the windows wanted sent as they are cut, and the first pass's duration and stored levels
  // compared with this decode's. Should they differ, the track is indexed afresh from this decode
  // (Done sent with `afresh`): the windows sent stay, and those it did not send (the first pass's,
  // held as the decode passed them) are sent after them. A quiet track's (judged against its own
  // level) are all discarded (Reset) and cut again from this decode's samples, kept up to
  // kFirstPassKeptSamples; a longer track with no loud window in those is sent again whole as it
  // decodes, judged provisionally (ProvisionalJudge), and indexed afresh whether or not it differs.
  void decode_more_verified(size_t j);

  // Decodes `path` (or reads `decoded`, the samples a decode of it gave) and sends the windows
  // `kind` selects, in window order: kSilentRecord as a silent window's record (its level from
  // `levels`), kEmbed with its samples. Stops after the last one. False (Failed or Skipped sent)
  // when the file could not be decoded or ended before them.
  // `silent_below`: an embedded window below it is sent as a silent one instead (a later pass
  // of a track known not to be quiet). `printer`: fed every decoded sample (the decode then
  // runs on until the fingerprint has its length).
  bool send_selected(size_t j, const std::string& path, const std::vector<uint8_t>& kind,
                     const std::vector<audio::WindowLevel>& levels, const std::vector<float>* decoded = nullptr,
                     std::optional<double> silent_below = std::nullopt, audio::Fingerprinter* printer = nullptr);

  // Progressive indexing's first pass without a whole decode: the track's length read off its
  // packets (audio::stream_length), its first-pass windows laid out over all its windows and cut
  // as spans (audio::decode_spans), bit for bit a whole decode's. A window cut below the silence
  // threshold is recorded silent when another is at or above it (the track is not quiet). Nothing
  // sent when the file does not allow that or the track has no more windows than the first pass
  // takes (Refused: nothing decoded), or when the span decode failed or every window cut is below
  // the threshold (Spent: only the whole track's levels tell whether they are silent); the caller
  // then decodes the file whole. No fingerprint made: the second pass, which decodes the file
  // whole, makes it (and records the silent windows the first pass did not meet).
  enum class SpanCut { Sent, Refused, Spent };  // Refused: nothing decoded; Spent: decoded, not sent
  SpanCut send_first_pass_spans(size_t j, Msg& done);

  // ---- embedding side ----------------------------------------------------------------------

  const ClapModel& model();

  void consume();

  void on_window(Msg&& m);

  // Discards what file `j` sent so far (its windows, embedded or waiting in the batch).
  void on_reset(size_t j);

  void on_done(Msg&& m);

  // Every job ends in one write (a track, an error, a move, a skip), made in the order of the
  // jobs whatever order their decodes and embeddings end in: the store gives new rows their ids
  // in write order, so with several decoders too the same files get the same ids, and results
  // that tie (copies of one recording) come out in the same order from every index of them.
  // A job whose end comes early waits here until every earlier one has been written (with one
  // decoder, at most until the batch holding an earlier file's last windows has run).
  void commit(size_t j, std::function<void()> write);

  // The waiting writes in job order: those that continue the written jobs without a gap, or all.
  void write_ready(bool all);

  void on_failed(const Msg& m);

  void on_skipped(const Msg& m);

  void skipped(size_t j, const std::string& reason);

  void on_moved(const Msg& m);

  void moved(const Msg& m);

  void run_batch();

  Track base_track(size_t j) const;

  // A later pass's windows, all embedded: added to the track with the track embedding made
  // again from every window it then holds (in window order, as a one-shot index makes it), in
  // one transaction.
  void finish_more(size_t j, const Assembly& a);

  // A decoded file whose windows all have their embeddings: one transaction.
  void finish(size_t j);

  void record_error(size_t j, const std::string& reason, const std::string& hash, Track* decoded,
                    const std::vector<WindowRecord>* windows = nullptr);

  // Stores a finished file (a queued job: with its job, if this worker still holds the lease).
  // False when the lease was lost: another worker has the file and stores it.
  bool write(size_t j, const Track& t, const std::vector<WindowRecord>& windows, const float* embedding);

  // A queued job whose lease ran out: another worker has the file and stores it.
  void lease_lost(size_t j, const std::string& path);

  void file_finished(size_t j);

  void report(bool finished);

  // A decoder's Msg::Kind::Progress: the file's audio decoded so far counts in the next report.
  void on_progress(const Msg& m);

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
  std::vector<std::optional<FileStamp>> opened_;  // each job's file as its decoder began (its thread's alone)
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
  // Seconds decoded of each file not finished yet (Msg::Kind::Progress), counted in the reports'
  // audio until the file's own duration is (file_finished).
  std::unordered_map<size_t, double> decoding_;
};

}  // namespace clap::index::detail
