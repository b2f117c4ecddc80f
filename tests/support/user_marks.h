// A user's marks on songs of an index (stars, ratings, plays, playlist entries, bookmarks, queue
// places), for the tests of what must keep them: moves with a retag (retag_moves_cli_test), track
// ids kept by rebuilds (kept_ids_cli_test).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace clap::test {

// The index's track ids by path (a SQLite file or a PostgreSQL URL).
std::map<std::string, int64_t> ids_by_path(const std::string& location);

// The tracks to mark, by id (0: that mark is not made).
struct MarkedSongs {
  int64_t starred = 0, rated = 0, played = 0, listed = 0, bookmarked = 0, queued = 0;
};

struct UserMarks {
  int64_t user = 0, playlist = 0;  // playlist: 0 when no song is listed
};

// Adds user `name` (a placeholder password) and the marks of `songs`, each naming its song as the
// server does (id, content hash and path): a star and a rating of 4, a play from "subsonic", a
// playlist of one entry, a bookmark at 5 s, a play queue of one entry.
UserMarks add_user_marks(const std::string& location, const std::string& name, const MarkedSongs& songs);

}  // namespace clap::test
