#include "store/schema_tables.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace clap::store {

namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The words of a column definition after its name up to the first that ends its type.
std::string declared_type(std::string_view def) {
  static const std::set<std::string> kEnd = {"COLLATE", "NOT", "NULL", "DEFAULT", "PRIMARY", "REFERENCES",
                                             "UNIQUE", "CHECK", "GENERATED", "CONSTRAINT"};
  std::string type;
  size_t p = 0;
  while (p < def.size()) {
    while (p < def.size() && std::isspace(static_cast<unsigned char>(def[p]))) ++p;
    const size_t start = p;
    while (p < def.size() && word_char(def[p])) ++p;
    if (p == start) break;  // a parenthesis, a quote: past the type's words
    const std::string word = upper(def.substr(start, p - start));
    if (kEnd.count(word)) break;
    type += (type.empty() ? "" : " ") + word;
  }
  return type;
}

// Whether a column definition (after its name) lets the column hold NULL: none of NOT NULL,
// PRIMARY KEY, GENERATED (an identity, or a generated column) among its words.
bool nullable_definition(std::string_view def) {
  std::string previous;
  for (size_t p = 0; p < def.size();) {
    if (!word_char(def[p])) {
      ++p;
      continue;
    }
    const size_t start = p;
    while (p < def.size() && word_char(def[p])) ++p;
    const std::string word = upper(def.substr(start, p - start));
    if ((previous == "NOT" && word == "NULL") || (previous == "PRIMARY" && word == "KEY") || word == "GENERATED") return false;
    previous = word;
  }
  return true;
}

// The columns a table constraint `PRIMARY KEY (a, b)` names (none for another item).
std::vector<std::string> primary_key_columns(std::string_view item) {
  std::vector<std::string> out;
  const std::string text = upper(item);
  const size_t key = text.find("PRIMARY KEY");
  size_t p = text.find_first_not_of(" \t\r\n");
  if (key == std::string::npos || p != key) return out;
  p = text.find('(', key);
  const size_t end = text.find(')', p == std::string::npos ? key : p);
  if (p == std::string::npos || end == std::string::npos) return out;
  for (++p; p < end;) {
    while (p < end && !word_char(item[p])) ++p;
    const size_t start = p;
    while (p < end && word_char(item[p])) ++p;
    if (p > start) out.emplace_back(item.substr(start, p - start));
  }
  return out;
}

// The column a definition item of CREATE TABLE makes ("" for a table constraint), and its type.
std::optional<std::pair<std::string, std::string>> column_of(std::string_view item) {
  size_t p = 0;
  while (p < item.size() && std::isspace(static_cast<unsigned char>(item[p]))) ++p;
  const size_t start = p;
  while (p < item.size() && word_char(item[p])) ++p;
  const std::string name(item.substr(start, p - start));
  static const std::set<std::string> kConstraint = {"PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT", "EXCLUDE"};
  if (name.empty() || kConstraint.count(upper(name))) return std::nullopt;
  return std::make_pair(name, declared_type(item.substr(p)));
}

}  // namespace

std::vector<SchemaPart> schema_parts(const char* const* migrations, int count) {
  std::vector<SchemaPart> parts;
  std::set<std::string> tables, columns;
  auto add = [&](const std::string& table, const std::string& column, const std::string& type, int version,
                 std::string_view def = {}) {
    if (column.empty() ? tables.insert(table).second : columns.insert(table + "." + column).second)
      parts.push_back({table, column, type, version, !column.empty() && nullable_definition(def)});
  };
  // A table constraint's PRIMARY KEY makes its columns NOT NULL (PostgreSQL).
  auto keyed = [&](const std::string& table, std::string_view item) {
    for (const std::string& column : primary_key_columns(item))
      for (SchemaPart& part : parts)
        if (part.table == table && part.column == column) part.nullable = false;
  };
  for (int i = 0; i < count; ++i) {
    const std::string_view sql = migrations[i];
    constexpr std::string_view kCreate = "CREATE TABLE ", kAlter = "ALTER TABLE ", kAdd = "ADD COLUMN ";
    for (size_t at = sql.find(kCreate); at != std::string_view::npos; at = sql.find(kCreate, at + 1)) {
      size_t p = at + kCreate.size();
      if (sql.substr(p, 14) == "IF NOT EXISTS ") continue;
      const size_t start = p;
      while (p < sql.size() && word_char(sql[p])) ++p;
      const std::string table(sql.substr(start, p - start));
      if (table.empty() || p >= sql.size() || sql[p] != '(') continue;
      add(table, "", "", i + 1);
      // The definitions up to the closing parenthesis, split at the commas outside parentheses.
      int depth = 0;
      size_t item = ++p;
      for (; p < sql.size() && depth >= 0; ++p) {
        const char c = sql[p];
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if ((c == ',' && depth == 0) || depth < 0) {
          const std::string_view def = sql.substr(item, p - item);
          if (const auto col = column_of(def)) add(table, col->first, col->second, i + 1, def.substr(def.find(col->first) + col->first.size()));
          else keyed(table, def);
          item = p + 1;
        }
      }
    }
    for (size_t at = sql.find(kAlter); at != std::string_view::npos; at = sql.find(kAlter, at + 1)) {
      size_t p = at + kAlter.size();
      const size_t start = p;
      while (p < sql.size() && word_char(sql[p])) ++p;
      const std::string table(sql.substr(start, p - start));
      const size_t end = std::min(sql.find(';', p), sql.size());
      for (size_t add_at = sql.find(kAdd, p); add_at < end; add_at = sql.find(kAdd, add_at + 1)) {
        const size_t def = add_at + kAdd.size();
        const size_t def_end = std::min(sql.find(',', def), end);
        const std::string_view text = sql.substr(def, def_end - def);
        if (const auto col = column_of(text))
          add(table, col->first, col->second, i + 1, text.substr(text.find(col->first) + col->first.size()));
      }
    }
  }
  return parts;
}

