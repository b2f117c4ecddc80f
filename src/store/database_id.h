// The id a PostgreSQL index's database records for its users' password key file (hostile pass 11,
// H11C-7): a function over a Store rather than a member of its interface (store.h), which every
// layer includes; only the accounts (service/accounts.cpp) and migrate need it.
//
// The key file was named after the database's URL as written, so the same database reached as
// localhost instead of 127.0.0.1 (or with another user, port or option spelling) looked for another
// file and found no key. The id lives in the database itself (meta's key_id row: 32 random hex
// digits), so every URL that reaches the database, on every machine, finds the same name.
//   * Recorded once, by the first writable open (PostgresStore::open) that finds none: a new index
//     gets it with its schema, an older one from the first `index`, `serve`, `user` or `worker`.
//   * Kept by a wipe, `index --rebuild` and a migrate that replaces the library: the users and their
//     passwords stay, so does the key they were sealed with.
//   * Not copied by `clapsearch migrate`: the copy is another database and its passwords are
//     sealed again with a key of its own (two databases never share a key file, and a new key made
//     for one never takes the other's away). A copy PostgreSQL itself makes (pg_dump and restore,
//     CREATE DATABASE ... TEMPLATE) carries the row, and so shares the key its passwords were
//     sealed with, as a copy of a SQLite index copied with its .key file does.
#pragma once
#include <optional>
#include <string>

#include "store/store.h"

namespace clap::store {

// The key id of the database behind `s`; std::nullopt for a SQLite store (its key file is beside
// its file) and for a database that records none (made by an older clapsearch and opened only
// read-only since). Throws DamagedIndex when the recorded value is not such an id.
std::optional<std::string> password_key_id(const Store& s);

}  // namespace clap::store
