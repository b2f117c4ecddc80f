// First-pass span decodes made before a run's pipeline starts, handed to it so that the file is
// not decoded again for them: `--precision auto`'s sample (service/precision_choice.h) cuts each
// sampled file's first-pass windows as the pipeline would (pipeline_decode.cpp
// send_first_pass_spans) in the same decode as the windows it measures on, and the pipeline's first
// pass embeds those samples instead of decoding the spans itself. Without it a sampled file was
// decoded three times over a progressive index (the sample, the first pass, the later pass), and
// no file may be decoded more than twice (docs/operations.md).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "audio/windows.h"

namespace clap::index {

// What stat says of a file: it was not written between two of these that are equal (its change
// time moves with every write, and no program sets it).
struct FileStamp {
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  uint64_t device = 0, inode = 0;
  bool operator==(const FileStamp&) const = default;
  static std::optional<FileStamp> of(const std::string& path);  // nullopt: gone or unreadable
  // Runs `read` over the version of `path` a track was indexed from (its stored size and
  // modification time): false, and what `read` made is not to be used, when the file is not that
  // version or was written while `read` ran. What the indexer reads of an indexed track outside
  // the pipeline (a fingerprint, a packet hash) is of the file its embeddings were made from, as
  // every decode of the pipeline checks (Pipeline::send_done). Exceptions of `read` propagate.
  static bool read_as_indexed(const std::string& path, int64_t size, int64_t mtime_ns, const std::function<void()>& read);
};

// The windows (indices into `plan`) a progressive first pass of `first_pass` windows cuts as
// spans from a track laid out as `plan` (index/passes.h: the pass-1 windows over all of them).
// Empty when the track has no more windows than that (its first pass decodes it whole).
std::vector<int> first_pass_span_windows(const std::vector<audio::Window>& plan, int first_pass);

// One file's first pass, cut before the run.
struct PrecutSpans {
  FileStamp stamp;              // of the file when it was cut (taken before its length was read)
  audio::StreamLength length;   // audio::stream_length's
  std::vector<audio::SampleSpan> spans;  // the first pass's (first_pass_span_windows), in order
  // Their samples, bit for bit what audio::decode_spans gave for them; nullopt when the span
  // decode failed (then the pipeline decodes the file whole, as after its own failed span decode).
  std::optional<std::vector<std::vector<float>>> samples;
};

// The cuts of a run, by the crawled path, each taken once by the decoder thread that indexes its
// file (decoder threads run side by side).
class PrecutFirstPasses {
 public:
  void put(const std::string& path, PrecutSpans cut);
  // The cut of `path`, removed; nullopt when there is none, or it is of another version of the
  // file than `now` (the stamp the pipeline took as it began the file): then it is dropped.
  std::optional<PrecutSpans> take(const std::string& path, const std::optional<FileStamp>& now);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, PrecutSpans> cuts_;
};

}  // namespace clap::index
