#include "cli/ranked_output.h"

namespace clap::cli {

std::vector<std::string> track_csv_cells(const service::LibrarySnapshot& snap, int64_t track_id) {
  const store::Track* t = snap.track(track_id);
  return {t ? t->path : "", t ? t->artist : "", t ? t->title : ""};
}

std::vector<std::string> track_table_cells(const service::LibrarySnapshot& snap, int64_t track_id,
                                           const std::vector<int64_t>& copies) {
  const store::Track* t = snap.track(track_id);
  return {t ? snap.display_path(t->path) : "?", (t ? snap.tags_text(*t) : "") + copies_text(copies)};
}

}  // namespace clap::cli
