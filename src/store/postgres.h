// Thin RAII helpers over libpq for the PostgreSQL store (like sqlite.h for SQLite): one
// connection, parameterised statements (PQexecParams; parameters in text format, embeddings as
// binary bytea; results in text or binary format), transactions. Every failure throws
// clap::Error quoting the server's message and the statement.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace clap::store::pg {

// The server cannot be reached, or the connection to it was lost: the index is unavailable for
// now (a server answers 503), whatever the request was (store::is_unavailable).
class Unreachable : public Error {
 public:
  using Error::Error;
};

// How many statements (exec, query) this process has sent to a server since it started: a test
// counts the reads an answer makes (one per listing, not one per item listed), as
// sql::statements_prepared() counts SQLite's.
uint64_t statements_sent();
// The way out of a column dropped or retyped by hand (`index --rebuild` makes missing tables
// again, not columns), found at open or by a statement that met it (not carried out).
extern const char* const kColumnWayOut;

// `url` without its password (for messages): postgresql://user:secret@host/db -> postgresql://user@host/db.
std::string redact(const std::string& url);

// The parameters of one statement, $1, $2 ... in the order added.
class Params {
 public:
  Params& add(int64_t v);
  Params& add(int v) { return add(static_cast<int64_t>(v)); }
  Params& add(double v);  // exact: 17 significant digits
  Params& add(const std::string& v);
  Params& add(const char* v) { return add(std::string(v)); }
  Params& add_null();
  Params& add_text_or_null(const std::string& v) { return v.empty() ? add_null() : add(v); }
  // float32 little-endian bytes as a binary bytea parameter (nullptr = NULL): the exact bytes
  // the SQLite store keeps in its BLOBs.
  Params& add_floats(const float* v, size_t n);
  Params& add_bytes(const std::string& bytes);  // a binary bytea parameter, as is
  size_t size() const { return values_.size(); }

 private:
  friend class Connection;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;
  std::vector<unsigned> types_;
};

// A query's rows. Accessors read text or binary results of the usual column types
// (boolean, smallint, integer, bigint, real, double precision, text, bytea).
class Result {
 public:
  // `where` names the database in the damage a value shows (Connection::where()).
  explicit Result(PGresult* r, std::string sql, std::string where = "")
      : r_(r), sql_(std::move(sql)), where_(std::move(where)) {}
  ~Result();
  Result(Result&& o) noexcept : r_(o.r_), sql_(std::move(o.sql_)), where_(std::move(o.where_)) { o.r_ = nullptr; }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const;
  int columns() const;
  int64_t affected() const;  // rows changed by INSERT/UPDATE/DELETE
  bool is_null(int row, int col) const;
  int64_t int64(int row, int col) const;  // NULL = 0
  double real(int row, int col) const;    // NULL = 0
  std::string text(int row, int col) const;  // NULL = ""; bytea: its bytes
  // A bytea of float32 little-endian values: appends exactly `expect` values (throws when the
  // size differs); false when NULL. With `finite`, a value that is not finite is damage too,
  // named as a wrong size is.
  bool append_floats(int row, int col, int expect, std::vector<float>& out, bool finite = false) const;
  std::vector<float> floats(int row, int col, int expect) const;

  // Row `i` with the accessors store/rows.h's decoders take (int64(col), text(col), ...).
  struct Row {
    const Result& r;
    int i;
    int64_t int64(int col) const { return r.int64(i, col); }
    double real(int col) const { return r.real(i, col); }
    double number(int col) const { return r.real(i, col); }  // a typed column: real() (sqlite.h's number)
    std::string text(int col) const { return r.text(i, col); }
    std::vector<float> floats(int col, int expect) const { return r.floats(i, col, expect); }
  };
  Row row(int i) const { return {*this, i}; }

 private:
  std::string bytes(int row, int col) const;
  // "URL: the index is damaged: ..." (a DamagedIndex naming the database).
  std::string damaged(const std::string& what) const;
  PGresult* r_;
  std::string sql_;
  std::string where_;
};

class Connection {
 public:
  // Connects (a postgresql:// URL or a libpq connection string). Throws clap::Error naming
  // the server (host and port) and libpq's reason, never the password.
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One or more statements without parameters.
  void exec(const std::string& sql);
  // One statement with parameters; `binary` asks for binary results.
  Result query(const std::string& sql, const Params& params = {}, bool binary = false);
  const std::string& where() const { return where_; }  // the redacted URL, for messages
  bool in_transaction() const;
  // Whether the server ended this session while it was idle (a restart, pg_terminate_backend):
  // reads what it sent meanwhile without waiting. False inside a transaction (not probed).
  bool closed_by_server();

 private:
  [[noreturn]] void fail(PGresult* r, const std::string& sql);
  // The rows (each column as text) of a catalogue query with one parameter, run on a connection
  // of its own (this one may be in a failed transaction): to name what a failure was caused by (a
  // trigger, a publication made by hand). None when they cannot be looked up: the message then
  // names less.
  std::vector<std::vector<std::string>> look_up_aside(const std::string& sql, const std::string& parameter) const;
  PGconn* c_ = nullptr;
  std::string url_;  // to look up what a failure names (look_up_aside); never shown
  std::string where_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& c, const char* begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

}  // namespace clap::store::pg
