// The span decoder (audio::decode_spans, decode.h): chosen spans of a file's samples, bit for bit
// a whole decode's, without decoding the rest.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "audio/ffmpeg_library.h"
#include "audio/decode_internal.h"
#include "audio/ffmpeg_input.h"
#include "audio/mono_resampler.h"
#include "audio/packet_decoder.h"

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
using detail::PacketDecoder;
using detail::PacketHolder;


namespace {

// Why the spans (and the length) of this file cannot be read from its packets exactly, or "".
std::string refusal(const OpenedAudio& o) {
  const int64_t rate = o.stream->codecpar->sample_rate;
  if (rate < kMinSourceRate) return "the header gives no usable sample rate";
  // A source at another rate is cut too: the resampled signal is defined block by block
  // (block_resampler.h), in a whole decode as in a span decode.
  // Opus and AAC decoders never forget (Opus's recursive filters; AAC's noise substitution draws
  // from a generator running since the decoder opened: measured, the span at 5 s of a 47 s file
  // differed in 454,425 of 480,000 samples whatever the pre-roll): their decoded signal is
  // defined block by block, each block from a newly opened decoder (packet_decoder.h), so a span
  // is cut from the blocks that cover it. Those not decoded so are refused.
  const AVCodecParameters* par = o.stream->codecpar;
  const std::string container = o.fmt.p->iformat->name;
  if (par->codec_id == AV_CODEC_ID_AAC || par->codec_id == AV_CODEC_ID_OPUS) {
    if (!detail::decode_blocks(par))
      return std::string("this ") + (par->codec_id == AV_CODEC_ID_AAC ? "AAC profile" : "stream") +
             " is decoded continuously (only AAC LC and Opus are decoded block by block): a decoder started "
             "mid-stream gives other samples";
    // The containers measured (decode_span_test).
    const bool measured = par->codec_id == AV_CODEC_ID_AAC ? container == "aac" || container.rfind("mov,", 0) == 0
                                                            : container == "ogg";
    if (!measured) return "cutting " + std::string(CLAP_MEDIA(avcodec_get_name)(par->codec_id)) + " spans from the " + container +
                          " container is not known to be exact";
    return "";
  }
  // The containers whose spans are measured to be a whole decode's (decode_span_test).
  if (container != "flac" && container != "wav" && container != "mp3" && container != "ogg")
    return "cutting spans from the " + container + " container is not known to be exact";
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
  // Ogg: the demuxer gives the last packet the duration its page's granule position leaves (the
  // samples the decoder keeps) and also the samples to drop from its end as skip side data, which
  // the decoder drops from the packet's whole frame: counting both took them off twice (Vorbis
  // files at 44.1 and 22.05 kHz came out 56 and 100 samples short of a decode's, an Opus file 168;
  // decode_span_test, decode_blocks_test).
  const bool durations_trimmed = std::string(o.fmt.p->iformat->name) == "ogg";
  // Vorbis: the first audio packet only primes the decoder's overlap and gives no samples (the
  // Vorbis I spec, 4.3.8), whatever duration its page gives it (128 at 44.1 kHz, 256 at 22.05).
  bool first_gives_none = o.stream->codecpar->codec_id == AV_CODEC_ID_VORBIS;
  const AVRational sample_tb{1, o.stream->codecpar->sample_rate};
  PacketHolder pkt;
  if (!pkt.p) fail(path, "out of memory");
  int64_t total = 0, packets_end = AV_NOPTS_VALUE, skip_start = 0;
  for (;;) {
    const int r = CLAP_MEDIA(av_read_frame)(o.fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (o.fmt.p->pb && CLAP_MEDIA(avio_feof)(o.fmt.p->pb)) break;
      return refuse("a read error (" + av_error(r) + ")");
    }
    const AVPacket& p = *pkt.p;
    std::string bad;
    if (p.stream_index != o.idx) {
    } else if (p.pts == AV_NOPTS_VALUE || p.duration <= 0) {
      bad = "packets without timestamps or durations";
    } else if (packets_end != AV_NOPTS_VALUE && p.pts != packets_end) {
      bad = "packet timestamps are not contiguous";
    } else if (CLAP_MEDIA(av_packet_get_side_data)(&p, AV_PKT_DATA_NEW_EXTRADATA, nullptr) ||
               CLAP_MEDIA(av_packet_get_side_data)(&p, AV_PKT_DATA_PARAM_CHANGE, nullptr)) {
      bad = "the stream changes its parameters";
    } else {
      // Durations in samples, from the timestamps (exact where each packet's are).
      const int64_t from = CLAP_MEDIA(av_rescale_q_rnd)(p.pts, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF);
      packets_end = p.pts + p.duration;
      int64_t n = CLAP_MEDIA(av_rescale_q_rnd)(packets_end, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF) - from;
      size_t size = 0;
      // The decoder drops what the skip side data names (libavcodec's decode.c): samples from
      // this packet's start on (carried into the next packets when more), and at its end.
      int64_t discard_end = 0;
      if (const uint8_t* skip = CLAP_MEDIA(av_packet_get_side_data)(&p, AV_PKT_DATA_SKIP_SAMPLES, &size); skip && size >= 10) {
        const auto le32 = [](const uint8_t* b) { return int64_t(b[0]) | int64_t(b[1]) << 8 | int64_t(b[2]) << 16 | int64_t(b[3]) << 24; };
        skip_start = le32(skip);
        discard_end = durations_trimmed ? 0 : le32(skip + 4);
      }
      const int64_t skipped = std::min(n, skip_start);
      skip_start -= skipped;
      n -= skipped;
      if (first_gives_none) n = 0;
      first_gives_none = false;
      total += n - std::min(n, discard_end);
    }
    CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
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
  // Codecs decoded block by block pre-roll within the decoder (packet_decoder.h): a span starts
  // its decoding at the block that holds it.
  const bool blockwise = detail::decode_blocks(o.stream->codecpar).has_value();
  const int64_t decoder_preroll = blockwise ? 0
                                            : std::max<int64_t>(options.decoder_preroll, 0) +
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
  const auto to_samples = [&](int64_t ts) { return CLAP_MEDIA(av_rescale_q_rnd)(ts, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF); };

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
  if (!pkt.p) fail(path, "out of memory");

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
  // A decoded frame (its samples from `skip` on): checked, and its samples from the span's start on downmixed.
  const auto on_frame = [&](AVFrame* f, int skip) {
    if (f->nb_samples <= skip) return;
    if (f->pts == AV_NOPTS_VALUE) return stop("a decoded frame has no timestamp");
    if (first_format < 0) {
      first_format = f->format;
      first_rate = f->sample_rate;
      if (CLAP_MEDIA(av_channel_layout_copy)(&first_layout.l, &f->ch_layout) < 0) fail(path, "out of memory");
    } else if (f->format != first_format || f->sample_rate != first_rate ||
               CLAP_MEDIA(av_channel_layout_compare)(&f->ch_layout, &first_layout.l) != 0) {
      return stop("the stream changes format");
    }
    if (first_rate != rate) return stop("the decoder's rate differs from the header's");
    if (base == AV_NOPTS_VALUE) base = to_samples(f->pts) + skip;
    const int64_t at = to_samples(f->pts) + skip - base;  // the first sample given
    if (expect != AV_NOPTS_VALUE && at != expect) return stop("decoded frames are not contiguous");
    if (first_frames < 2) ++first_frames;
    expect = at + (f->nb_samples - skip);
    if (next >= spans.size()) return;
    const int64_t start = input_from(next);
    if (!resampler) {
      if (expect <= start) return;
      if (at > start) return stop("decoding began after the span's start");
      resampler.emplace(path, target_rate, collect, first_block(next));
      out_pos = resampled ? first_block(next) * target_rate : start;
      resampler->feed(f, skip + int(start - at));
    } else {
      resampler->feed(f, skip);
    }
  };
  PacketDecoder decoder(path, o, on_frame, [&](int code) { stop("a packet failed to decode (" + av_error(code) + ")"); });
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
      decoder.pause();
    } else if (!resampler && first_frames >= 2 && expect != AV_NOPTS_VALUE && decode_from[next] > expect) {
      decoding = false;  // the start of the stream is known: skip to the first span's pre-roll
      decoder.pause();
    }
  };

