#include "store/postgres.h"

#include <libpq-fe.h>

#include <atomic>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/one_line_text.h"
#include "store/rows.h"

namespace clap::store::pg {

namespace {

constexpr unsigned kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701;


// A type's name for messages, for the types a retyped column is likely to have.
std::string type_name(unsigned oid) {
  switch (oid) {
    case 25: return "text";
    case 1043: return "varchar";
    case 1700: return "numeric";
    case kBool: return "boolean";
    case kBytea: return "bytea";
    case kFloat4: return "real";
    case kFloat8: return "double precision";
    default: return "a value of type " + std::to_string(oid);
  }
}

uint64_t be(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string trimmed(const char* msg) {
  // libpq's messages may span lines ("...failed: Connection refused\n\tIs the server running..."):
  // one line for ours.
  std::string in = msg ? msg : "", m;
  while (!in.empty() && (in.back() == '\n' || in.back() == ' ')) in.pop_back();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n') {
      while (i + 1 < in.size() && (in[i + 1] == '\t' || in[i + 1] == ' ')) ++i;
      m += "; ";
    } else {
      m += in[i];
    }
  }
  return m.empty() ? "unknown error" : m;
}

// Text PostgreSQL cannot hold (issue 33: a file name need not be UTF-8, and a UTF8 database
// rejects invalid bytes and NUL): such a value - or one that starts with the escape mark, so that
// the escape stays reversible - is sent as the mark (U+0001) followed by its bytes, each byte
// outside printable ASCII, and '%', written %XX. Every other value (all an index held before) is
// sent as it is. Applied to every text parameter and undone on every text result, here only.
constexpr char kEscapeMark = '\x01';

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += len;
  }
  return true;
}

