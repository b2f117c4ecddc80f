// The --where expression parser (search/filter.h) on arbitrary bytes, as a client of the
// server's `where` parameter may send them: a parse either succeeds or throws FilterError
// (whose column lies inside the text and whose message is valid UTF-8, since the server
// returns it as JSON), and an accepted filter evaluates on a few tracks without failing.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "fuzz_util.h"
#include "search/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const clap::search::Filter f = clap::search::Filter::parse(text);
    FUZZ_CHECK(!f.empty() && f.text() == text);
    clap::search::FilterFields empty, full;
    full.artist = full.album = full.album_artist = full.genre = full.title = text;
    full.date = "1999-01-01";
    full.path = "/music/a/b.flac";
    full.duration_s = 245;
    full.track_no = 3;
    full.speech = 0.25;
    (void)f.matches(empty);
    (void)f.matches(full);
  } catch (const clap::search::FilterError& e) {
    FUZZ_CHECK(e.column() >= 1 && static_cast<size_t>(e.column()) <= size + 1);
    FUZZ_CHECK(clap::is_valid_utf8(e.what()));
  }
  return 0;
}
