// What a Subsonic app shows beside the sound, read from an audio file's tags with libavformat:
// its embedded cover picture, its lyrics; and the picture turned into the size an app asks for.
// Each reads the caller's open, checked descriptor (see ffmpeg_input.h), never a path.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace clap::audio {

// The embedded picture (ID3 APIC, FLAC/Vorbis PICTURE, MP4 covr: what libavformat exposes as
// an attached picture) of the open file `fd`: its encoded bytes, "" when it has none. Pictures
// over kMaxPictureBytes are ignored. Throws clap::Error("<name>: <reason>") when the file cannot
// be opened as audio.
std::string embedded_picture(int fd, const std::string& name);
inline constexpr size_t kMaxPictureBytes = 32u << 20;

// One lyrics tag: its text as the tag holds it (plain or LRC), and its language when the tag
// names one (ID3 USLT's three letters), else "".
struct LyricsTag {
  std::string text, lang;
};
// The lyrics tags of the open file, in the order the file has them: LYRICS and UNSYNCEDLYRICS
// (Vorbis comments, APE), USLT (ID3v2, "lyrics-LANG" or "lyrics-DESC-LANG" as libavformat names
// it), MP4 ©lyr ("lyrics"); from the container's and the audio stream's tags. At most
// kMaxLyricsTags of them (a song's lyrics in a few languages; a crafted header of thousands, each
// compared with the others for copies, took quadratic time and multiplied the answer).
inline constexpr size_t kMaxLyricsTags = 16;
std::vector<LyricsTag> read_lyrics(int fd, const std::string& name);

// An image's Content-Type by its first bytes: image/jpeg, image/png, image/gif, image/webp,
// image/bmp; "" when it is none of these.
std::string image_content_type(std::string_view bytes);

// The largest picture decoded (6000 x 6000): covers are a few megapixels; a larger one is refused
// before it is decoded.
inline constexpr int64_t kMaxImagePixels = 36'000'000;

// An image (any format libavcodec decodes: JPEG, PNG, ...) scaled with libswscale so that its
// larger side is `size` pixels (the aspect kept; never enlarged), as JPEG. Throws clap::Error
// when the bytes are not an image it can decode, or the image is larger than kMaxImagePixels.
struct ScaledImage {
  std::string jpeg;
  int width = 0, height = 0;
};
ScaledImage scale_image_to_jpeg(std::string_view bytes, int size);

}  // namespace clap::audio
