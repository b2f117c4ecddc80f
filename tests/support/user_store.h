// A store's users and tracks made straight through the Store interface, for the tests of what
// users keep (plays, playlists) on SQLite and PostgreSQL: a model of 4 dimensions, tracks of one
// window, users with a placeholder password. Shared by the service tests of user data.
#pragma once
#include <cstdint>
#include <string>

#include "store/store.h"

namespace clap::test {

// The model identity of these stores: "org/model", 4 dimensions.
store::ModelIdentity small_model();
// A track of 30 s at `path` whose content hash is 64 times `hash`, with one window; its id.
int64_t put_small_track(store::Store& s, const std::string& path, char hash);
// A user `name` (an administrator with `admin`); their id.
int64_t add_plain_user(store::Store& s, const std::string& name, bool admin = false);

}  // namespace clap::test
