// The output of the commands that list ranked tracks (search, like, similar), written once: the
// note of a list folded short (--diversity, --collapse-duplicates; the folding itself is the
// service's: service/ranked_queries.h), then --json, --csv FILE or text tables. What every list shares is here: the rank, the track's
// id, path and tags, and each result's copies; a command names only its own columns.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "service/diversity.h"
#include "service/ranked_queries.h"

namespace clap::cli {

// One query's ranked results and, per result, the ids of its duplicate copies
// (--collapse-duplicates; empty lists otherwise).
template <class R>
struct RankedTracks {
  std::string query;  // the query's name (search: the CSV's first column; JSON's with several queries)
  std::vector<R> results;
  std::vector<std::vector<int64_t>> copies;  // one per result
};

// What one kind of result adds to the columns every list has.
template <class R>
struct ResultColumns {
  std::function<int64_t(const R&)> track_id;
  std::function<double(const R&)> score;  // what --diversity and --collapse-duplicates rank by
  // --json: the service's record (service/records.h); `query` names the list when there are several.
  std::function<ojson(const R&, size_t rank, const std::string* query)> record;
  // --csv: the columns between track_id and path (rows end with path, artist, title); with
  // csv_query_column, a first column "query" (search's, even with one query).
  std::vector<std::string> csv_headers;
  std::function<std::vector<std::string>(const R&)> csv_cells;
  bool csv_query_column = false;
  // The table: the columns between "#" and "track" (rows end with track, tags) and which of them
  // are right-aligned; table_notes (optional): lines printed under a row.
  std::vector<std::string> table_headers;
  std::vector<bool> table_right;
  std::function<std::vector<std::string>(const R&)> table_cells;
  std::function<std::vector<std::string>(const R&)> table_notes;
};

// The formats a command was asked for.
struct RankedOutput {
  bool json = false;
  std::string csv;  // FILE, "-" = stdout; empty = not asked for
  bool collapse = false;
};

// The shared cells of a result's track: path, artist, title (CSV), and the display path and the
// tags with " (+N copies)" (the table). A track missing from the snapshot: empty, and "?".
std::vector<std::string> track_csv_cells(const service::LibrarySnapshot& snap, int64_t track_id);
std::vector<std::string> track_table_cells(const service::LibrarySnapshot& snap, int64_t track_id,
                                           const std::vector<int64_t>& copies);

// One query's list as the service folded it (service/ranked_queries.h), named `query`. A list
// folded short (a library of copies) is said on stderr, after `note_prefix`; the output's format
// is unchanged.
template <class R>
RankedTracks<R> listed(std::string query, service::RankedList<R> list, const service::RankedRequest& request,
                       const std::string& note_prefix = "") {
  if (request.diversity >= 0 || request.collapse)
    if (const std::string note = service::short_list_note(list.results.size(), request.k); !note.empty() && !list.results.empty())
      print_note(note_prefix + note);
  return RankedTracks<R>{std::move(query), std::move(list.results), std::move(list.copies)};
}

// Prints the lists: --json as one array of every list's records (with "copies" when collapsing),
// --csv as one file, else per list `heading(i)` (the command's own lines), its table and, when it
// is empty and `none` is given, that line.
template <class R>
void print_ranked(const service::LibrarySnapshot& snap, const ResultColumns<R>& columns,
                  const std::vector<RankedTracks<R>>& lists, const RankedOutput& output,
                  const std::function<void(size_t)>& heading, const char* none = nullptr) {
  if (output.json) {
    ojson out = ojson::array();
    const bool several = lists.size() > 1;
    for (const RankedTracks<R>& list : lists)
      for (size_t r = 0; r < list.results.size(); ++r) {
        ojson j = columns.record(list.results[r], r + 1, several ? &list.query : nullptr);
        if (output.collapse) j["copies"] = copies_json(list.copies[r]);
        out.push_back(std::move(j));
      }
    print_json(out);
  } else if (!output.csv.empty()) {
    CsvOut csv(output.csv);
    std::vector<std::string> headers;
    if (columns.csv_query_column) headers.push_back("query");
    headers.insert(headers.end(), {"rank", "track_id"});
    headers.insert(headers.end(), columns.csv_headers.begin(), columns.csv_headers.end());
    headers.insert(headers.end(), {"path", "artist", "title"});
    csv.row(headers);
    for (const RankedTracks<R>& list : lists)
      for (size_t r = 0; r < list.results.size(); ++r) {
        const R& result = list.results[r];
        std::vector<std::string> row;
        if (columns.csv_query_column) row.push_back(list.query);
        const int64_t id = columns.track_id(result);
        row.insert(row.end(), {std::to_string(r + 1), std::to_string(id)});
        for (std::string& cell : columns.csv_cells(result)) row.push_back(std::move(cell));
        for (std::string& cell : track_csv_cells(snap, id)) row.push_back(std::move(cell));
        csv.row(row);
      }
    csv.close();
  } else {
    std::vector<std::string> headers = {"#"};
    headers.insert(headers.end(), columns.table_headers.begin(), columns.table_headers.end());
    headers.insert(headers.end(), {"track", "tags"});
    std::vector<bool> right = {true};
    right.insert(right.end(), columns.table_right.begin(), columns.table_right.end());
    right.insert(right.end(), {false, false});
    for (size_t i = 0; i < lists.size(); ++i) {
      heading(i);
      Table table(headers, right);
      for (size_t r = 0; r < lists[i].results.size(); ++r) {
        const R& result = lists[i].results[r];
        std::vector<std::string> row = {std::to_string(r + 1)};
        for (std::string& cell : columns.table_cells(result)) row.push_back(std::move(cell));
        for (std::string& cell : track_table_cells(snap, columns.track_id(result), lists[i].copies[r]))
          row.push_back(std::move(cell));
        table.add(std::move(row));
        if (columns.table_notes)
          for (std::string& line : columns.table_notes(result)) table.add_note(std::move(line));
      }
      table.print(stdout);
      if (lists[i].results.empty() && none) std::printf("%s\n", none);
    }
  }
}

}  // namespace clap::cli
