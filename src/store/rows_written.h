// Whether a stretch of calls on one store wrote anything: the rows its connection has inserted,
// changed or deleted since it opened (hostile pass 21, R17S-2). A function over a Store rather
// than a member of its interface (store.h), which every layer includes; only the server's accounts
// connection (service/accounts.h) needs it: a call that only read may be made again on the file a
// restore moved over the index while it ran, one that wrote may not.
#pragma once
#include <cstdint>
#include <optional>

#include "store/store.h"

namespace clap::store {

// The rows written through `s`'s connection since it opened (SQLite's total_changes: every
// INSERT, UPDATE and DELETE, rolled back or not, so that a count that did not move means nothing
// was written). std::nullopt for a PostgreSQL store (no file to replace: never asked).
std::optional<int64_t> rows_written(const Store& s);

}  // namespace clap::store
