// Placeholder until the users' accounts land: /rest/ stays off (no index has a user yet).
#include "server/subsonic.h"

namespace clap::server::subsonic {

bool rest_enabled(service::Library&) { return false; }

RestUser authenticate(const httplib::Request&, const std::string&, service::Library&) {
  throw Failure{40, "wrong username or password"};
}

}  // namespace clap::server::subsonic
