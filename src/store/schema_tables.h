// What the migrations' own SQL says of a schema, for both stores: each table and column is made by
// one numbered migration, so a table or column that is there proves the schema reached that
// migration, and the schema of this version is the columns (with their declared types) that the
// migrations make - read from them rather than kept as a second copy that could drift.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace clap::store {

// A table (column "") or a column of a table that migration `version` - 1 makes (brings the
// schema to `version`). `type` is the column's declared type as written, upper case, its words
// separated by one space ("DOUBLE PRECISION", "" for SQLite's untyped meta.value).
struct SchemaPart {
  std::string table, column, type;
  int version = 0;
  // The column may hold NULL as the migration makes it: no NOT NULL, PRIMARY KEY (its own or the
  // table's) or GENERATED on it.
  bool nullable = false;
};
// Every table made by CREATE TABLE (not CREATE TABLE IF NOT EXISTS, whose table may come from
// elsewhere) and every column made in it or by ALTER TABLE ... ADD COLUMN, in the order made. A
// table made again later counts at its first making.
std::vector<SchemaPart> schema_parts(const char* const* migrations, int count);

// The tables a database holds, each with its columns and their types as the database names them.
using SchemaColumns = std::map<std::string, std::map<std::string, std::string>>;

// A table or column that a schema at `stored` version cannot hold yet: the latest of `schema`
// made past `stored` that `present` holds (a column of a table made past `stored` counts as its
// table), or nullopt.
std::optional<SchemaPart> ahead_of(const std::vector<SchemaPart>& schema, int64_t stored, const SchemaColumns& present);

// The error for it: the version row disagrees with the tables. An upgrade from the stored
// version failed on a raw "table fingerprints already exists (CREATE TABLE ...)" (hostile pass
// 11, R11C-1) or "duplicate column name: speech (ALTER TABLE ...)" (issue 53: a row older than a
// migration that only adds columns); nothing is changed, as for the other damage of the version row.
std::string version_behind_tables(const std::string& where, int64_t stored, const SchemaPart& ahead, int current);

// The first column of `schema` that a table of `present` lacks or holds with another type
// (`same_type(declared, found)`), said as "table T has no column C (a new index has it, TYPE)" /
// "table T's column C is FOUND where a new index has TYPE"; "" when none. Tables `present` lacks are skipped (the
// missing table is its own damage, named first). Columns added by hand are no damage.
std::string column_damage(const std::vector<SchemaPart>& schema, const SchemaColumns& present,
                          const std::function<bool(const std::string& declared, const std::string& found)>& same_type);

// A column the migrations never made that the database declares NOT NULL with no default, nor a
// value of its own (identity, generated): every insert clapsearch makes into its table fails, on
// raw SQL ("null value in column "mine" of relation "users" violates not-null constraint"), while
// the check at open passed it as "a column added by hand" (hostile pass 14, R14C-2). `required`
// lists (table, column) of such columns the database holds; the first in a table of the schema
// that the schema lacks, or nullopt.
using TableColumn = std::pair<std::string, std::string>;
std::optional<TableColumn> unfilled_column(const std::vector<SchemaPart>& schema, const std::vector<TableColumn>& required);
// It said, with the way out both stores have: "table T has a column C that clapsearch did not
// make, NOT NULL with no default, which its writes leave empty (added by hand?); nothing was
// changed: drop it (`ALTER TABLE T DROP COLUMN C`)".
std::string unfilled_column_damage(const TableColumn& column);

// A column the migrations make nullable that the database declares NOT NULL (PostgreSQL's `ALTER
// TABLE ... SET NOT NULL`, SQLite's table made again by hand): the check at open passed it, and
// the first write of an empty value failed on raw SQL ("null value in column "title" of relation
// "tracks" violates not-null constraint", hostile pass 16). `not_null` lists (table, column) of the
// database's NOT NULL columns; the first that the schema makes nullable, or nullopt.
std::optional<TableColumn> tightened_column(const std::vector<SchemaPart>& schema, const std::vector<TableColumn>& not_null);
// It said: "table T's column C is NOT NULL, where clapsearch makes it nullable: a write of an empty
// value there fails (made so by hand?); nothing was changed: " (each store adds its way out).
std::string tightened_column_damage(const TableColumn& column);

}  // namespace clap::store