std::string escape_text(const std::string& v) {
  if ((v.empty() || v[0] != kEscapeMark) && valid_utf8(v)) return v;
  std::string out(1, kEscapeMark);
  for (unsigned char c : v) {
    if (c > 0x20 && c < 0x7F && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string unescape_text(std::string v) {
  if (v.empty() || v[0] != kEscapeMark) return v;
  std::string out;
  for (size_t i = 1; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c <= 0x20 || c >= 0x7F) return v;  // not an escaped value: as stored
    if (c != '%') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    const int hi = i + 2 < v.size() ? hex(v[i + 1]) : -1, lo = i + 2 < v.size() ? hex(v[i + 2]) : -1;
    if (hi < 0 || lo < 0) return v;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::string redact(const std::string& url) {
  std::string out = url;
  // ?password=... (or &password=...) in the query, or password=... in a key=value string.
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    size_t end = p + 9;
    while (end < out.size() && out[end] != '&' && out[end] != ' ') ++end;
    out.replace(p + 9, end - (p + 9), "***");
  }
  const size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const size_t at = out.find('@', scheme + 3);
  const size_t slash = out.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return out;
  const size_t colon = out.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return out;
  return out.substr(0, colon) + out.substr(at);
}

// --- Params ----------------------------------------------------------------------------------

Params& Params::add(int64_t v) {
  values_.push_back(std::to_string(v));
  null_.push_back(false);
  formats_.push_back(0);
  types_.push_back(0);
  return *this;
}

Params& Params::add(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  values_.push_back(buf);
  null_.push_back(false);
  formats_.push_back(0);
  types_.push_back(0);
  return *this;
}

Params& Params::add(const std::string& v) {
  values_.push_back(escape_text(v));
  null_.push_back(false);
  formats_.push_back(0);
  types_.push_back(0);
  return *this;
}

Params& Params::add_null() {
  values_.emplace_back();
  null_.push_back(true);
  formats_.push_back(0);
  types_.push_back(0);
  return *this;
}

Params& Params::add_floats(const float* v, size_t n) {
  if (!v) {
    add_null();
    types_.back() = kBytea;
    return *this;
  }
  values_.push_back(encode_embedding(v, n));
  null_.push_back(false);
  formats_.push_back(1);
  types_.push_back(kBytea);
  return *this;
}

Params& Params::add_bytes(const std::string& bytes) {
  values_.push_back(bytes);
  null_.push_back(false);
  formats_.push_back(1);
  types_.push_back(kBytea);
  return *this;
}

// --- Result ----------------------------------------------------------------------------------

Result::~Result() {
  if (r_) PQclear(r_);
}

int Result::rows() const { return PQntuples(r_); }
int Result::columns() const { return PQnfields(r_); }

int64_t Result::affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

bool Result::is_null(int row, int col) const { return PQgetisnull(r_, row, col) == 1; }

int64_t Result::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* p = PQgetvalue(r_, row, col);
  const unsigned type = PQftype(r_, col);
  if (PQfformat(r_, col) == 1) {
    const int n = PQgetlength(r_, row, col);
    if (type == kBool) return p[0] != 0;
    if (type == kInt8 || type == kInt4 || type == kInt2) {
      const uint64_t u = be(p, n);
      if (n == 8) return static_cast<int64_t>(u);
      if (n == 4) return static_cast<int32_t>(u);
      return static_cast<int16_t>(u);
    }
    if (type == kFloat8 || type == kFloat4) return static_cast<int64_t>(real(row, col));
    throw DamagedIndex(damaged("column " + std::string(PQfname(r_, col)) + " holds " + type_name(type) +
                               " where clapsearch made a number (a column retyped by hand); " + kColumnWayOut));
  }
  if (type == kBool) return p[0] == 't';
  if (type == kFloat8 || type == kFloat4) return static_cast<int64_t>(std::strtod(p, nullptr));
  return std::strtoll(p, nullptr, 10);
}

double Result::real(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* p = PQgetvalue(r_, row, col);
  const unsigned type = PQftype(r_, col);
  if (PQfformat(r_, col) == 1) {
    if (type == kFloat8) return std::bit_cast<double>(be(p, 8));
    if (type == kFloat4) return std::bit_cast<float>(static_cast<uint32_t>(be(p, 4)));
    return static_cast<double>(int64(row, col));
  }
  return std::strtod(p, nullptr);
}

std::string Result::bytes(int row, int col) const {
  const char* p = PQgetvalue(r_, row, col);
  const int n = PQgetlength(r_, row, col);
  if (PQfformat(r_, col) == 1 || PQftype(r_, col) != kBytea) return std::string(p, static_cast<size_t>(n));
  // Text bytea: hex format "\x0a1b..." (the server's default since 9.0).
  if (n < 2 || p[0] != '\\' || p[1] != 'x')
    throw Error("postgresql: bytea not in hex format (set bytea_output = hex) (" + sql_.substr(0, 80) + ")");
  std::string out(static_cast<size_t>(n - 2) / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex(p[2 + 2 * i]), lo = hex(p[3 + 2 * i]);
    if (hi < 0 || lo < 0) throw Error("postgresql: malformed bytea (" + sql_.substr(0, 80) + ")");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string Result::text(int row, int col) const {
  if (is_null(row, col)) return {};
  const unsigned type = PQftype(r_, col);
  if (type == kBytea) return bytes(row, col);
  // A number read in binary as the server writes it as text (t/f, digits, the shortest exact
  // decimal), so that text() is the same in either format: its bytes named a damaged setting in
  // messages ("embedding set 1's dim is ????" for -1; nothing at all for 0: hostile pass 11,
  // H11C-6).
  if (PQfformat(r_, col) == 1) {
    if (type == kBool) return PQgetvalue(r_, row, col)[0] ? "t" : "f";
    if (type == kInt8 || type == kInt4 || type == kInt2) return std::to_string(int64(row, col));
    if (type == kFloat8 || type == kFloat4) {
      char shown[32];
      const auto [end, ec] = std::to_chars(shown, shown + sizeof shown, real(row, col));
      return ec == std::errc() ? std::string(shown, end) : std::string();
    }
  }
  return unescape_text(bytes(row, col));
}

namespace {
// What column `col` of `r`'s row is the embedding of, for messages, by the columns of its table
// the row holds: "track N" (a track's: tracks' id, set_tracks' track_id), "track N's window K" (a
// window's, of the index or of an embedding set; "window (id W)" when the row has no idx),
// "retired track R's window K"; "" when the row does not tell (the text cache). A window's own id
// is not its track's.
std::string row_owner(const PGresult* r, int row, int col) {
  const Oid table = PQftable(r, col);
  if (table == InvalidOid) return "";
  const auto value = [&](const char* name) -> std::optional<std::string> {
    const int c = PQfnumber(r, name);
    if (c < 0 || PQftable(r, c) != table || PQgetisnull(r, row, c)) return std::nullopt;
    if (PQfformat(r, c) == 0) return std::string(PQgetvalue(r, row, c));  // the number as written
    // Binary: a big-endian integer of 2, 4 or 8 bytes.
    const int len = PQgetlength(r, row, c);
    if (len != 2 && len != 4 && len != 8) return std::nullopt;
    const auto* b = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, c));
    uint64_t v = (b[0] & 0x80) ? ~uint64_t{0} : 0;
    for (int i = 0; i < len; ++i) v = (v << 8) | b[i];
    return std::to_string(static_cast<int64_t>(v));
  };
  const std::optional<std::string> idx = value("idx"), id = value("id"), track = value("track_id"),
                                   retired = value("retired_id");
  if (retired) return "retired track " + *retired + "'s window" + (idx ? " " + *idx : "");
  if (track && (idx || id)) return "track " + *track + "'s window " + (idx ? *idx : "(id " + *id + ")");
  if (track) return "track " + *track;
  if (id && !idx) return "track " + *id;
  return "";
}
}  // namespace

namespace {
const char* const kRebuildWayOut =
    "`clapsearch index DIR --db URL --rebuild` creates the index anew (with --model, unless it was made with the default "
    "model)";
}  // namespace

std::string Result::damaged(const std::string& what) const {
  return (where_.empty() ? "" : where_ + ": ") + "the index is damaged: " + what;
}

bool Result::append_floats(int row, int col, int expect, std::vector<float>& out, bool finite) const {
  if (is_null(row, col)) return false;
  // A value of another length was written by hand or by another tool (clapsearch writes exactly
  // `expect` floats): the index is damaged, named by what the value belongs to (a track's or a
  // window's embedding), with the way out, as SqliteStore's Stmt::append_floats names it (R9C-1;
  // here it was "database: embedding of 2 bytes where 512 floats were expected (SELECT ...)":
  // hostile pass 11, H11C-5; a window's was named as its track's: issue 53).
  if (const size_t n = PQfformat(r_, col) == 1 ? static_cast<size_t>(PQgetlength(r_, row, col)) : bytes(row, col).size();
      n != static_cast<size_t>(expect) * sizeof(float)) {
    const std::string owner = row_owner(r_, row, col);
    throw DamagedIndex(damaged((owner.empty() ? std::string("an embedding") : owner + "'s embedding") +
                       " holds a blob of " + std::to_string(n) + " bytes where " + std::to_string(expect) + " floats (" +
                       std::to_string(static_cast<size_t>(expect) * sizeof(float)) +
                       " bytes) were expected; " + kRebuildWayOut));
  }
  if (PQfformat(r_, col) == 1) {
    decode_embedding(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)), expect, out,
                     sql_.substr(0, 60));
  } else {
    const std::string b = bytes(row, col);
    decode_embedding(b.data(), b.size(), expect, out, sql_.substr(0, 60));
  }
  // NaN or infinity in a value of the right size (a hand edit; R14C-1, as Stmt::append_floats).
  if (finite)
    if (const std::string why = non_finite_value(out.data() + out.size() - expect, static_cast<size_t>(expect)); !why.empty()) {
      const std::string owner = row_owner(r_, row, col);
      throw DamagedIndex(damaged((owner.empty() ? std::string("an embedding") : owner + "'s embedding") + " holds " + why +
                                 "; " + kRebuildWayOut));
    }
  return true;
}

