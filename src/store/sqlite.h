// Thin RAII helpers over the SQLite C API for the index store: prepared statements with
// typed bind/column access, and transactions. Every failure throws clap::Error quoting
// SQLite's message and the statement.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace clap::store::sql {

// A failure reported by SQLite, with its primary result code (SQLITE_CORRUPT, SQLITE_BUSY ...)
// captured when it happened: later calls (a statement's finalize) reset the connection's code.
class SqliteError : public Error {
 public:
  SqliteError(const std::string& message, int code) : Error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The index file was replaced while it was being opened, or this process still has the file that
// was at the name open (requests reading it finish first): nothing was read or written, and
// opening again once the old file is closed succeeds. A caller that can close it (the server's
// reopen) tries again (service::AccountsConnection, hostile pass 19, R17S-2).
class ReplacedWhileOpening : public SqliteError {
 public:
  explicit ReplacedWhileOpening(const std::string& message) : SqliteError(message, SQLITE_CANTOPEN) {}
};

[[noreturn]] void fail(sqlite3* db, const std::string& what);

void exec(sqlite3* db, const std::string& sql);

// The index file of `db` (for messages) and the way out of its damage, as every damage of an
// index is reported: "; `clapsearch index DIR --db FILE --rebuild` makes a new one (...)".
std::string index_file(sqlite3* db);
std::string rebuild_advice(const std::string& file);
// Runs `read`; a DamagedIndex it throws without a location (store/rows.h: stored_seconds) is
// thrown again naming the file of `db`, with rebuild_advice.
template <class F>
auto located(sqlite3* db, F&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const DamagedIndex& e) {
    const std::string file = index_file(db);
    throw DamagedIndex(file + ": " + e.what() + rebuild_advice(file));
  }
}

// How many statements (Stmt) have been prepared in this process since it started: a test counts
// the database reads an answer makes (one per listing, not one per item listed).
uint64_t statements_prepared();
// How many rows statements have stepped to in this process: a test counts the rows an answer
// reads (an admin's listing of one user's playlists reads theirs, not everyone's).
uint64_t rows_stepped();

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Bind by 1-based index; chainable.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind_null(int i);
  Stmt& bind_blob(int i, const std::string& bytes);
  Stmt& bind_floats(int i, const float* v, size_t n);  // float32 little-endian BLOB; nullptr = NULL

  bool step();  // true while a row is available
  void run();   // step to completion (for statements without rows)
  void reset();

  int64_t int64(int col) const;
  double real(int col) const;
  // real(), but NaN for text or a blob in the column (SQLite keeps what a hand edit wrote, where
  // real() reads 'abc' as 0): a number that is damaged, not a length of 0 (R15C-2).
  double number(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;
  // A float32 little-endian BLOB of exactly `expect` values (throws if the size differs;
  // NULL gives an empty vector).
  std::string blob(int col) const;  // NULL = ""
  std::vector<float> floats(int col, int expect) const;
  // Appends the BLOB's floats to `out` (must hold `expect` values); false when NULL. With
  // `finite`, a value that is not finite is damage too, named as a wrong size is.
  bool append_floats(int col, int expect, std::vector<float>& out, bool finite = false) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  std::string sql_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(sqlite3* db, bool immediate = true);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace clap::store::sql
