// The listening-history export readers (service/history_files.h) on arbitrary bytes, through
// the file reader `clapsearch history import` calls, in each format: a ListenBrainz zip or JSON
// lines, a Last.fm CSV or JSON. Every listen read has an artist, a title and a time; anything
// else must be a clap::Error (a refusal naming the file), never a crash or a hang.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "service/history_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("history");
  const std::string& path = file.write(data, size);
  using clap::service::HistoryFormat;
  for (const HistoryFormat format : {HistoryFormat::Auto, HistoryFormat::ListenBrainz, HistoryFormat::LastFm}) {
    try {
      const clap::service::HistoryFile f = clap::service::read_history_file(path, format);
      FUZZ_CHECK(f.format != HistoryFormat::Auto);
      FUZZ_CHECK(!f.listens.empty());
      for (const clap::service::Listen& l : f.listens) {
        FUZZ_CHECK(!l.artist.empty() && !l.title.empty());
        FUZZ_CHECK(l.played_at >= 0);
        FUZZ_CHECK(l.duration_s >= 0);
      }
    } catch (const clap::Error&) {
      // A clear refusal is the expected outcome for a damaged file.
    }
  }
  return 0;
}