std::vector<float> Result::floats(int row, int col, int expect) const {
  std::vector<float> out;
  append_floats(row, col, expect, out);
  return out;
}

// --- Connection ------------------------------------------------------------------------------

namespace {
// The way out of a refused connection that is the server's condition, not the URL's: libpq gives
// no SQLSTATE for a failed connection, so the server's (English) words are matched; "" for any
// other, whose libpq text stands alone. 53300 and 57P03 said only "FATAL: too many connections
// for role "x"" (hostile pass 16: a role's CONNECTION LIMIT, max_connections taken by others) or
// "the database system is shutting down", with no way out.
std::string connect_way_out(const std::string& msg) {
  if (msg.find("too many connections for role") != std::string::npos)
    return "; the role has no connection left (its CONNECTION LIMIT): close its other clients, or raise the limit "
           "(`ALTER ROLE ... CONNECTION LIMIT`), and run the command again";
  if (msg.find("too many clients already") != std::string::npos || msg.find("too many connections for database") != std::string::npos ||
      msg.find("remaining connection slots are reserved") != std::string::npos)
    return "; the server has no connection left: close other clients, or raise its max_connections (or the database's "
           "CONNECTION LIMIT), and run the command again";
  if (msg.find("the database system is shutting down") != std::string::npos ||
      msg.find("the database system is starting up") != std::string::npos ||
      msg.find("the database system is not yet accepting connections") != std::string::npos ||
      msg.find("the database system is not accepting connections") != std::string::npos ||
      msg.find("the database system is in recovery mode") != std::string::npos)
    return "; the server is shutting down or starting: run the command again once it is up";
  return "";
}
}  // namespace

