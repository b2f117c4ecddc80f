// PostgresStore's check before `index --rebuild` touches anything: a damaged column it cannot
// repair, a table it would drop that another role owns, and what was made by hand that the rebuild
// would take away without a word (foreign keys, views, triggers, rules, policies, publications,
// ...). Split from postgres_migrations.cpp (the schema and its migrations), which stays the
// schema's one source: this file reads the migrations only through migration_statements().
#include <algorithm>
#include <cctype>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/postgres_internal.h"

namespace clap::store::pg_impl {

void check_rebuildable(pg::Connection& c) {
  const SchemaColumns present = read_columns(c);
  std::vector<std::string> remade;
  for (const std::string& table : damaged_tables(present))
    if (!remade_when_damaged().count(table)) throw_column_damage(c, present, table);
    else remade.push_back(table);
  if (remade.empty()) return check_hand_made_dependents(c, remade);
  // Only a table's owner (or a member of its role) drops it: as another role, the rebuild failed
  // on raw SQL ("must be owner of table fingerprints (DROP TABLE ...)"), after its model loaded.
  std::string array = "{";
  for (const std::string& t : remade) array += (array.size() > 1 ? "," : "") + t;
  auto owners = c.query("SELECT t.n, pg_get_userbyid(cl.relowner), current_user::text FROM unnest($1::text[]) AS t(n) "
                        "JOIN pg_class cl ON cl.oid = to_regclass(t.n) WHERE NOT pg_has_role(cl.relowner, 'USAGE')",
                        pg::Params().add(array + "}"));
  if (owners.rows() > 0)
    throw Error(c.where() + ": `index --rebuild` makes table " + owners.text(0, 0) + " again, which only its owner may drop: it "
                "is owned by role " + owners.text(0, 1) + ", and --db connects as " + owners.text(0, 2) +
                "; nothing was changed: run the rebuild as " + owners.text(0, 1) + " (or `ALTER TABLE " + owners.text(0, 0) +
                " OWNER TO " + owners.text(0, 2) + "`)");
  // After the owner: a grant to the role --db connects as is one of what it names.
  check_hand_made_dependents(c, remade);
}

namespace {
// The names of the indexes the migrations make (CREATE [UNIQUE] INDEX name ON ...): another index
// on a table the rebuild makes again is one made by hand.
std::string migration_index_names() {
  std::string names = "{";
  for (const std::string_view sql : migration_statements()) {
    for (size_t at = sql.find("INDEX "); at != std::string_view::npos; at = sql.find("INDEX ", at + 1)) {
      size_t p = at + 6;
      if (sql.substr(p, 14) == "IF NOT EXISTS ") p += 14;
      const size_t start = p;
      while (p < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[p])) || sql[p] == '_')) ++p;
      if (p == start) continue;
      if (names.size() > 1) names += ',';
      names += sql.substr(start, p - start);
    }
  }
  return names + "}";
}
// The constraints the migrations make on the tables they make, each (table, definition as
// pg_get_constraintdef prints it): read from a scratch schema the migrations build in a savepoint
// that is then rolled back (the caller's transaction: nothing stays). A constraint of another
// definition on a table the rebuild makes again is one made by hand.
std::set<std::pair<std::string, std::string>> migration_constraints(pg::Connection& c) {
  const std::string scratch = "clapsearch_constraints_" + std::to_string(c.query("SELECT pg_backend_pid()").int64(0, 0));
  std::set<std::pair<std::string, std::string>> own;
  c.exec("SAVEPOINT clapsearch_constraints");
  try {
    c.exec("CREATE SCHEMA " + scratch);
    c.exec("SET LOCAL search_path TO " + scratch);
    c.exec("CREATE TABLE schema_version(version INTEGER NOT NULL)");
    for (const std::string_view sql : migration_statements()) c.exec(std::string(sql));
    // Printed while the scratch schema is the search path: a foreign key's table unqualified, as
    // the live tables' are printed with theirs.
    auto r = c.query("SELECT cl.relname::text, pg_get_constraintdef(co.oid) FROM pg_constraint co JOIN pg_class cl ON "
                     "cl.oid = co.conrelid WHERE co.connamespace = $1::regnamespace",
                     pg::Params().add(scratch));
    for (int i = 0; i < r.rows(); ++i) own.emplace(r.text(i, 0), r.text(i, 1));
  } catch (...) {
    c.exec("ROLLBACK TO SAVEPOINT clapsearch_constraints");
    throw;
  }
  // Also undoes SET LOCAL search_path.
  c.exec("ROLLBACK TO SAVEPOINT clapsearch_constraints");
  c.exec("RELEASE SAVEPOINT clapsearch_constraints");
  return own;
}
}  // namespace