  bool ended = false, beyond = false;  // every span whole; a packet read after that
  bool first_packet = true;
  for (;;) {
    const int r = CLAP_MEDIA(av_read_frame)(o.fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (o.fmt.p->pb && CLAP_MEDIA(avio_feof)(o.fmt.p->pb)) break;
      stop("a read error (" + av_error(r) + ")");
      break;
    }
    if (pkt.p->stream_index != o.idx) {
      CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
      continue;
    }
    if (ended) {
      beyond = true;
      CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
      break;
    }
    if (pkt.p->pts == AV_NOPTS_VALUE || pkt.p->duration <= 0) stop("packets without timestamps or durations");
    else if (packets_end != AV_NOPTS_VALUE && pkt.p->pts != packets_end) stop("packet timestamps are not contiguous");
    else if (CLAP_MEDIA(av_packet_get_side_data)(pkt.p, AV_PKT_DATA_NEW_EXTRADATA, nullptr) ||
             CLAP_MEDIA(av_packet_get_side_data)(pkt.p, AV_PKT_DATA_PARAM_CHANGE, nullptr))
      stop("the stream changes its parameters");
    if (broken) break;
    packets_end = pkt.p->pts + pkt.p->duration;
    if (!decoding && base != AV_NOPTS_VALUE && to_samples(packets_end) - base > decode_from[next]) {
      // The pre-roll of the next span begins in this packet: the decoder starts afresh, as after
      // a seek (blockwise: at the block holding it, pre-rolled over the packets before).
      expect = AV_NOPTS_VALUE;
      decoding = true;
      decoder.start(decode_from[next] + base);
    }
    if (first_packet) {
      decoder.start(std::nullopt);  // from the stream's start, until its first frames fix `base`
      first_packet = false;
    }
    decoder.push(pkt.p);
    if (!broken && (decoding || first_frames < 2)) advance();
    CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
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
