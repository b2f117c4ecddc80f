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

// A library of untagged re-encodes under `music` (copies12): recording "x" (a 20 s song) as
// x/song.flac and x/song.mp3 (128 kb/s), then `more_copies` more MP3s of it with other bytes
// (x/copy-N.mp3: the same audio, a comment tag apart), and three other recordings, one file
// each: y/song.flac and z/song.flac (the other song families) and n/noise.flac (pink noise).
// No MBID, no ISRC: only the fingerprints tell x's files are one recording.
void write_reencoded_library(const std::string& music, int more_copies = 0);
// That library indexed by the real CLI (the tiny model), shared by a test binary's processes
// (shared_fixture): the folder holding music/ and library.db. Tests copy the index to write.
std::string reencoded_library(int more_copies = 0);

// A copy of reencoded_library(more_copies)'s index at `db` with `store_copies` more files of x:
// rows copied from x/song.mp3's (its windows, embeddings and fingerprint) under new paths and
// content hashes, written straight to the store as the indexer would write re-encodes that
// decode alike (copies14: hundreds of them, which the real indexer takes minutes to make).
void reencoded_library_with_store_copies(int more_copies, int store_copies, const std::string& db);

// One recording in two folders (copies13): a/song.flac (x's 20 s song, tagged artist "Artist A",
// album "Album A") and b/song.mp3, an untagged 128 kb/s re-encode of it, beside y, z and the
// noise of write_reencoded_library. A group of a's tracks (its folder, artist or album) has a
// copy of its song outside it that only the fingerprints tell. Indexed as reencoded_library.
void write_copies_in_two_folders(const std::string& music);
std::string copies_in_two_folders();

// One recording in files of two encodings (H14S-3): x/song.flac, then `per_kind` MP3s of it at
// 64 kb/s and as many at 128 kb/s (x/mp3-64.mp3, x/mp3-64-N.mp3, ...: each kind one encode and
// copies of it a comment tag apart), beside y, z and the noise. With more than 16 of a kind, a
// file's nearest tracks are files of its own kind. Indexed as reencoded_library.
void write_copies_of_two_kinds(const std::string& music, int per_kind);
std::string copies_of_two_kinds(int per_kind);

// copies_of_two_kinds's files beside three other recordings made from x's song (copies16), in
// v/: the song cut shorter (its first 16 s), another take (played 6 % faster: atempo) and a
// remix (x under y's percussion at the same level). The short cut and the other take are no copy
// of x; the remix is, by the fingerprint rule (it keeps x's audio whole: BER 0.005).
void write_two_kinds_and_variants(const std::string& music, int per_kind);
std::string two_kinds_and_variants(int per_kind);

}  // namespace clap::test
