#include "audio/packet_hash.h"
#include "audio/ffmpeg_library.h"

#include <cstdint>

#include "audio/decode_internal.h"
#include "core/sha256.h"

namespace clap::audio {

using namespace detail;

std::string packet_hash(const std::string& path) {
  FormatHolder fmt;
  open_input(path, fmt, true);
  const AVCodec* codec = nullptr;
  const int idx = best_audio_stream(path, fmt.p, &codec);
  for (unsigned i = 0; i < fmt.p->nb_streams; ++i)
    if (int(i) != idx) fmt.p->streams[i]->discard = AVDISCARD_ALL;
  const AVCodecParameters* par = fmt.p->streams[idx]->codecpar;
  Sha256 h;
  // The stream's description first: the same bytes under another codec are another recording.
  // Extradata is left out: Ogg Vorbis carries its comment header (the tags) there.
  const int64_t head[3] = {int64_t(par->codec_id), int64_t(par->sample_rate), int64_t(par->ch_layout.nb_channels)};
  h.update(head, sizeof(head));
  PacketHolder pkt;
  int64_t packets = 0;
  for (;;) {
    const int r = CLAP_MEDIA(av_read_frame)(fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) fail(path, "cannot read audio packets: " + av_error(r));
    if (pkt.p->stream_index == idx && pkt.p->size > 0) {
      // Each packet's size before its bytes: packets cut at other places are another stream.
      const int64_t size = pkt.p->size;
      h.update(&size, sizeof(size));
      h.update(pkt.p->data, static_cast<size_t>(pkt.p->size));
      ++packets;
    }
    CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
  }
  return packets ? h.hex_digest() : std::string();
}

}  // namespace clap::audio
