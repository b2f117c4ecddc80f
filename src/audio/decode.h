// Audio decoding through FFmpeg (libavformat/libavcodec) and libsoxr: any container and codec
// FFmpeg reads, any sample rate and channel count, decoded to mono float at a target rate. Also
// tag reading and a loudness helper.
//
// Downmix: mono is the plain average of all channels, (c0 + c1 + ... + cN-1) / N, with equal
// weight for every channel (LFE included) - not FFmpeg's default downmix (-3 dB centre and
// surround, normalised). Our own loop (mono_resampler.h), with libswresample's arithmetic, which
// made it before: a source at the target rate gives the same samples as then, bit for bit.
//
// Resampling: libsoxr at its "high quality" recipe (20-bit precision, the precision of librosa's
// default soxr_hq, with which the reference's users load audio), as libswresample's soxr engine
// set it up before. It runs block by block (block_resampler.h): output second k is resampled
// afresh from its own input plus a 23 ms margin either side (at 44.1 kHz), so every output sample
// is a function of a bounded stretch of input computed the same way in a whole decode and in a
// span decode (decode_spans), which can then cut resampled sources bit for bit. Blocks match one
// continuous soxr run to float rounding (under 1e-6, measured at 8-192 kHz), and the samples
// libswresample gave before to 7.5e-8. AudioInfo::resampler says "soxr".
// 28 bits ("very high quality") cost a tenth more of the decoder's CPU (44.1 -> 48 kHz) and
// moved no embedding by more than 1e-7.
// When the source rate equals the target rate no resampling takes place (samples pass through,
// only averaged). The output length is exactly round(source_samples * target_rate / source_rate).
//
// FFmpeg's log output is switched off for the whole process on first use (av_log callback that
// prints nothing); its error messages are instead quoted in the clap::Error reasons.
//
// All functions are reentrant: every call owns its FFmpeg contexts, and decoders run
// single-threaded, so several files can be decoded in parallel threads and the output for a
// given file and rate is bit-identical from run to run.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clap::audio {

struct AudioInfo {
  // Duration of the decoded audio: source samples actually decoded / source_rate. (The
  // container's own estimate, which may be missing or approximate, is container_duration_s.)
  double duration_s = 0;
  int source_rate = 0;       // sample rate of the audio stream (first decoded frame)
  int source_channels = 0;   // channel count of the audio stream (first decoded frame)
  std::string codec;         // FFmpeg codec name: "mp3", "flac", "aac", "pcm_s16le", ...
  std::string container;     // FFmpeg demuxer name: "wav", "flac", "mov,mp4,m4a,3gp,3g2,mj2", ...

  double container_duration_s = 0;  // container's duration (0 if unknown)
  int64_t source_samples = 0;        // per-channel samples decoded
  int64_t output_samples = 0;        // mono samples delivered at the target rate
  int corrupt_packets = 0;           // packets / frames skipped because they failed to decode
  std::string resampler;             // "soxr", or "none" (source rate == target rate)
};

// A tag is a name, not a document: read_tags keeps at most this many bytes of each (cut at the
// start of a character). A crafted file's 20 MB title went whole into the index, into every
// answer naming the track and into the server's memory (hostile pass 7, H7C-1).
inline constexpr size_t kMaxTagBytes = 4096;

// At most the first max_bytes bytes of the C string `text`, never ending inside a UTF-8
// character; only those bytes are read (a tag's value may be megabytes long).
std::string text_prefix(const char* text, size_t max_bytes);

struct Tags {
  std::string title, artist, album, genre, date;
  std::string album_artist;  // album_artist / albumartist / "album artist"
  // MusicBrainz recording id (Vorbis MUSICBRAINZ_TRACKID, ID3 TXXX "MusicBrainz Track Id", MP4
  // "MusicBrainz Track Id") and ISRC (Vorbis ISRC, ID3 TSRC), as the tags hold them.
  std::string mbid, isrc;
  int track = 0;          // leading number of the track tag ("3/12" -> 3), 0 if absent
  double duration_s = 0;  // container duration, 0 if unknown
};

