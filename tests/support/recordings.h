// Synthetic "recordings" and their copies, for the tests of what counts as the same recording
// (acoustic fingerprints, `duplicates`): ffmpeg expressions for 45 s songs, and the ffmpeg
// arguments of each kind of copy.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace clap::test {

// A 45 s "song" (an aevalsrc expression): one instrument family (0, 1 or 2), five 9 s sections
// in different registers or rhythms.
std::string song_expression(int family);

// The kinds of copy, as {file name, ffmpeg output arguments}: the lossless original first
// ("flac.flac"), then MP3 128k, AAC 160k, Opus 96k, 22.05 kHz mono, trimmed by 2 s, faded in and
// out, 3 s of silence in front.
const std::vector<std::pair<std::string, std::string>>& copy_kinds();

}  // namespace clap::test
