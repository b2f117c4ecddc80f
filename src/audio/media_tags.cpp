#include "audio/media_tags.h"
#include "audio/ffmpeg_library.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>

#include "audio/ffmpeg_input.h"
#include "core/error.h"

namespace clap::audio {

std::string embedded_picture(int fd, const std::string& name) {
  // The attached pictures are read with the header: no stream info (no decoding) needed.
  detail::FdInput input(fd, name, false);
  AVFormatContext* fmt = input.get();
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) continue;
    const AVPacket& pic = st->attached_pic;
    if (pic.size <= 0 || static_cast<size_t>(pic.size) > kMaxPictureBytes) continue;
    return std::string(reinterpret_cast<const char*>(pic.data), static_cast<size_t>(pic.size));
  }
  return "";
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void collect_lyrics(const AVDictionary* tags, std::vector<LyricsTag>& out) {
  const AVDictionaryEntry* e = nullptr;
  while (out.size() < kMaxLyricsTags && (e = CLAP_MEDIA(av_dict_get)(tags, "", e, AV_DICT_IGNORE_SUFFIX))) {
    const std::string key = lower(e->key);
    LyricsTag tag;
    if (key == "lyrics" || key == "unsyncedlyrics" || key == "unsynced lyrics" || key == "unsynced_lyrics") {
      tag.text = e->value;
    } else if (key.rfind("lyrics-", 0) == 0) {
      // ID3 USLT: "lyrics-LANG", or "lyrics-DESCRIPTION-LANG" when it has a description.
      tag.text = e->value;
      const size_t dash = key.find_last_of('-');
      const std::string lang = key.substr(dash + 1);
      if (lang.size() == 3 && std::all_of(lang.begin(), lang.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
        tag.lang = lang;
    } else {
      continue;
    }
    if (tag.text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    bool seen = false;  // the same text in the container's and the stream's tags: once
    for (const LyricsTag& t : out) seen = seen || t.text == tag.text;
    if (!seen) out.push_back(std::move(tag));
  }
}

}  // namespace

std::vector<LyricsTag> read_lyrics(int fd, const std::string& name) {
  detail::FdInput input(fd, name, false);
  AVFormatContext* fmt = input.get();
  std::vector<LyricsTag> out;
  collect_lyrics(fmt->metadata, out);
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) collect_lyrics(fmt->streams[i]->metadata, out);
  return out;
}

std::string image_content_type(std::string_view b) {
  const auto starts = [&](std::string_view magic) { return b.size() >= magic.size() && b.substr(0, magic.size()) == magic; };
  if (starts("\xFF\xD8\xFF")) return "image/jpeg";
  if (starts("\x89PNG\r\n\x1A\n")) return "image/png";
  if (starts("GIF87a") || starts("GIF89a")) return "image/gif";
  if (b.size() >= 12 && starts("RIFF") && b.substr(8, 4) == "WEBP") return "image/webp";
  if (starts("BM")) return "image/bmp";
  return "";
}

namespace {

struct SwsFree {
  void operator()(SwsContext* s) const { CLAP_MEDIA_RELEASE(sws_freeContext)(s); }
};
using detail::Codec;
using detail::Frame;
using detail::Packet;

AVCodecID codec_of(const std::string& type) {
  if (type == "image/jpeg") return AV_CODEC_ID_MJPEG;
  if (type == "image/png") return AV_CODEC_ID_PNG;
  if (type == "image/gif") return AV_CODEC_ID_GIF;
  if (type == "image/webp") return AV_CODEC_ID_WEBP;
  if (type == "image/bmp") return AV_CODEC_ID_BMP;
  return AV_CODEC_ID_NONE;
}

Packet packet_of(std::string_view bytes) {
  Packet pkt(CLAP_MEDIA(av_packet_alloc)());
  if (!pkt || CLAP_MEDIA(av_new_packet)(pkt.get(), static_cast<int>(bytes.size())) < 0) throw Error("image: out of memory");
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(pkt->data));
  pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

Frame decode_image(std::string_view bytes) {
  detail::init_ffmpeg();
  const std::string type = image_content_type(bytes);
  const AVCodec* codec = CLAP_MEDIA(avcodec_find_decoder)(codec_of(type));
  if (!codec) throw Error("image: not a picture in a format that can be decoded (JPEG, PNG, GIF, WebP, BMP)");
  if (bytes.size() > kMaxPictureBytes) throw Error("image: larger than " + std::to_string(kMaxPictureBytes >> 20) + " MB");
  Codec dec(CLAP_MEDIA(avcodec_alloc_context3)(codec));
  if (!dec) throw Error("image: out of memory");
  dec->thread_count = 1;
  // Refused by the decoder from the header, before a pixel is allocated: a 7000x7000 cover (a
  // few KB of compressed PNG) took 200 MB per request when the size was checked after decoding.
  dec->max_pixels = kMaxImagePixels;
  if (CLAP_MEDIA(avcodec_open2)(dec.get(), codec, nullptr) < 0) throw Error("image: cannot open the decoder");
  Packet pkt = packet_of(bytes);
  Frame frame(CLAP_MEDIA(av_frame_alloc)());
  if (!frame) throw Error("image: out of memory");
  if (CLAP_MEDIA(avcodec_send_packet)(dec.get(), pkt.get()) < 0) throw Error("image: cannot be decoded");
  CLAP_MEDIA(avcodec_send_packet)(dec.get(), nullptr);
  if (CLAP_MEDIA(avcodec_receive_frame)(dec.get(), frame.get()) < 0)
    throw Error("image: cannot be decoded (or larger than " + std::to_string(kMaxImagePixels / 1000000) + " megapixels)");
  if (frame->width <= 0 || frame->height <= 0 || int64_t{frame->width} * frame->height > kMaxImagePixels)
    throw Error("image: " + std::to_string(frame->width) + "x" + std::to_string(frame->height) + " is not a size served");
  return frame;
}

}  // namespace

ScaledImage scale_image_to_jpeg(std::string_view bytes, int size) {
  Frame src = decode_image(bytes);
  const int w = src->width, h = src->height;
  // The larger side becomes `size`, the other keeps the aspect (at least one pixel); a picture
  // already that small keeps its size (scaling up adds nothing but bytes).
  const int larger = std::max(w, h);
  const double k = size > 0 && size < larger ? double(size) / larger : 1.0;
  ScaledImage out;
  out.width = std::max(1, int(std::lround(w * k)));
  out.height = std::max(1, int(std::lround(h * k)));
  const AVPixelFormat dst_fmt = AV_PIX_FMT_YUVJ420P;  // what every JPEG decoder reads
  std::unique_ptr<SwsContext, SwsFree> sws(CLAP_MEDIA(sws_getContext)(w, h, static_cast<AVPixelFormat>(src->format), out.width, out.height,
                                                          dst_fmt, SWS_AREA, nullptr, nullptr, nullptr));
  if (!sws) throw Error("image: cannot scale its pixel format");
  Frame dst(CLAP_MEDIA(av_frame_alloc)());
  if (!dst) throw Error("image: out of memory");
  dst->format = dst_fmt;
  dst->width = out.width;
  dst->height = out.height;
  if (CLAP_MEDIA(av_frame_get_buffer)(dst.get(), 0) < 0) throw Error("image: out of memory");
  CLAP_MEDIA(sws_scale)(sws.get(), src->data, src->linesize, 0, h, dst->data, dst->linesize);

  const AVCodec* codec = CLAP_MEDIA(avcodec_find_encoder)(AV_CODEC_ID_MJPEG);
  if (!codec) throw Error("image: this FFmpeg has no JPEG encoder");
  Codec enc(CLAP_MEDIA(avcodec_alloc_context3)(codec));
  if (!enc) throw Error("image: out of memory");
  enc->width = out.width;
  enc->height = out.height;
  enc->pix_fmt = dst_fmt;
  enc->time_base = AVRational{1, 1};
  enc->color_range = AVCOL_RANGE_JPEG;
  // A fixed quality (qscale 3 of 2-31): what cover thumbnails are usually made with.
  enc->flags |= AV_CODEC_FLAG_QSCALE;
  enc->global_quality = FF_QP2LAMBDA * 3;
  if (CLAP_MEDIA(avcodec_open2)(enc.get(), codec, nullptr) < 0) throw Error("image: cannot open the JPEG encoder");
  dst->quality = enc->global_quality;
  dst->pts = 0;
  if (CLAP_MEDIA(avcodec_send_frame)(enc.get(), dst.get()) < 0) throw Error("image: JPEG encoding failed");
  CLAP_MEDIA(avcodec_send_frame)(enc.get(), nullptr);
  Packet pkt(CLAP_MEDIA(av_packet_alloc)());
  if (!pkt || CLAP_MEDIA(avcodec_receive_packet)(enc.get(), pkt.get()) < 0) throw Error("image: JPEG encoding failed");
  out.jpeg.assign(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size));
  return out;
}

}  // namespace clap::audio
