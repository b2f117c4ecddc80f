// The hash of a file's audio as stored, not as tagged: the compressed packets of its best audio
// stream, read by the demuxer alone (nothing decoded). FLAC's metadata blocks, ID3 and APE
// tags, MP4's `moov` atoms and Ogg's comment header are outside those packets, so a retag (or a
// remux such as `ffmpeg -c copy`) leaves the hash as it was while the file's bytes change. The
// indexer tells a file moved and retagged at once by it (index/retag_moves.h).
#pragma once
#include <string>

namespace clap::audio {

// 64 hex digits over the codec, sample rate, channel count and every packet's size and bytes
// of the best audio stream ("" when the stream holds no packet). Throws clap::Error naming the
// file when it cannot be opened or has no audio stream.
std::string packet_hash(const std::string& path);

}  // namespace clap::audio