using SampleSink = std::function<void(const float* samples, size_t n)>;

// Streams the file decoded to mono float at target_rate, in chunks passed to sink (bounded
// memory: a 3-hour file is never held whole; each chunk is the output of one decoded frame, or a
// tenth of a second of a resampled block, at most kMaxChunkSamples). Corrupt packets are skipped and counted. Throws
// clap::Error("<path>: <reason>") for missing/unreadable files, directories, empty files,
// files with no audio stream, no decoder, no audio samples, samples that are not numbers (NaN,
// infinity) or a sample rate below 1000 Hz (a damaged header), and for streams where more
// packets failed than frames decoded (garbage, or damaged beyond use). That last check is made
// at the end, so sink may already have received samples when it throws: discard them.
// Exceptions thrown by sink propagate (decoding stops).
//
// origin: LocalFile, a file the user named: FFmpeg opens it by name with any demuxer (only the
// "file" protocol). Untrusted, bytes a client sent (the server's uploads): the file is read
// through a custom I/O context (FFmpeg is given no name to open), only audio demuxers are
// allowed (no hls, dash, concat, image2, subfile, ...: nothing that names other files) and any
// nested open a demuxer attempts is refused.
enum class Origin { LocalFile, Untrusted };
AudioInfo decode_stream(const std::string& path, int target_rate, const SampleSink& sink, Origin origin = Origin::LocalFile);

inline constexpr size_t kMaxChunkSamples = 1 << 16;

// Spans of what decode_stream(path, target_rate) delivers, without decoding the rest of the
// file: the packets before each span are read (demuxed: their timestamps, not decoded) and
// skipped, the decoder is flushed (as after a seek) and starts `decoder_preroll` samples (plus
// the codec's own seek_preroll) before the span, and that pre-roll's output is discarded.
// Reading the packets rather than seeking keeps the sample positions exact where a seek is not
// (an MP3 without a TOC, VBR or not). What remains is, bit for bit, the samples a whole decode
// gives for the span - measured on FLAC, WAV, MP3 (CBR, VBR, VBR without a Xing/LAME header) and
// Ogg Vorbis, at 48 kHz and at rates resampled to it (22.05, 32, 44.1, 96 kHz and an odd
// 44101 Hz; tests/audio/decode_span_test.cpp). Opus and AAC LC, whose decoders never forget
// (recursive filters; noise substitution's random generator), are decoded block by block in
// every decode (4 s blocks, each by a newly opened decoder from 0.4 s before it:
// packet_decoder.h): a span is decoded from the start of the block holding it, and is exact by
// construction (Ogg Opus; AAC in MP4 and ADTS, noise substitution on or off, at 48 and 44.1 kHz;
// tests/audio/decode_blocks_test.cpp). A resampled source is decoded from the pre-roll before the
// input of the first resampling block (1 s of output) that a span touches, and needs the input of
// its last block's right margin before the stream ends.
// When that cannot hold or be known the answer is nullopt with the reason in `why`, and the
// caller decodes the file whole:
// - AAC profiles other than LC (HE-AAC's SBR and PS, LTP, Main: decoded continuously, and not
//   measured), Opus or AAC in containers other than Ogg (Opus) and MP4 or ADTS (AAC), and
//   containers other than FLAC, WAV, MP3, Ogg;
// - a span reaching the end of the stream (encoder padding and end trims: an MP4's last AAC
//   frame differed in 512 samples, an Ogg Vorbis last page's timestamps jump to its end trim),
//   or, resampled, a span whose last block's input and margin reach it;
// - packets without timestamps or durations, or whose timestamps are not contiguous, a stream
//   that changes format or parameters, a packet that fails to decode.
// Not known from the packets: a damaged packet before a span shifts a whole decode's later samples
// off the spans; the indexer compares span and whole-decode levels (pipeline_decode.cpp send_spans).
// Spans: output samples [start, end), sorted by start, non-empty. Throws clap::Error like
// decode_stream for files that cannot be opened.
struct SampleSpan {
  int64_t start = 0, end = 0;
};
struct SpanOptions {
  // Source samples decoded and discarded before a span (1.4 s at 48 kHz). Measured (decode_span_test):
  // MP3 exact from 4096 and not at 0 (its bit reservoir and overlap); Vorbis from 4096; FLAC and
  // WAV at 0. A margin: a codec here forgets all but the last frames. Not used for Opus and AAC
  // LC: their blocks carry their own pre-roll (packet_decoder.h).
  int64_t decoder_preroll = 65536;
};
std::optional<std::vector<std::vector<float>>> decode_spans(const std::string& path, int target_rate,
                                                            const std::vector<SampleSpan>& spans, std::string* why = nullptr,
                                                            const SpanOptions& options = {},
                                                            Origin origin = Origin::LocalFile);

