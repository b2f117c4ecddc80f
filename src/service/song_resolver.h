// Finding a media server's song in the index (issue 36): the one resolver every integration uses
// (the server's OpenSubsonic-shaped routes, and any plugin that calls them).
//
// A media server names a song by what it knows: a path relative to its own music folder (never
// the path clapsearch indexed), a MusicBrainz recording id (MBID), an ISRC, and artist, title,
// album and duration. The rules, tried in this order, stop at the first that names exactly one
// song:
//   1. path    the reference's path is a suffix of an indexed path, whole components only
//              ("Artist/Album/01 Song.flac" matches ".../music/Artist/Album/01 Song.flac");
//              several indexed files ending so (a bare "01 Intro.mp3") are not a match. When
//              none ends so byte for byte, both are compared folded (fold_path: Unicode
//              composed or decomposed, case, accents), and one match is taken. Every indexed
//              file takes part, whatever its status (as a track id names it).
//   2. mbid    the MBID (case-insensitive) equals a track's MusicBrainz recording id.
//   3. isrc    the ISRC (case-insensitive, hyphens and spaces ignored) equals a track's.
//   4. tags    normalised artist and title (normalise_name) equal a track's, and when the
//              reference gives a duration the track's is within ResolveOptions::duration_tolerance_s
//              (a duration of 0 is no duration: media servers send 0 for "unknown").
// Rules 2-4 consider tracks with status ok only.
// When a rule finds several tracks (copies of one recording, the same ISRC on a single and an
// album) the album (normalised) decides first when given, then the duration closest to the
// reference's, then the smallest track id: the answer is deterministic.
//
// What normalise_name folds: the name composed first (NFC, service/composed_text.h: NFD kana and
// Hangul jamo as macOS and SMB clients send them equal their composed forms), then case (Latin,
// Greek, Cyrillic, fullwidth), Latin accents (é -> e, ß -> ss, ø -> o), fullwidth ASCII and the
// ideographic space (the NFKC mappings tags actually contain), typographic quotes and dashes, ё -> е,
// every run of punctuation or spaces to one space; "feat." / "ft." / "featuring" parts; and
// trailing bracketed or " - " suffixes that name an edition of the same recording
// ("(Remastered 2011)", "[Mono]", " - 2009 Remaster", "(Album Version)", "(Explicit)"). A suffix
// naming another recording ("(Live)", "(Remix)", "(Acoustic Version)", "(Radio Edit)",
// "(Instrumental)", "(Demo)") is kept, so the live version never matches the studio one by tags.
// Scripts without case (Japanese, Chinese) are compared as written, after the fullwidth folding.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace clap::service {

// A media server's song reference: any of the fields may be empty (duration_s 0 = unknown).
struct SongRef {
  std::string path;  // path or path suffix relative to the media server's music folder
  std::string mbid, isrc;
  std::string artist, title, album;
  double duration_s = 0;
  bool empty() const { return path.empty() && mbid.empty() && isrc.empty() && artist.empty() && title.empty(); }
};

enum class MatchRule { None, Path, Mbid, Isrc, Tags };
// "path", "mbid", "isrc", "tags", "none": what the answers call the rule.
const char* rule_name(MatchRule rule);

// A name (path, MBID, ISRC, artist, title, album) longer than 64 KiB is not compared: no tag
// or path can be that long (kMaxReferenceNameBytes in song_resolver.cpp says why); the reason
// for no match says so (hostile pass 16, H16S-4).
struct ResolveOptions {
  double duration_tolerance_s = 3;  // rule 4 only; a reference without a duration is not checked
};

struct Resolution {
  const store::Track* track = nullptr;  // nullptr: no match
  MatchRule rule = MatchRule::None;
  std::string reason;  // when no match: what was tried and why it failed
};

// The comparison key of an artist, title or album (see above); "" for a name of punctuation only.
std::string normalise_name(std::string_view name);
// A path folded code point by code point as names are (case, accents, combining marks dropped,
// fullwidth forms), its punctuation and slashes kept: NFD and NFC spellings of one name agree.
std::string fold_path(std::string_view path);
// The comparison keys of identifiers: MBID lower-case, ISRC upper-case without hyphens or spaces.
std::string normalise_mbid(std::string_view mbid);
std::string normalise_isrc(std::string_view isrc);

// The lookup tables of one set of tracks (a snapshot's: LibrarySnapshot::song_index()), built
// once; rules 2-4 consider tracks with status ok only. `tracks` must outlive the index.
class SongIndex {
 public:
  explicit SongIndex(const std::vector<store::Track>& tracks);
  Resolution resolve(const SongRef& ref, const ResolveOptions& options = {}) const;

 private:
  using Positions = std::vector<size_t>;  // into tracks_, ascending track id
  const store::Track* pick(const Positions& candidates, const SongRef& ref) const;
  const std::vector<store::Track>& tracks_;
  std::unordered_map<std::string, Positions> by_file_name_, by_folded_file_name_, by_mbid_, by_isrc_, by_name_;
  std::vector<std::string> album_keys_;    // normalise_name(album) per position
  std::vector<std::string> folded_paths_;  // fold_path(path) per position
};

}  // namespace clap::service
