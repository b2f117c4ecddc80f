// What a store's connection did, and whether it still stands: functions over a Store rather than
// members of its interface (store.h), which every layer includes; only the server's accounts
// connection (service/accounts.h) needs them.
//   * rows_written (hostile pass 21, R17S-2): a call that only read may be made again on the file
//     a restore moved over the index while it ran; one that wrote may not.
//   * connection_closed (hostile pass 21, H21S-2): a PostgreSQL server restarted while the
//     connection was idle ended its session; the first call after it was refused ("the
//     connection to the PostgreSQL server was lost"), however long after the restart it came.
#pragma once
#include <cstdint>
#include <optional>

#include "store/store.h"

namespace clap::store {

// The rows written through `s`'s connection since it opened (SQLite's total_changes: every
// INSERT, UPDATE and DELETE, rolled back or not, so that a count that did not move means nothing
// was written). std::nullopt for a PostgreSQL store (no file to replace: never asked).
std::optional<int64_t> rows_written(const Store& s);

// Whether the server ended `s`'s session while it was idle (a PostgreSQL restart, an
// administrator's pg_terminate_backend): what the server sent meanwhile is read without waiting.
// Never for a session inside a transaction, nor for a SQLite store.
bool connection_closed(const Store& s);

}  // namespace clap::store
