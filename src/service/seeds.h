// Queries made of several seeds (issue 38): audio seeds (tracks of the index or audio files),
// texts, and negatives, each with a weight, combined by arithmetic on L2-normalised embeddings:
//
//   query = normalise( Σ wᵢ·pᵢ − Σ wⱼ·nⱼ )
//
// pᵢ the positive terms, nⱼ the negative ones, each a unit vector: a text's embedding, an
// indexed track's stored track embedding (the normalised mean of its non-silent windows), an
// audio file's track embedding computed as the indexer would. `similar` and `search` rank by
// that one vector (track embeddings, or windows for search); `like` votes with the chunks of its
// audio seeds, each chunk c of a seed of weight w replaced by normalise(w·ĉ + Σ texts − Σ
// negatives) (docs/user-guide.md, Several seeds). Indexed tracks a query names are never among
// its results (ResultRules::exclude).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "search/like.h"
#include "search/similar.h"
#include "search/text_search.h"
#include "service/filters.h"
#include "service/library.h"

namespace clap::service {

enum class TermKind { Text, Audio };  // Audio: a track of the index (id or path) or an audio file

// One term as written: "VALUE" or "VALUE:WEIGHT" (see resolve_query for how the weight is told
// from a value that contains ':').
struct QueryTerm {
  TermKind kind = TermKind::Text;
  std::string spec;
  bool negative = false;
  std::string option;  // the option or parameter it came from, for error messages ("--seed")
};

// A term resolved: its value, weight, unit vector, and the indexed track it names (-1: none).
struct ResolvedTerm {
  TermKind kind = TermKind::Text;
  std::string value;
  double weight = 1;
  bool negative = false;
  int64_t track_id = -1;
  std::vector<float> unit;
};

struct MixedQuery {
  std::vector<ResolvedTerm> terms;
  std::vector<int64_t> seed_tracks;  // the indexed tracks the terms name, ascending, once each
};

// Resolves every term. Weights: a trailing ":NUMBER" is the weight (default 1) unless the whole
// spec names an indexed track or an existing file; a weight that is not a finite number above 0
// (at most FLT_MAX, 3.4e38)
// throws InvalidArgument naming the option and the term. A seed that is neither a track of the
// index nor an existing file throws Error naming it; an empty text or an empty list of positive
// terms throws InvalidArgument. Files outside the index are decoded (allow_files false: only
// tracks of the index, as a server takes them).
// need_positive false: negatives alone resolve (a radio's, added to its own query).
MixedQuery resolve_query(Library& lib, const LibrarySnapshot& snap, const std::vector<QueryTerm>& terms,
                         bool allow_files = true, bool need_positive = true);

// normalise(Σ ± w·unit) over the terms `use` accepts (all when empty); throws Error when the
// sum vanishes (the terms cancel out).
std::vector<float> combine_terms(const std::vector<ResolvedTerm>& terms, int64_t dim,
                                 bool (*use)(const ResolvedTerm&) = nullptr);

// The entries of a playlist file (M3U/M3U8 or one entry a line; # lines and blank lines
// skipped): paths relative to the playlist's folder made absolute, track ids kept, file://
// addresses (file:///PATH, file://localhost/PATH) percent-decoded to their paths. Another
// scheme (http://), a file:// address on another host or a bad %XX escape is refused naming
// the file and line.
std::vector<std::string> read_seed_list(const std::string& path);

// nullopt when `entry` is no URI (no "scheme://" in front); else the path a file:// address
// names, percent-decoded, or "" with *why set to the reason it names no file here.
std::optional<std::string> file_uri_path(const std::string& entry, std::string* why);

// The rules with the query's seed tracks excluded.
ResultRules excluding_seeds(ResultRules rules, const MixedQuery& q);

// Song -> songs for a mixed query: track embeddings ranked by cosine to the combined vector.
std::vector<search::Hit> similar_mixed(const LibrarySnapshot& snap, const MixedQuery& q, int64_t dim, int64_t k,
                                       const ResultRules& rules = {});

// Text -> songs: each text mixed with the query's terms (normalise(text + Σ … − Σ …)), ranked
// over windows as search_texts ranks a text.
std::vector<std::vector<search::TrackScore>> search_mixed(Library& lib, const LibrarySnapshot& snap,
                                                          const std::vector<std::string>& texts, const MixedQuery& q,
                                                          const search::TextSearchOptions& options,
                                                          const ResultRules& rules = {});

// Query by example with several audio seeds: the chunks of every positive audio seed, in term
// order, each steered by the texts and negatives (above); they vote together in service::like
// (with excluding_seeds). `query` (optional): the chunks of audio the caller decoded itself (the
// server's upload, decoded as untrusted bytes), the first positive seed, of weight 1; `q` may then
// hold no positive term (resolve_query's need_positive false). Throws InvalidArgument without a
// positive audio seed.
search::QueryChunks mixed_query_chunks(Library& lib, const LibrarySnapshot& snap, const MixedQuery& q,
                                       const search::QueryChunks* query = nullptr);

}  // namespace clap::service