// How long a file is, read from the packets (demuxed, nothing decoded: the file is read, not
// decoded): the sum of their durations less what their side data trims (an MP3's encoder delay
// and padding from its LAME header), and what that resamples to (block_resampler.h's count).
// Known for the files decode_spans cuts (FLAC, WAV, MP3, Ogg Vorbis and Opus, AAC LC in MP4 or
// ADTS, at any rate) whose packets have timestamps and durations that follow each other; else nullopt with the
// reason in `why` (the caller decodes the file whole to learn it). Exact for every format of
// tests/audio/decode_span_test.cpp. Like decode_spans, a packet that would fail to decode (a
// damaged file) is not seen; a later whole decode of the file finds it.
struct StreamLength {
  int64_t source_rate = 0;     // the stream's own rate
  int64_t source_samples = 0;  // what a decode gives at that rate
  int64_t samples = 0;         // what decode_stream(path, target_rate) delivers
};
std::optional<StreamLength> stream_length(const std::string& path, int target_rate, std::string* why = nullptr,
                                          Origin origin = Origin::LocalFile);

// Decodes made by this process so far (a test counts a progressive index's decodes of a file).
struct DecodeCounts {
  int64_t whole = 0;  // decode_stream: from the start (possibly stopped early by its sink)
  int64_t spans = 0;  // decode_spans
};
DecodeCounts decode_counts();
// The same for one path (as named to decode_stream and decode_spans), counted only after
// count_decodes_by_path(true) (a test's switch: its table grows with every file decoded).
void count_decodes_by_path(bool on);
DecodeCounts decode_counts(const std::string& path);

// Convenience: whole file in memory.
std::vector<float> decode_file(const std::string& path, int target_rate = 48000, AudioInfo* info = nullptr);

// Metadata via libavformat: format-level tags, then the best audio stream's tags (Ogg/Opus
// keep Vorbis comments there). Keys are case-insensitive; common aliases are accepted
// (artist: album_artist/performer; date: year/creation date; track: tracknumber; mbid:
// musicbrainz_trackid / "MusicBrainz Track Id" / musicbrainz_recordingid; isrc: isrc/tsrc).
// Throws clap::Error("<path>: <reason>") if the file cannot be opened.
Tags read_tags(const std::string& path);

// What a file's audio stream is, read from its header (nothing decoded): what a person
// compares to choose the best of several copies of a recording.
struct StreamFormat {
  std::string codec;      // FFmpeg codec name: "flac", "mp3", "aac", "opus", "pcm_s16le", ...
  std::string container;  // FFmpeg demuxer name
  bool lossless = false;  // the codec is lossless (FLAC, ALAC, WavPack, PCM, ...)
  int64_t bit_rate = 0;   // bits per second (stream's, else the container's; 0 if unknown)
  int sample_rate = 0;
  int channels = 0;
  int bits_per_sample = 0;  // lossless codecs: bits per raw sample (0 if unknown)
};

// Throws clap::Error("<path>: <reason>") if the file cannot be opened or holds no audio stream.
StreamFormat read_format(const std::string& path);

// RMS level of a span in dBFS (full scale = 1.0, so a full-scale square wave is 0 dB and a
// full-scale sine is about -3.01 dB). Silence or an empty span gives -200 (never -inf).
double rms_dbfs(const float* samples, size_t n);

}  // namespace clap::audio