Connection::Connection(const std::string& url) : url_(url), where_(redact(url)) {
  // Defaults for a connection that must notice a dead peer: a worker cut off from the network,
  // or a server that went away without closing the socket, would otherwise wait in a query for
  // the kernel's two-hour keepalive. Listed first so the URL's own parameters override them.
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {"10", "1", "30", "10", "3", "60000", url.c_str(), nullptr};
  c_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!c_) throw Error(where_ + ": cannot connect to PostgreSQL: out of memory");
  if (PQstatus(c_) != CONNECTION_OK) {
    // libpq names the host and port it tried ("connection to server at \"127.0.0.1\", port 5432
    // failed: Connection refused"); it never quotes the password.
    const std::string msg = trimmed(PQerrorMessage(c_));
    PQfinish(c_);
    c_ = nullptr;
    throw Unreachable(where_ + ": cannot connect to the PostgreSQL server: " + msg + connect_way_out(msg));
  }
  PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);  // NOTICEs are not errors
  // extra_float_digits = 3: a float8 sent as text round-trips exactly (the shortest exact text
  // on PostgreSQL 12 and later, 17 digits before) whatever the server's or database's setting;
  // with 0 (the default before 12, a setting an administrator may keep) it would lose bits.
  exec("SET client_min_messages = warning; SET bytea_output = hex; SET client_encoding = 'UTF8'; "
       "SET extra_float_digits = 3");
}

Connection::~Connection() {
  if (c_) PQfinish(c_);
}

