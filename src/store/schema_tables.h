// What a schema's tables say of its version, for both stores' migrate(): each table is made by
// one numbered migration, so a table that is there proves the schema reached that migration.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace clap::store {

// A table that a schema at `stored` version cannot hold yet: the first migration of
// `migrations[0..count)` that makes it (CREATE TABLE, not CREATE TABLE IF NOT EXISTS, whose
// table may come from elsewhere) brings the schema to `version` > stored.
struct TableAhead {
  std::string table;
  int version = 0;
};
// The table of `present` made by the latest migration past `stored`, or nullopt.
std::optional<TableAhead> table_ahead_of(const char* const* migrations, int count, int64_t stored,
                                         const std::set<std::string>& present);

// The error for it: the version row disagrees with the tables. An upgrade from the stored
// version failed on a raw "table fingerprints already exists (CREATE TABLE ...)" (hostile pass
// 11, R11C-1); nothing is changed, as for the other damage of the version row.
std::string version_behind_tables(const std::string& where, int64_t stored, const TableAhead& ahead, int current);

}  // namespace clap::store
