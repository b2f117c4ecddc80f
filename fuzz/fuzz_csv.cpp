// The readers of the commands' text inputs (core/csv.h) on arbitrary bytes: the CSV parser,
// eval's "path,label" / "path,caption" rows, and query files (search/analyze --queries,
// classify --labels), through the file readers the CLI calls.
#include <cstdint>
#include <string>

#include "core/csv.h"
#include "core/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("input.csv");
  const std::string& path = file.write(data, size);
  try {
    const clap::CsvRows rows = clap::read_csv(path);
    size_t fields = 0;
    for (const auto& row : rows) {
      FUZZ_CHECK(!row.empty());
      for (const auto& field : row) fields += field.size();
    }
    FUZZ_CHECK(fields <= size);  // every field byte comes from the input
    for (const char* value : {"label", "caption"}) {
      try {
        for (const clap::CsvPair& p : clap::csv_pairs(rows, path, value)) FUZZ_CHECK(!p.path.empty() && !p.value.empty());
      } catch (const clap::Error&) {
      }
    }
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for a damaged file.
  }
  try {
    for (const std::string& query : clap::read_query_file(path)) FUZZ_CHECK(!query.empty() && query[0] != '#');
  } catch (const clap::Error&) {
  }
  return 0;
}
