// Transcoding an audio file to MP3 or Opus in-process with FFmpeg's libraries (what a Subsonic
// app's stream?format=...&maxBitRate=... asks for): decode, resample (libswresample), encode
// (libmp3lame or libopus, as Debian's libavcodec has them) and mux (MP3, or Opus in Ogg), the
// bytes handed to a sink as they are made: a three-hour file is never held whole, and the first
// bytes leave before the last are decoded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace clap::audio {

enum class TranscodeFormat { Mp3, Opus };

struct TranscodeOptions {
  TranscodeFormat format = TranscodeFormat::Mp3;
  // Kilobits per second; 0 = the format's default (kDefaultKbps). Clamped to what the encoder
  // takes (MP3 32-320, Opus 6-256 per channel pair).
  int bit_rate_kbps = 0;
  double start_s = 0;  // seek here first (seconds into the file)
  // A constant bit rate (Opus's own is variable; MP3 from libmp3lame is constant anyway): for a
  // client told the length in advance from bit rate x duration.
  bool constant_bit_rate = false;
};

// The bit rate a transcode to `format` runs at for a requested `kbps` (0 = default).
int transcode_kbps(TranscodeFormat format, int kbps);
inline constexpr int kDefaultMp3Kbps = 192, kDefaultOpusKbps = 128;

// Receives the output as it is made; returns false to stop (the client went away).
using ByteSink = std::function<bool(const uint8_t* data, size_t n)>;

// A transcode of the audio of the open file `fd` (read with pread: the caller's checked
// descriptor, which must stay open until it is done; see ffmpeg_input.h; `name` only names it
// in errors). Made in two steps so that what can be refused is refused before a server has
// answered anything: the constructor opens the input, its decoder and the encoder, and throws
// clap::Error("<name>: <reason>") when the file cannot be read as audio or the encoder is
// missing; run() then writes the output to the sink as it is made: true when the whole output
// was written, false when the sink asked to stop. It throws on a failure part-way (the sink has
// had bytes by then). One run per Transcoder.
class Transcoder {
 public:
  Transcoder(int fd, const std::string& name, const TranscodeOptions& options);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;
  bool run(const ByteSink& sink);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Content-Type of a format's output: audio/mpeg, audio/ogg.
const char* transcode_content_type(TranscodeFormat format);
const char* transcode_suffix(TranscodeFormat format);  // mp3, opus

}  // namespace clap::audio