std::optional<SchemaPart> ahead_of(const std::vector<SchemaPart>& schema, int64_t stored, const SchemaColumns& present) {
  std::optional<SchemaPart> ahead;
  for (const SchemaPart& part : schema) {
    if (part.version <= stored || (ahead && part.version <= ahead->version)) continue;
    const auto table = present.find(part.table);
    if (table == present.end()) continue;
    if (part.column.empty() || table->second.count(part.column)) ahead = part;
  }
  return ahead;
}

std::string version_behind_tables(const std::string& where, int64_t stored, const SchemaPart& ahead, int current) {
  const std::string what = ahead.column.empty() ? "table " + ahead.table : "column " + ahead.table + "." + ahead.column;
  return where + ": the schema_version table says version " + std::to_string(stored) + ", but the index holds " + what +
         ", which version " + std::to_string(ahead.version) +
         " made: its version row disagrees with its tables, a damaged index; nothing in it was changed (set the row to "
         "the index's version, " + std::to_string(ahead.version) + " or later (this clapsearch writes " +
         std::to_string(current) + "), or restore the database from a backup)";
}

std::string column_damage(const std::vector<SchemaPart>& schema, const SchemaColumns& present,
                          const std::function<bool(const std::string&, const std::string&)>& same_type) {
  for (const SchemaPart& part : schema) {
    if (part.column.empty()) continue;
    const auto table = present.find(part.table);
    if (table == present.end()) continue;
    const auto column = table->second.find(part.column);
    const std::string made = part.type.empty() ? "untyped" : part.type;
    if (column == table->second.end())
      return "table " + part.table + " has no column " + part.column + " (a new index has it, " + made + ")";
    if (!same_type(part.type, column->second))
      return "table " + part.table + "'s column " + part.column + " is " + (column->second.empty() ? "untyped" : column->second) +
             " where a new index has " + made;
  }
  return "";
}

std::optional<TableColumn> unfilled_column(const std::vector<SchemaPart>& schema, const std::vector<TableColumn>& required) {
  // Only a table the migrations make: another table of the database is none of clapsearch's.
  for (const TableColumn& c : required)
    if (std::any_of(schema.begin(), schema.end(), [&](const SchemaPart& p) { return p.table == c.first && p.column.empty(); }) &&
        std::none_of(schema.begin(), schema.end(), [&](const SchemaPart& p) { return p.table == c.first && p.column == c.second; }))
      return c;
  return std::nullopt;
}

std::string unfilled_column_damage(const TableColumn& c) {
  return "table " + c.first + " has a column " + c.second +
         " that clapsearch did not make, NOT NULL with no default, which its writes leave empty (added by hand?); nothing "
         "was changed: drop it (`ALTER TABLE " + c.first + " DROP COLUMN " + c.second + "`)";
}

std::optional<TableColumn> tightened_column(const std::vector<SchemaPart>& schema, const std::vector<TableColumn>& not_null) {
  for (const TableColumn& c : not_null)
    if (std::any_of(schema.begin(), schema.end(),
                    [&](const SchemaPart& p) { return p.table == c.first && p.column == c.second && p.nullable; }))
      return c;
  return std::nullopt;
}

std::string tightened_column_damage(const TableColumn& c) {
  return "table " + c.first + "'s column " + c.second + " is NOT NULL, where clapsearch makes it nullable: a write of an " +
         "empty value there fails (made so by hand?); nothing was changed: ";
}

}  // namespace clap::store
