// The error of a call the index file was replaced under (service/accounts.h, AccountsConnection).
#pragma once
#include "core/error.h"

namespace clap::service {

// A call the index file was replaced under (AccountsConnection::with): it read and wrote the file
// that was replaced, and nothing it wrote is in the index now at the name. Its own type, so that a
// caller whose write may be made twice (a play: plays are kept once per user, source, song and
// second) can make it once more in the file now at the name (the MPD radio, H19P-3).
class IndexReplacedDuringCall : public Error {
 public:
  using Error::Error;
};

}  // namespace clap::service
