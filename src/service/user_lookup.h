// Finding a user by name, one rule for sign-in (service/accounts.h) and every command that takes
// --user (the history, taste, mixes, the radio, eval).
#pragma once
#include <optional>
#include <string>

#include "store/store.h"

namespace clap::service {

// The exact name, else the one name equal to it ignoring ASCII case (phones capitalise "alice");
// std::nullopt: none, or several such names in an older index.
std::optional<store::UserRecord> find_user(const store::Store& store, const std::string& name);

}  // namespace clap::service
