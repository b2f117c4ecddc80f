#include "server/subsonic.h"

namespace clap::server::subsonic {

const std::vector<Endpoint>& media_endpoints() {
  static const std::vector<Endpoint> table = {};
  return table;
}

}  // namespace clap::server::subsonic