void check_hand_made_dependents(pg::Connection& c, const std::vector<std::string>& remade) {
  // The tables PostgresStore::wipe deletes from (meta: all but its kept rows).
  static const std::string wiped = "{set_windows,set_tracks,embedding_sets,track_labels,fingerprints,windows,tracks,text_cache,"
                                   "roots,meta,retired_windows,retired_tracks,jobs}";
  static const std::string own_indexes = migration_index_names();
  std::string remade_array = "{";
  for (const std::string& t : remade) remade_array += (remade_array.size() > 1 ? "," : "") + t;
  remade_array += "}";
  // Another table's foreign key to a wiped table: its ON DELETE CASCADE deleted that table's rows
  // with the wipe, else the wipe failed on raw SQL; DROP TABLE ... CASCADE dropped it silently.
  // Views over a remade table and triggers on it: dropped with the table, without a word.
  // Hostile pass 16: the rest that DROP TABLE ... CASCADE took along without a word, or that the
  // wipe's DELETE reached: a trigger ON DELETE of a wiped table (it ran for every row the wipe
  // deleted: one deleting the user's own rows emptied them, as a foreign key's CASCADE did), a
  // rule (a DELETE rule on a wiped table rewrites the wipe itself; any
  // rule on a remade table, or another table's rule reading one, is dropped), a table inheriting
  // from a wiped one or a partition of it (the wipe's DELETE empties it; a remade parent drops it
  // with its rows), a column, function or type of a remade table's row type (dropped: a column with
  // its values), and on a remade table: a row-level security policy or the setting, a publication
  // naming it, extended statistics, a sequence OWNED BY a column of it, an index the migrations do
  // not make, a grant to another role, a comment. clapsearch makes none of them. Hostile pass 18:
  // a publication (FOR ALL TABLES, or naming the table) that publishes the updates or deletes of
  // one of clapsearch's tables with no replica identity (no primary key: stars, ratings,
  // bookmarks): the server refuses the rebuild's UPDATE of stars, and it failed on raw SQL.
  const std::string in_wiped = " IN (SELECT to_regclass(n) FROM unnest($1::text[]) AS t(n))";
  const std::string in_remade = " IN (SELECT to_regclass(n) FROM unnest($2::text[]) AS t(n))";
  auto r = c.query(
      "SELECT format('foreign key %s of table %s (to %s)', quote_ident(co.conname), co.conrelid::regclass, "
      "co.confrelid::regclass) FROM pg_constraint co WHERE co.contype = 'f' AND co.confrelid" + in_wiped + " AND co.conrelid NOT IN "
      "(SELECT to_regclass(n) FROM unnest($3::text[]) AS t(n) WHERE to_regclass(n) IS NOT NULL) "
      "UNION SELECT CASE WHEN rw.rulename = '_RETURN' THEN format('%s %s (over %s)', CASE v.relkind WHEN 'm' THEN "
      "'materialized view' ELSE 'view' END, v.oid::regclass, d.refobjid::regclass) ELSE format('rule %s on %s (over %s)', "
      "quote_ident(rw.rulename), v.oid::regclass, d.refobjid::regclass) END FROM pg_depend d JOIN pg_rewrite rw ON "
      "d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class WHERE v.oid <> d.refobjid "
      "AND d.refobjid" + in_remade + " "
      "UNION SELECT format('trigger %s on %s', quote_ident(tg.tgname), tg.tgrelid::regclass) FROM pg_trigger tg "
      "WHERE NOT tg.tgisinternal AND tg.tgrelid" + in_remade + " "
      "UNION SELECT format('trigger %s on %s (run by the wipe''s DELETE)', quote_ident(tg.tgname), tg.tgrelid::regclass) "
      "FROM pg_trigger tg WHERE NOT tg.tgisinternal AND (tg.tgtype & 8) <> 0 AND tg.tgrelid" + in_wiped + " AND tg.tgrelid NOT" +
      in_remade + " "
      "UNION SELECT format('rule %s on %s', quote_ident(rw.rulename), rw.ev_class::regclass) FROM pg_rewrite rw "
      "WHERE rw.rulename <> '_RETURN' AND ((rw.ev_type = '4' AND rw.ev_class" + in_wiped + ") OR rw.ev_class" + in_remade + ") "
      "UNION SELECT format('table %s (%s %s: its rows go with the wipe)', i.inhrelid::regclass, CASE WHEN k.relispartition "
      "THEN 'a partition of' ELSE 'inherits from' END, i.inhparent::regclass) FROM pg_inherits i JOIN pg_class k ON "
      "k.oid = i.inhrelid WHERE i.inhparent" + in_wiped + " "
      "UNION SELECT format('%s (of the row type of %s)', pg_describe_object(d.classid, d.objid, d.objsubid), k.oid::regclass) "
      "FROM pg_class k JOIN pg_type ty ON ty.oid = k.reltype JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND "
      "d.refobjid IN (ty.oid, ty.typarray) AND d.deptype = 'n' WHERE k.oid" + in_remade + " "
      "UNION SELECT format('row-level security policy %s on %s', quote_ident(po.polname), po.polrelid::regclass) FROM pg_policy po "
      "WHERE po.polrelid" + in_remade + " "
      "UNION SELECT format('row-level security on %s (enabled)', k.oid::regclass) FROM pg_class k WHERE k.relrowsecurity "
      "AND k.oid" + in_remade + " "
      "UNION SELECT format('publication %s (of %s)', quote_ident(pb.pubname), pr.prrelid::regclass) FROM pg_publication_rel pr "
      "JOIN pg_publication pb ON pb.oid = pr.prpubid WHERE pr.prrelid" + in_remade + " "
      "UNION SELECT format('publication %s (it publishes the updates and deletes of %s, which has no replica identity, so the "
      "server refuses the rebuild''s writes to it; or `ALTER TABLE %s REPLICA IDENTITY FULL`)', quote_ident(pt.pubname), k.oid::regclass, "
      "k.oid::regclass) FROM pg_publication_tables pt JOIN pg_publication pb ON pb.pubname = pt.pubname JOIN pg_class k ON "
      "k.oid = to_regclass(format('%I.%I', pt.schemaname, pt.tablename)) WHERE (pb.pubupdate OR pb.pubdelete) AND k.oid IN "
      "(SELECT to_regclass(n) FROM unnest($3::text[]) AS t(n) WHERE to_regclass(n) IS NOT NULL) AND (k.relreplident = 'n' OR "
      "(k.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index ix WHERE ix.indrelid = k.oid AND ix.indisprimary))) "
      "UNION SELECT format('statistics %s on %s', quote_ident(st.stxname), st.stxrelid::regclass) FROM pg_statistic_ext st "
      "WHERE st.stxrelid" + in_remade + " "
      "UNION SELECT format('sequence %s (owned by %s)', d.objid::regclass, d.refobjid::regclass) FROM pg_depend d JOIN pg_class sq "
      "ON sq.oid = d.objid AND sq.relkind = 'S' WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
      "AND d.deptype = 'a' AND d.refobjid" + in_remade + " "
      "UNION SELECT format('index %s on %s', ix.indexrelid::regclass, ix.indrelid::regclass) FROM pg_index ix JOIN pg_class ic "
      "ON ic.oid = ix.indexrelid WHERE ix.indrelid" + in_remade + " AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE "
      "co.conindid = ix.indexrelid) AND NOT ic.relname::text = ANY($4::text[]) "
      "UNION SELECT format('grant of %s on %s to %s', a.privilege_type, k.oid::regclass, CASE a.grantee WHEN 0 THEN 'PUBLIC' "
      "ELSE quote_ident(pg_get_userbyid(a.grantee)) END) FROM pg_class k, aclexplode(k.relacl) a WHERE a.grantee <> k.relowner "
      "AND k.oid" + in_remade + " "
      "UNION SELECT format('comment on %s', pg_describe_object(ds.classoid, ds.objoid, ds.objsubid)) FROM pg_description ds "
      "WHERE ds.classoid = 'pg_class'::regclass AND ds.objoid" + in_remade + " ORDER BY 1",
      pg::Params().add(wiped).add(remade_array).add(table_array()).add(own_indexes));
  std::vector<std::string> found;
  for (int i = 0; i < r.rows(); ++i) found.push_back(r.text(i, 0));
  // R16C-1 (hostile pass 16; fixed in 18): a constraint made by hand on a table made again (`ALTER
  // TABLE windows ADD CHECK (start_s >= 0)`) went with DROP TABLE without a word: the migrations'
  // own have generated names, so it is told from them by its definition.
  if (!remade.empty()) {
    const std::set<std::pair<std::string, std::string>> own = migration_constraints(c);
    auto k = c.query("SELECT cl.relname::text, pg_get_constraintdef(co.oid), format('%s constraint %s on %s (%s)', CASE "
                     "co.contype WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key' WHEN 'u' THEN 'unique' WHEN 'p' THEN "
                     "'primary key' WHEN 'x' THEN 'exclusion' ELSE 'a' END, quote_ident(co.conname), co.conrelid::regclass, "
                     "pg_get_constraintdef(co.oid)) FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid WHERE "
                     "co.contype <> 'n' AND co.conrelid IN (SELECT to_regclass(n) FROM unnest($1::text[]) AS t(n))",
                     pg::Params().add(remade_array));
    for (int i = 0; i < k.rows(); ++i)
      if (!own.count({k.text(i, 0), k.text(i, 1)})) found.push_back(k.text(i, 2));
    std::sort(found.begin(), found.end());
  }
  if (found.empty()) return;
  std::string list;
  for (size_t i = 0; i < found.size() && i < 5; ++i) list += (i ? "; " : "") + found[i];
  if (found.size() > 5) list += "; and " + std::to_string(found.size() - 5) + " more";
  // Hostile pass 15, H15C-2: the rebuild dropped a user's materialized view and another table's
  // foreign key along with a table it made again, and a foreign key ON DELETE CASCADE emptied the
  // user's own table with the wipe. Nothing is changed; the user decides what becomes of them.
  throw Error(c.where() + ": `index --rebuild` deletes every track and window" +
              (remade.empty() ? std::string() : " and makes table(s) " + remade_array.substr(1, remade_array.size() - 2) +
                                                    " again (dropping what depends on them)") +
              ", and objects made by hand depend on that: " + list +
              "; nothing was changed: drop them (revoke a grant; and make them again after the rebuild), or index into a "
              "new database");
}

}  // namespace clap::store::pg_impl