namespace {

// The first line of a libpq message (a lost connection's runs on over tab-indented lines).
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// A condition of the server, not of the statement, in the user's words with the way out: which
// statement met a full disk tells the user nothing they can act on, and the statement made the
// message read as a fault of ours (rough15p; SQLite's full disk likewise, store/sqlite.cpp). By
// the SQLSTATE (PostgreSQL's Appendix A); "" for any other error, which keeps its statement (a
// fault of ours, to report).
std::string server_condition(const std::string& sqlstate, const std::string& said) {
  const std::string cls = sqlstate.substr(0, 2), quoted = " (" + said + ")";
  if (sqlstate == "53100")
    return "cannot write the index: the PostgreSQL server's disk is full" + quoted +
           "; free space on the server's disk (where its data folder, or the table's tablespace, is) and run the "
           "command again";
  if (sqlstate == "53200")
    return "the PostgreSQL server ran out of memory" + quoted + "; run the command again when it has memory to spare";
  if (sqlstate == "53300")
    return "the PostgreSQL server has no connection left" + quoted +
           "; close other clients, or raise its max_connections, and run the command again";
  if (sqlstate == "53400")
    return "a limit in the PostgreSQL server's settings was reached" + quoted +
           "; its administrator can raise that setting (postgresql.conf or ALTER SYSTEM)";
  if (cls == "53") return "the PostgreSQL server lacks the resources for this" + quoted + "; run the command again when it has them";
  if (cls == "58")
    return "the PostgreSQL server cannot read or write its own files" + quoted +
           ": its disk is failing or full, or its files were changed by hand; its log says more";
  if (sqlstate == "25006")
    return "cannot write the index: the PostgreSQL server takes no writes here" + quoted +
           ": a standby, or default_transaction_read_only; give --db the primary server's URL";
  if (sqlstate == "42501")
    return "the PostgreSQL user has no right to this" + quoted +
           "; connect as the owner of the index's tables, or have it GRANT the user those rights";
  if (sqlstate == "57014")
    return "the PostgreSQL server cancelled the statement" + quoted +
           ": its statement_timeout, or an administrator; run the command again (with a longer statement_timeout "
           "for this user)";
  if (sqlstate == "55P03" || sqlstate == "40P01" || sqlstate == "40001")
    return "another session of the PostgreSQL server held what this needed" + quoted + "; run the command again";
  if (cls == "57")
    return "the PostgreSQL server is shutting down or starting" + quoted + "; run the command again once it is up";
  if (cls == "08")
    return "the connection to the PostgreSQL server failed" + quoted + "; run the command again once the server is back";
  return "";
}

}  // namespace

