#include "store/schema_tables.h"

#include <cctype>
#include <string_view>

namespace clap::store {

std::optional<TableAhead> table_ahead_of(const char* const* migrations, int count, int64_t stored,
                                         const std::set<std::string>& present) {
  std::set<std::string> seen;  // a table made again later (a rebuilt table) counts at its first making
  std::optional<TableAhead> ahead;
  for (int i = 0; i < count; ++i) {
    const std::string_view sql = migrations[i];
    constexpr std::string_view kCreate = "CREATE TABLE ";
    for (size_t at = sql.find(kCreate); at != std::string_view::npos; at = sql.find(kCreate, at + 1)) {
      size_t p = at + kCreate.size();
      if (sql.substr(p, 14) == "IF NOT EXISTS ") continue;
      const size_t start = p;
      while (p < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[p])) || sql[p] == '_')) ++p;
      const std::string table(sql.substr(start, p - start));
      if (table.empty() || !seen.insert(table).second) continue;
      if (i + 1 > stored && present.count(table) && (!ahead || i + 1 > ahead->version)) ahead = TableAhead{table, i + 1};
    }
  }
  return ahead;
}

std::string version_behind_tables(const std::string& where, int64_t stored, const TableAhead& ahead, int current) {
  return where + ": the schema_version table says version " + std::to_string(stored) + ", but the index holds table " +
         ahead.table + ", which version " + std::to_string(ahead.version) +
         " made: its version row disagrees with its tables, a damaged index; nothing in it was changed (set the row to "
         "the index's version, " + std::to_string(ahead.version) + " or later (this clapsearch writes " +
         std::to_string(current) + "), or restore the database from a backup)";
}

}  // namespace clap::store
