// A file moved and retagged at once (beets' `import` with move and write, Picard's save with
// renaming) has a new path and new bytes: the content hash that tells a plain move (index_roots,
// plan_roots) does not match it, and without more it is a deletion plus a new file whose stars,
// ratings, plays, playlist entries, bookmark and queue place stay with the retired track (hostile
// pass 9, H9S-5). Its compressed audio is the one the missing track was indexed from, and tags live
// outside the audio packets (audio/packet_hash.h): a new path whose packet hash equals a missing
// track's stored one is that track, moved and retagged.
#pragma once
#include <vector>

#include "index/indexer.h"
#include "index/pipeline.h"
#include "store/store.h"

namespace clap::index {

// Claims, for the `candidates` (jobs of new paths no content hash matched, in crawl order), the
// unclaimed missing tracks (live ones, then retired ones; not links left out, not those in
// `reserved`) whose stored packet hash equals the file's. A claimed track is moved (restored, when
// retired) to the path with its old size and times, keeping its id and so every user data row,
// and its job becomes a changed file's (new_path false): the run then reads its new tags and
// content hash as a retag in place does. Files are demuxed (nothing decoded) only when some such
// missing track has a packet hash. When several tracks and several files share a packet hash
// (copies of one recording: an album's track and a compilation's), live tracks pair before retired
// ones, and among them the pairs whose tags agree most (album, then title, artist, file name) are
// taken first, then the new path that keeps most of the old one; ties pair in order (lower track
// ids first, files in crawl order; a group of more than 4,096 pairs in that order alone). A file
// left over is new.
// Different audio is never claimed.
void claim_retagged_moves(store::Store& store, std::vector<MissingTrack>& missing,
                          const std::vector<const MissingTrack*>& reserved, const std::vector<Job*>& candidates,
                          const IndexCallbacks& callbacks, IndexSummary& sum);

// index_roots' claim, before its pipeline claims plain moves by content hash (Pipeline::decode):
// the new paths of `jobs` that no content hash matches (those of a missing track's exact size are
// hashed to tell, as plan_roots does, and the tracks they match are left to the pipeline) go to
// claim_retagged_moves.
void claim_retagged_before_pipeline(store::Store& store, std::vector<Job>& jobs, std::vector<MissingTrack>& missing,
                                    const IndexCallbacks& callbacks, IndexSummary& sum);

// Before a run compares the library with the index: a run stopped (kill -9, a crash, power lost)
// after claim_retagged_moves moved a track but before it brought the users' references to the
// new path left them attached by the old content hash alone; this run would read the file's new
// bytes and leave them naming neither (hostile pass 11, H11C-1). Attached references are brought
// up to date here, before any file is read; a no-op after a run that finished.
void settle_interrupted_claims(store::Store& store);

// The catch-up of the tracks indexed before packet hashes were stored (the pipeline hashes the files
// it indexes, Pipeline::hash_packets): the packet hash of every ok track that has none, a demux of
// each file while it is there, the version the track was indexed from (its size and time as
// stored), one file at a time, each stored at once. Reports progress (IndexProgress::pass 0)
// before the first file and after each: a callback that throws (a watch's stop) ends the catch-up
// between two files, keeping what it stored. A file that cannot be demuxed is warned about and
// recorded as having none ("": tried again when it changes, when the pipeline reads it anew); one
// not there, or changed, is left for a later run.
void refresh_packet_hashes(store::Store& store, IndexSummary& sum, const IndexCallbacks& callbacks);

}  // namespace clap::index
