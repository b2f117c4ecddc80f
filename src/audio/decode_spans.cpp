// The span decoder (audio::decode_spans, decode.h): chosen spans of a file's samples, bit for bit
// a whole decode's, without decoding the rest.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "audio/decode_internal.h"
#include "audio/ffmpeg_input.h"
#include "audio/mono_resampler.h"

namespace clap::audio {

using detail::av_error;
using detail::cut_at_end;
using detail::fail;
using detail::FrameHolder;
using detail::kMinSourceRate;
using detail::LayoutHolder;
using detail::MonoResampler;
using detail::open_audio;
using detail::OpenedAudio;
using detail::PacketHolder;


namespace {

// Why the spans (and the length) of this file cannot be read from its packets exactly, or "".
std::string refusal(const OpenedAudio& o) {
  const int64_t rate = o.stream->codecpar->sample_rate;
  if (rate < kMinSourceRate) return "the header gives no usable sample rate";
  // A source at another rate is cut too: the resampled signal is defined block by block
  // (block_resampler.h), in a whole decode as in a span decode.
  // AAC (in MP4 or raw ADTS): its perceptual noise substitution fills noise bands from a random
  // generator that runs on through the whole stream, so a decoder started mid-stream draws other
  // noise wherever the encoder substituted some after that start; only the stream's bits before
  // the span (not its packets' timestamps) tell whether it did. Measured (47 s at 48 kHz, FFmpeg's
  // encoder at 160 kb/s): with substitution (its default) the span at 5 s differed in 454,425 of
  // 480,000 samples in MP4 and 455,375 in ADTS whatever the pre-roll (0 to 65,536), those at 25
  // and 35 s in none; the same audio encoded with -aac_pns 0 gave every span exact in both
  // containers from a 2,048-sample pre-roll. At 128 kb/s in ADTS every span differed.
  if (o.stream->codecpar->codec_id == AV_CODEC_ID_AAC)
    return "AAC's noise substitution draws from a generator that runs through the whole stream: a decoder started "
           "mid-stream draws other noise";
  // The containers whose spans are measured to be a whole decode's (decode_span_test).
  const std::string container = o.fmt.p->iformat->name;
  if (container != "flac" && container != "wav" && container != "mp3" && container != "ogg")
    return "cutting spans from the " + container + " container is not known to be exact";
  // Opus decoders keep state without an end (de-emphasis and LPC synthesis filters, recursive):
  // started afresh they reach a whole decode's samples only to float rounding, and not always
  // exactly (measured: with 65536 samples of pre-roll, 1 window of 16 in four 10-minute files
  // differed by up to 3e-8). The other codecs here forget everything a few frames back.
  if (o.stream->codecpar->codec_id == AV_CODEC_ID_OPUS)
    return "Opus decoding started mid-stream reaches a whole decode's samples only to float rounding";
  return "";
}

}  // namespace

std::optional<StreamLength> stream_length(const std::string& path, int target_rate, std::string* why, Origin origin) {
  const auto refuse = [&](std::string reason) -> std::optional<StreamLength> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (target_rate <= 0 || target_rate > 1'000'000) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  OpenedAudio o;
  open_audio(path, origin, o);
  if (std::string r = refusal(o); !r.empty()) return refuse(std::move(r));
  // Vorbis: the packets' durations (less the first packet's, which the decoder turns into no
  // samples) gave a 47 s 48 kHz file's length exactly, but 18 s files at 44.1 and 22.05 kHz
  // came out 56 and 100 samples short of a whole decode's (the last page's trim, not understood
  // yet; decode_span_test). A wrong length would lay out other windows than the one-shot index's,
  // so a Vorbis file's length is learnt by decoding it (its spans, once the length is known, are
  // exact).
  if (o.stream->codecpar->codec_id == AV_CODEC_ID_VORBIS)
    return refuse("a Vorbis stream's length from its packets was measured off a whole decode's by up to 100 samples");
  const AVRational sample_tb{1, o.stream->codecpar->sample_rate};
  PacketHolder pkt;
  if (!pkt.p) fail(path, "out of memory");
  int64_t total = 0, packets_end = AV_NOPTS_VALUE, skip_start = 0;
  for (;;) {
    const int r = av_read_frame(o.fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (o.fmt.p->pb && avio_feof(o.fmt.p->pb)) break;
      return refuse("a read error (" + av_error(r) + ")");
    }
    const AVPacket& p = *pkt.p;
    std::string bad;
    if (p.stream_index != o.idx) {
    } else if (p.pts == AV_NOPTS_VALUE || p.duration <= 0) {
      bad = "packets without timestamps or durations";
    } else if (packets_end != AV_NOPTS_VALUE && p.pts != packets_end) {
      bad = "packet timestamps are not contiguous";
    } else if (av_packet_get_side_data(&p, AV_PKT_DATA_NEW_EXTRADATA, nullptr) ||
               av_packet_get_side_data(&p, AV_PKT_DATA_PARAM_CHANGE, nullptr)) {
      bad = "the stream changes its parameters";
    } else {
      // Durations in samples, from the timestamps (exact where each packet's are).
      const int64_t from = av_rescale_q_rnd(p.pts, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF);
      packets_end = p.pts + p.duration;
      int64_t n = av_rescale_q_rnd(packets_end, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF) - from;
      size_t size = 0;
      // The decoder drops what the skip side data names (libavcodec's decode.c): samples from
      // this packet's start on (carried into the next packets when more), and at its end.
      int64_t discard_end = 0;
      if (const uint8_t* skip = av_packet_get_side_data(&p, AV_PKT_DATA_SKIP_SAMPLES, &size); skip && size >= 10) {
        const auto le32 = [](const uint8_t* b) { return int64_t(b[0]) | int64_t(b[1]) << 8 | int64_t(b[2]) << 16 | int64_t(b[3]) << 24; };
        skip_start = le32(skip);
        discard_end = le32(skip + 4);
      }
      const int64_t skipped = std::min(n, skip_start);
      skip_start -= skipped;
      n -= skipped;
      total += n - std::min(n, discard_end);
    }
    av_packet_unref(pkt.p);
    if (!bad.empty()) return refuse(bad);
  }
  if (total <= 0) return refuse("no samples in the packets");
  const int64_t rate = o.stream->codecpar->sample_rate;
  return StreamLength{rate, total, rate == target_rate ? total : detail::resampled_length(total, rate, target_rate)};
}

std::optional<std::vector<std::vector<float>>> decode_spans(const std::string& path, int target_rate,
                                                            const std::vector<SampleSpan>& spans, std::string* why,
                                                            const SpanOptions& options, Origin origin) {
  const auto refuse = [&](std::string reason) -> std::optional<std::vector<std::vector<float>>> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (target_rate <= 0 || target_rate > 1'000'000) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  if (spans.empty()) return std::vector<std::vector<float>>{};
  for (size_t k = 0; k < spans.size(); ++k)
    if (spans[k].start < 0 || spans[k].end <= spans[k].start || (k > 0 && spans[k].start < spans[k - 1].start))
      fail(path, "decode_spans: spans must be non-empty and sorted");
  detail::count_span_decode(path);
  OpenedAudio o;
  open_audio(path, origin, o);
  const int64_t rate = o.stream->codecpar->sample_rate;
  if (std::string r = refusal(o); !r.empty()) return refuse(std::move(r));
  const int64_t decoder_preroll = std::max<int64_t>(options.decoder_preroll, 0) +
                                  std::max<int64_t>(o.stream->codecpar->seek_preroll, 0);
  // A source at another rate is resampled block by block (block_resampler.h), in a whole decode
  // too: a span's samples come from the blocks that cover it, each from its input and margins.
  // `input_from`: the first source sample the span needs, the start of its first block's input
  // (the span's start itself at the target rate).
  const bool resampled = rate != target_rate;
  const int64_t margin = resampled ? detail::BlockResampler::margin_for(rate, target_rate) : 0;
  const auto first_block = [&](size_t k) -> int64_t { return resampled ? spans[k].start / target_rate : 0; };
  const auto input_from = [&](size_t k) -> int64_t {
    return resampled ? std::max<int64_t>(0, first_block(k) * rate - margin) : spans[k].start;
  };
  std::vector<int64_t> decode_from(spans.size());
  for (size_t k = 0; k < spans.size(); ++k) decode_from[k] = std::max<int64_t>(0, input_from(k) - decoder_preroll);
  const AVRational sample_tb{1, int(rate)};
  const auto to_samples = [&](int64_t ts) { return av_rescale_q_rnd(ts, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF); };

  std::vector<std::vector<float>> out(spans.size());
  size_t next = 0;           // the first span not yet whole
  int64_t out_pos = 0;       // output sample the resampler delivers next
  const SampleSink collect = [&](const float* x, size_t n) {
    const int64_t from = out_pos, to = out_pos + int64_t(n);
    for (size_t k = next; k < spans.size() && spans[k].start < to; ++k) {
      const int64_t a = std::max(from, spans[k].start), b = std::min(to, spans[k].end);
      if (a < b) out[k].insert(out[k].end(), x + (a - from), x + (b - from));
    }
    out_pos = to;
  };
  std::optional<MonoResampler> resampler;
  PacketHolder pkt;
  FrameHolder frame;
  if (!pkt.p || !frame.p) fail(path, "out of memory");

  int64_t base = AV_NOPTS_VALUE;      // the stream's first decoded sample, in source samples of its timestamps
  int64_t first_frames = 0;           // frames decoded from the start (the first two fix `base`)
  int64_t expect = AV_NOPTS_VALUE;    // where the next decoded frame must begin (contiguous output)
  int64_t packets_end = AV_NOPTS_VALUE;  // where the next packet must begin (contiguous timestamps)
  int first_format = -1, first_rate = 0;
  LayoutHolder first_layout;
  bool decoding = true;  // the decoder runs (from the start, or since the pre-roll of span `next`)
  bool broken = false;
  std::string reason;
  const auto stop = [&](std::string r) {
    if (!broken) reason = std::move(r);
    broken = true;
  };
  // A decoded frame: checked, and its samples from the span's start on downmixed.
  const auto on_frame = [&](AVFrame* f) {
    if (!cut_at_end(o, f) || f->nb_samples <= 0) return;
    if (f->pts == AV_NOPTS_VALUE) return stop("a decoded frame has no timestamp");
    if (first_format < 0) {
      first_format = f->format;
      first_rate = f->sample_rate;
      if (av_channel_layout_copy(&first_layout.l, &f->ch_layout) < 0) fail(path, "out of memory");
    } else if (f->format != first_format || f->sample_rate != first_rate ||
               av_channel_layout_compare(&f->ch_layout, &first_layout.l) != 0) {
      return stop("the stream changes format");
    }
    if (first_rate != rate) return stop("the decoder's rate differs from the header's");
    if (base == AV_NOPTS_VALUE) base = to_samples(f->pts);
    const int64_t at = to_samples(f->pts) - base;
    if (expect != AV_NOPTS_VALUE && at != expect) return stop("decoded frames are not contiguous");
    if (first_frames < 2) ++first_frames;
    expect = at + f->nb_samples;
    if (next >= spans.size()) return;
    const int64_t start = input_from(next);
    if (!resampler) {
      if (at + f->nb_samples <= start) return;
      if (at > start) return stop("decoding began after the span's start");
      resampler.emplace(path, target_rate, collect, first_block(next));
      out_pos = resampled ? first_block(next) * target_rate : start;
      resampler->feed(f, int(start - at));
    } else {
      resampler->feed(f);
    }
  };
  const auto receive = [&] {
    for (;;) {
      const int rr = avcodec_receive_frame(o.dec.p, frame.p);
      if (rr == AVERROR(EAGAIN) || rr == AVERROR_EOF) return;
      if (rr < 0) return stop("a frame failed to decode (" + av_error(rr) + ")");
      on_frame(frame.p);
      av_frame_unref(frame.p);
      if (broken) return;
    }
  };
  const auto send = [&](const AVPacket* p) {
    for (;;) {
      const int rr = avcodec_send_packet(o.dec.p, p);
      if (rr == AVERROR(EAGAIN)) {
        receive();
        if (broken) return;
        continue;
      }
      if (rr < 0 && rr != AVERROR_EOF) return stop("a packet failed to decode (" + av_error(rr) + ")");
      return receive();
    }
  };
  // Spans made whole by the samples delivered: the next span's pre-roll decides whether the
  // decoder runs on (it starts at or before what is decoded) or stops until that pre-roll.
  const auto advance = [&] {
    bool moved = false;
    while (next < spans.size() && out_pos >= spans[next].end) {
      ++next;
      moved = true;
    }
    if (next >= spans.size() || !decoding) return;
    if (moved) {
      // Running on when the next span's pre-roll begins within what is decoded: the samples go
      // on being a whole decode's. Else the decoder stops until that pre-roll.
      if (expect != AV_NOPTS_VALUE && decode_from[next] <= expect) return;
      resampler.reset();
      decoding = false;
    } else if (!resampler && first_frames >= 2 && expect != AV_NOPTS_VALUE && decode_from[next] > expect) {
      decoding = false;  // the start of the stream is known: skip to the first span's pre-roll
    }
  };

  bool ended = false, beyond = false;  // every span whole; a packet read after that
  for (;;) {
    const int r = av_read_frame(o.fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (o.fmt.p->pb && avio_feof(o.fmt.p->pb)) break;
      stop("a read error (" + av_error(r) + ")");
      break;
    }
    if (pkt.p->stream_index != o.idx) {
      av_packet_unref(pkt.p);
      continue;
    }
    if (ended) {
      beyond = true;
      av_packet_unref(pkt.p);
      break;
    }
    if (pkt.p->pts == AV_NOPTS_VALUE || pkt.p->duration <= 0) stop("packets without timestamps or durations");
    else if (packets_end != AV_NOPTS_VALUE && pkt.p->pts != packets_end) stop("packet timestamps are not contiguous");
    else if (av_packet_get_side_data(pkt.p, AV_PKT_DATA_NEW_EXTRADATA, nullptr) ||
             av_packet_get_side_data(pkt.p, AV_PKT_DATA_PARAM_CHANGE, nullptr))
      stop("the stream changes its parameters");
    if (broken) break;
    packets_end = pkt.p->pts + pkt.p->duration;
    if (!decoding && base != AV_NOPTS_VALUE && to_samples(packets_end) - base > decode_from[next]) {
      // The pre-roll of the next span begins in this packet: the decoder starts afresh, as after a seek.
      avcodec_flush_buffers(o.dec.p);
      expect = AV_NOPTS_VALUE;
      decoding = true;
    }
    if (decoding || first_frames < 2) {
      send(pkt.p);
      if (!broken) advance();
    }
    av_packet_unref(pkt.p);
    if (broken) break;
    // One packet more after the last span is whole: then no span reached the end of the stream,
    // where encoders' padding and containers' end trims apply (an MP4's last AAC frame differed
    // in 512 samples, an Ogg Vorbis last page's timestamps jump to its end trim: measured).
    if (next >= spans.size()) ended = true;
  }
  if (broken) return refuse(reason);
  if (next >= spans.size() && !beyond) return refuse("the last span reaches the end of the stream");
  if (next < spans.size()) return refuse("the span at output sample " + std::to_string(spans[next].start) + " reaches the end of the stream");
  for (size_t k = 0; k < spans.size(); ++k)
    if (int64_t(out[k].size()) != spans[k].end - spans[k].start) return refuse("a span came out short");
  return out;
}

}  // namespace clap::audio
