// Embedding audio files outside the indexer, the way the indexer embeds a track: decode to
// the model's rate, cut into windows covering the whole file, flag windows below the silence
// threshold, embed the rest. The track embedding of a file is computed by the same function
// the indexer uses (core/vector_math.h: track_embedding).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/clap.h"

namespace clap::service {

struct FileWindows {
  std::string path;
  int dim = 0;
  std::vector<float> embeddings;  // n × dim; zero rows for silent windows
  // With WindowSettings::pooled: the audio tower's pooled outputs instead (n × pooled_dim, zero
  // rows for silent windows; `embeddings` is then empty).
  std::vector<float> pooled;
  int pooled_dim = 0;
  std::vector<double> starts, ends;
  std::vector<uint8_t> silent;
  double duration_s = 0;
  int64_t size() const { return static_cast<int64_t>(starts.size()); }
};

struct WindowSettings {
  double window_s = 10, hop_s = 5;
  double silence_db = -60;  // windows quieter than this (RMS, dBFS) are silent: not embedded
  int batch = 8;            // windows per model call
  double max_duration_s = 0; // > 0: a longer file is refused while decoding (bounded work per query)
  bool pooled = false;        // the tower's pooled outputs instead of embeddings (fine-tuning the audio head)
  bool untrusted = false;     // bytes a client sent: audio demuxers only, no nested opens (audio::Origin::Untrusted)
  // Called while the file is decoded (about every second of audio) and between two model
  // batches; may throw to stop the work (the Python module: Ctrl-C within one long file).
  std::function<void()> between_batches;
};

// Throws clap::Error when windows of window_s seconds at `rate` are longer than the model's
// input (max_samples), before anything is decoded or loaded.
void check_window_length(double window_s, int rate, int64_t max_samples);
// Throws InvalidArgument ("--hop H s: at least 0.5 s") unless hop_s is at least the bound `index
// --hop` and `like --hop` have (index/identity.h kMinHopSeconds): `embed --hop` and Python's
// embed_song / embed_audio_files took a hop of one sample, 144,000 model runs for 3 s of audio
// (hostile pass 9's rough edges). Every embedding of a file's windows checks it.
void check_hop(double hop_s);

// The refusals of embed_file_windows a front end answers apart (the server: 415 and 413).
class UndecodableAudio : public Error {
 public:
  using Error::Error;
};
class AudioTooLong : public Error {
 public:
  using Error::Error;
};

// Throws clap::Error: no such file, a folder, window longer than the model's input, silent
// throughout; UndecodableAudio ("cannot decode the query audio: ..."); AudioTooLong (over
// settings.max_duration_s); audio::MediaLibraryUnavailable (audio/media_unavailable.h) as it
// is, when FFmpeg, Chromaprint or libsoxr cannot be loaded (the program's fault, not the file's).
FileWindows embed_file_windows(const ClapModel& model, ClapState& state, const std::string& path,
                               const WindowSettings& settings);

// The track embedding of a file's windows (silent ones skipped), as the index stores it.
std::vector<float> file_track_embedding(const FileWindows& windows);

// `clapsearch embed`: a file of at most one model window is embedded exactly as the reference
// processes one clip; a longer one as the normalised mean of its windows (model window, every
// hop_s seconds), i.e. the track embedding the index stores (no silence threshold here).
std::vector<float> embed_audio_file(const ClapModel& model, ClapState& state, const std::string& path, double hop_s,
                                    int batch, const std::function<void()>& between_batches = {});

}  // namespace clap::service
