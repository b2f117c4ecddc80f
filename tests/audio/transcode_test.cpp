// Tests for the Subsonic server's audio work in clap::audio: transcoding (audio/transcode.h)
// and a file's cover picture, lyrics tags and scaled pictures (audio/media_tags.h), on real files
// made with the ffmpeg command-line tool; outputs checked by decoding them again.
#include "audio/transcode.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "audio/decode.h"
#include "audio/media_tags.h"
#include "core/error.h"
#include "support/golden.h"

namespace clap::audio {
namespace {

std::string ffmpeg(const std::string& name, const std::string& args) {
  const std::string path = test::temp_dir() + "/" + name;
  std::string err;
  if (test::run_command("ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " '" + path + "'", nullptr, &err) != 0)
    throw std::runtime_error("ffmpeg failed for " + name + ": " + err);
  return path;
}

struct OpenFile {
  explicit OpenFile(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd < 0) throw std::runtime_error("cannot open " + path);
  }
  ~OpenFile() { ::close(fd); }
  int fd;
};

// Transcodes `input` and writes the output to <temp_dir>/<name>; returns its path.
std::string transcode_to(const std::string& input, const std::string& name, const TranscodeOptions& o) {
  OpenFile in(input);
  std::string bytes;
  Transcoder t(in.fd, input, o);
  EXPECT_TRUE(t.run([&](const uint8_t* data, size_t n) {
    bytes.append(reinterpret_cast<const char*>(data), n);
    return true;
  }));
  const std::string out = test::temp_dir() + "/" + name;
  std::ofstream(out, std::ios::binary) << bytes;
  return out;
}

TEST(Transcode, OpusAndMp3DecodeToTheSourcesDuration) {
  const std::string wav = ffmpeg("three.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=44100 -ac 2");
  AudioInfo info;
  TranscodeOptions o;
  o.format = TranscodeFormat::Opus;
  decode_file(transcode_to(wav, "three.opus", o), 48000, &info);
  EXPECT_EQ(info.codec, "opus");
  EXPECT_EQ(info.container, "ogg");
  EXPECT_NEAR(info.duration_s, 3.0, 0.05);
  o.format = TranscodeFormat::Mp3;
  o.bit_rate_kbps = 64;
  decode_file(transcode_to(wav, "three.mp3", o), 48000, &info);
  EXPECT_EQ(info.codec, "mp3");
  EXPECT_NEAR(info.duration_s, 3.0, 0.1);  // + the encoder's delay (no LAME tag on a stream)
  EXPECT_EQ(read_format(test::temp_dir() + "/three.mp3").bit_rate, 64000);
}

TEST(Transcode, AStartOffsetLeavesTheRest) {
  const std::string flac = ffmpeg("four.flac", "-f lavfi -i sine=f=440:d=4:sample_rate=44100 -c:a flac");
  TranscodeOptions o;
  o.format = TranscodeFormat::Opus;
  o.start_s = 1.5;
  AudioInfo info;
  decode_file(transcode_to(flac, "later.opus", o), 48000, &info);
  EXPECT_NEAR(info.duration_s, 2.5, 0.05);
}

TEST(Transcode, StopsWhenTheSinkRefuses) {
  const std::string wav = ffmpeg("long.wav", "-f lavfi -i sine=f=440:d=30:sample_rate=44100");
  OpenFile in(wav);
  Transcoder t(in.fd, wav, TranscodeOptions{});
  int calls = 0;
  EXPECT_FALSE(t.run([&](const uint8_t*, size_t) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);  // nothing more was made after the refusal
}

TEST(Transcode, AFileThatIsNotAudioIsRefusedBeforeAnyByte) {
  const std::string path = test::temp_dir() + "/notes.mp3";
  std::ofstream(path) << "these are not the sounds you are looking for\n";
  OpenFile in(path);
  EXPECT_THROW(Transcoder(in.fd, "notes.mp3", TranscodeOptions{}), Error);
}

TEST(MediaTags, EmbeddedPictureAndLyricsOfAnOpenFile) {
  const std::string png = ffmpeg("cover.png", "-f lavfi -i testsrc=size=320x240:d=1 -frames:v 1");
  const std::string mp3 = ffmpeg("tagged.mp3", "-f lavfi -i sine=d=2 -i '" + png +
                                                   "' -map 0 -map 1 -c:a libmp3lame -c:v copy -disposition:v attached_pic "
                                                   "-id3v2_version 3 -metadata 'lyrics=[00:01.00]Hello'");
  OpenFile in(mp3);
  const std::string picture = embedded_picture(in.fd, "tagged.mp3");
  EXPECT_EQ(image_content_type(picture), "image/png");
  std::ifstream f(png, std::ios::binary);
  EXPECT_EQ(picture, std::string((std::istreambuf_iterator<char>(f)), {}));
  const auto lyrics = read_lyrics(in.fd, "tagged.mp3");
  ASSERT_EQ(lyrics.size(), 1u);
  EXPECT_EQ(lyrics[0].text, "[00:01.00]Hello");

  const std::string plain = ffmpeg("plain.flac", "-f lavfi -i sine=d=1 -c:a flac");
  OpenFile bare(plain);
  EXPECT_EQ(embedded_picture(bare.fd, "plain.flac"), "");
  EXPECT_TRUE(read_lyrics(bare.fd, "plain.flac").empty());
}

TEST(MediaTags, LyricsTagsAreBoundedInNumber) {
  // Issue 53 (hostile pass 4): every lyrics tag was kept and compared with all the others, and
  // each became a structured lyrics entry of the answer: a header of thousands multiplied both.
  std::string tags;
  for (int i = 0; i < 20; ++i) tags += " -metadata 'lyrics-d" + std::to_string(i) + "-eng=line " + std::to_string(i) + "'";
  const std::string mp3 = ffmpeg("many-lyrics.mp3", "-f lavfi -i sine=d=1 -c:a libmp3lame -id3v2_version 3" + tags);
  OpenFile in(mp3);
  const auto lyrics = read_lyrics(in.fd, "many-lyrics.mp3");
  EXPECT_EQ(lyrics.size(), 16u);
  EXPECT_EQ(lyrics[0].lang, "eng");
}

TEST(MediaTags, ScaledToJpegKeepingTheAspectNeverEnlarged) {
  const std::string png = ffmpeg("wide.png", "-f lavfi -i testsrc=size=320x240:d=1 -frames:v 1");
  std::ifstream f(png, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const ScaledImage small = scale_image_to_jpeg(bytes, 100);
  EXPECT_EQ(image_content_type(small.jpeg), "image/jpeg");
  EXPECT_EQ(small.width, 100);
  EXPECT_EQ(small.height, 75);
  const ScaledImage again = scale_image_to_jpeg(small.jpeg, 0);  // the JPEG decodes at its size
  EXPECT_EQ(again.width, 100);
  EXPECT_EQ(again.height, 75);
  const ScaledImage big = scale_image_to_jpeg(bytes, 1000);
  EXPECT_EQ(big.width, 320);
  EXPECT_EQ(big.height, 240);
  EXPECT_THROW(scale_image_to_jpeg("not a picture", 100), Error);
  EXPECT_THROW(scale_image_to_jpeg(std::string("\x89PNG\r\n\x1A\n") + "truncated", 100), Error);
  // A picture past the size served is refused from its header (a 7000 x 7000 PNG of one colour
  // is a few KB on disk, 196 MB decoded).
  const std::string huge_png = ffmpeg("huge.png", "-f lavfi -i color=c=red:size=7000x7000:d=1 -frames:v 1");
  std::ifstream h(huge_png, std::ios::binary);
  const std::string huge((std::istreambuf_iterator<char>(h)), {});
  EXPECT_THROW(scale_image_to_jpeg(huge, 100), Error);
}

}  // namespace
}  // namespace clap::audio