void Connection::fail(PGresult* r, const std::string& sql) {
  std::string msg = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* where = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : nullptr;
  const std::string sqlstate = state ? state : "", said = primary ? primary : msg, context = where ? where : "";
  if (r) PQclear(r);
  // The server went away: the statement it was given is not the user's concern either.
  if (PQstatus(c_) == CONNECTION_BAD)
    throw Unreachable(where_ + ": the connection to the PostgreSQL server was lost (" + first_line(said) +
                      "); run the command again once the server is back");
  // An error raised in a procedural-language function (PL/pgSQL, PL/Python...: what a trigger
  // runs; an SQL-language function cannot be one): clapsearch makes none, so it is a trigger's made
  // by hand (a RAISE, or a statement of its that failed). Shown as "database error: ERROR: no new
  // users here CONTEXT: PL/pgSQL function refuse() line 1 at RAISE (INSERT INTO users(...) ...)":
  // the statement it stopped and no trigger or way out (hostile pass 14, R14C-3). Before the
  // column check below: a statement of the trigger's own naming a missing column is the trigger's.
  // The context lists the innermost first ("SQL statement ..." of a failed statement of its comes
  // before its "PL/pgSQL function f() line 3 at SQL statement").
  const std::string::size_type pl = context.find("PL/");
  if (const std::string::size_type at = context.find(" function ", pl); pl != std::string::npos && at != std::string::npos) {
    const std::string::size_type name = at + 10, end = context.find_first_of(" \n", name);
    const std::string function = context.substr(name, end == std::string::npos ? std::string::npos : end - name);
    // An event trigger (no table: it runs on the database's DDL, e.g. the rebuild's DROP TABLE)
    // is dropped with DROP EVENT TRIGGER; `DROP TRIGGER NAME ON TABLE` named none (hostile pass 16, R16C-2).
    std::string named, drop = "TRIGGER NAME ON TABLE";
    // Table triggers, then event triggers (their table ""): both run a function made by hand.
    std::vector<std::pair<std::string, std::string>> triggers;
    for (const auto& row : look_up_aside(
             "SELECT name, tab FROM (SELECT quote_ident(t.tgname), t.tgrelid::regclass::text FROM pg_trigger t "
             "WHERE NOT t.tgisinternal AND t.tgfoid = to_regprocedure($1) UNION ALL SELECT quote_ident(e.evtname), '' "
             "FROM pg_event_trigger e WHERE e.evtfoid = to_regprocedure($1)) AS found(name, tab) ORDER BY tab = '', tab, name",
             function))
      triggers.emplace_back(row.at(0), row.at(1));
    for (size_t t = 0; t < triggers.size() && t < 5; ++t)
      named += (t ? ", " : "") + (triggers[t].second.empty() ? "event trigger " + control_escaped(triggers[t].first)
                                                              : "trigger " + control_escaped(triggers[t].first) + " on " +
                                                                    control_escaped(triggers[t].second));
    if (triggers.size() > 5) named += ", ...";
    if (!triggers.empty())
      drop = triggers[0].second.empty() ? "EVENT TRIGGER " + triggers[0].first : "TRIGGER " + triggers[0].first + " ON " + triggers[0].second;
    throw Error(where_ + ": a trigger made by hand refused the write: " + echo_excerpt(said) + " (" +
                (named.empty() ? "" : named + ", ") + "function " + echo_excerpt(function) +
                "); that write was not made: drop the trigger (`DROP " + control_escaped(drop) +
                "`) or change it, then run the command again");
  }
  // A publication made by hand that publishes the updates or deletes of a table with no replica
  // identity (stars, ratings, bookmarks and schema_version have no primary key; `CREATE
  // PUBLICATION p FOR ALL TABLES` reaches them): the server refuses every UPDATE and DELETE of it
  // (55000), and `index --rebuild`, `user remove`, an unstar failed as "database error: ERROR:
  // cannot update table "stars" because it does not have a replica identity ..." with the
  // statement, and no publication named (hostile pass 16; pass 18).
  if (sqlstate == "55000" && said.find("does not have a replica identity") != std::string::npos) {
    const std::string::size_type open = said.find('"'), close = open == std::string::npos ? open : said.find('"', open + 1);
    const std::string table = close == std::string::npos ? "" : said.substr(open + 1, close - open - 1);
    std::vector<std::string> publications;  // quoted; those of the search path's table of that name
    for (const auto& row : look_up_aside(
             "SELECT DISTINCT quote_ident(pt.pubname) FROM pg_publication_tables pt JOIN pg_publication p ON "
             "p.pubname = pt.pubname WHERE (p.pubupdate OR p.pubdelete) AND pt.tablename = $1 AND "
             "to_regclass(format('%I.%I', pt.schemaname, pt.tablename)) = to_regclass(format('%I', $1::text)) ORDER BY 1",
             table))
      publications.push_back(row.at(0));
    std::string named;
    for (size_t i = 0; i < publications.size() && i < 5; ++i) named += (i ? ", " : "") + control_escaped(publications[i]);
    if (publications.size() > 5) named += ", ...";
    const std::string first = publications.empty() ? "NAME" : control_escaped(publications.front());
    throw Error(where_ + ": table " + control_escaped(table) + " has no replica identity, and " +
                (named.empty() ? std::string("a publication made by hand") : "publication " + named + " (made by hand)") +
                " publishes its updates and deletes, which the PostgreSQL server then refuses (" + echo_excerpt(said) +
                "); that write was not made: drop the publication (`DROP PUBLICATION " + first +
                "`), or publish only inserts (`ALTER PUBLICATION " + first + " SET (publish = 'insert')`), or give the table an "
                "identity (`ALTER TABLE " + control_escaped(table) + " REPLICA IDENTITY FULL`), then run the command again");
  }
  // clapsearch's statements name only the columns its migrations made, with their types: a
  // column that is not there (42703), or whose type no longer fits an operator or a value
  // (42883, 42804), was dropped, renamed or retyped by hand. Named as the damage, not as the
  // server's "column t.speech does not exist; LINE 1: ..." (hostile pass 11, R11C-2).
  if (sqlstate == "42703" || sqlstate == "42883" || sqlstate == "42804")
    throw DamagedIndex(where_ + ": the index is damaged: " + said + " (a column dropped, renamed or retyped by hand); " +
                       kColumnWayOut);
  if (const std::string condition = server_condition(sqlstate, said); !condition.empty()) {
    // A server shutting down or starting, or a connection failing, while libpq still counts the
    // connection good: unavailable for now, as a lost connection (a server answers 503, the
    // library reconnects), not the request's fault.
    const std::string cls = sqlstate.substr(0, 2);
    if ((cls == "57" && sqlstate != "57014") || cls == "08") throw Unreachable(where_ + ": " + condition);
    throw Error(where_ + ": " + condition);
  }
  throw Error(where_ + ": database error: " + msg + " (" + sql.substr(0, 80) + ")");
}

