// The sizes of the stored track embeddings as the database keeps them (issue 53, copies13:
// `status`'s default damage check), on either store: a function over a Store rather than a member
// of its interface (store.h, which every layer includes), as store/playlist_reads.h; it calls the
// same-named member of SqliteStore or PostgresStore.
#pragma once
#include <cstdint>
#include <optional>

#include "store/store.h"

namespace clap::store {

// The id of the first ok track (by id) whose stored embedding a read of it would refuse (one not
// of dim floats' size: Stmt/Result::append_floats compare the same bytes), found from the sizes
// the database keeps (SQLite's length(), PostgreSQL's octet_length()), without reading the
// embeddings: 1.3 s rather than 6 s at 200,000 tracks (docs/performance.md). nullopt when every
// one has the right size.
std::optional<int64_t> misshapen_track_embedding(const Store& s);

}  // namespace clap::store