std::vector<std::vector<std::string>> Connection::look_up_aside(const std::string& sql, const std::string& parameter) const {
  std::vector<std::vector<std::string>> out;
  try {
    Connection look(url_);
    auto r = look.query(sql, Params().add(parameter));
    for (int i = 0; i < r.rows(); ++i) {
      std::vector<std::string>& row = out.emplace_back();
      for (int c = 0; c < r.columns(); ++c) row.push_back(r.text(i, c));
    }
  } catch (const Error&) {
    out.clear();
  }
  return out;
}

namespace {
std::atomic<uint64_t> sent{0};
}  // namespace

uint64_t statements_sent() { return sent.load(); }

const char* const kColumnWayOut =
    "put the column back as clapsearch made it (`pg_dump --schema-only` of a new index shows it), or restore the "
    "database from a backup";

void Connection::exec(const std::string& sql) {
  sent.fetch_add(1, std::memory_order_relaxed);
  PGresult* r = PQexec(c_, sql.c_str());
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
  PQclear(r);
}

Result Connection::query(const std::string& sql, const Params& params, bool binary) {
  sent.fetch_add(1, std::memory_order_relaxed);
  const int n = static_cast<int>(params.size());
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (int i = 0; i < n; ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  PGresult* r = PQexecParams(c_, sql.c_str(), n, n ? reinterpret_cast<const Oid*>(params.types_.data()) : nullptr,
                             n ? values.data() : nullptr, n ? lengths.data() : nullptr, n ? params.formats_.data() : nullptr,
                             binary ? 1 : 0);
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
  return Result(r, sql, where_);
}

bool Connection::in_transaction() const { return PQtransactionStatus(c_) != PQTRANS_IDLE; }

// A server ending a session sends its reason (FATAL 57P01 on a restart) and closes the socket:
// the first read takes the message, the second finds the end (libpq then marks it bad). Each
// read is a recv that does not wait: on a live idle session both find nothing.
bool Connection::closed_by_server() {
  if (PQstatus(c_) == CONNECTION_BAD) return true;
  if (PQtransactionStatus(c_) != PQTRANS_IDLE) return false;
  for (int read = 0; read < 2 && PQstatus(c_) == CONNECTION_OK; ++read)
    if (!PQconsumeInput(c_)) break;
  return PQstatus(c_) == CONNECTION_BAD;
}

// --- Transaction -----------------------------------------------------------------------------

Transaction::Transaction(Connection& c, const char* begin) : c_(c) { c_.exec(begin); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      c_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

}  // namespace clap::store::pg
