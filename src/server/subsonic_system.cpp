// The system endpoints: ping, getLicense, getOpenSubsonicExtensions, and tokenInfo (part of the
// apiKeyAuthentication extension: content/en/docs/Endpoints/tokeninfo.md in the spec).
#include "server/subsonic.h"

namespace clap::server::subsonic {

const std::vector<Extension>& extensions() {
  // What getOpenSubsonicExtensions lists: only what this server implements, each at the
  // version of the extension's page in the spec.
  static const std::vector<Extension> all = {
      {"formPost", {1}},
      {"apiKeyAuthentication", {1}},  // apiKey= (subsonic_auth.cpp) and tokenInfo (below)
      {"sonicSimilarity", {1}},
      {"songLyrics", {1}},       // getLyricsBySongId (subsonic_media.cpp)
      {"transcodeOffset", {1}},  // stream's timeOffset for music (subsonic_media.cpp)
      {"topSongsByArtistId", {1}},  // getTopSongs takes an artist id (subsonic_browse.cpp)
      {"indexBasedQueue", {1}},     // getPlayQueueByIndex, savePlayQueueByIndex (subsonic_queue.cpp)
  };
  return all;
}

namespace {

void ping(Call&, ojson&) {}

void get_license(Call&, ojson& body) { body["license"] = ojson{{"valid", true}}; }

void get_open_subsonic_extensions(Call&, ojson& body) {
  ojson list = ojson::array();
  for (const Extension& e : extensions()) list.push_back(ojson{{"name", e.name}, {"versions", e.versions}});
  body["openSubsonicExtensions"] = list;
}

// tokenInfo: the user an API key belongs to, so that an app signed in with only a key can show
// and use its user name (an unknown key never gets here: authentication answers 44). The spec
// describes it for API keys; signed in with a password or token, it names that user the same way
// rather than refusing, since the question "who is this credential" has the same answer.
void token_info(Call& call, ojson& body) { body["tokenInfo"] = ojson{{"username", call.user.name}}; }

}  // namespace

const std::vector<Endpoint>& system_endpoints() {
  static const std::vector<Endpoint> table = {
      {"ping", &ping},
      {"getLicense", &get_license},
      {"getOpenSubsonicExtensions", &get_open_subsonic_extensions},
      {"tokenInfo", &token_info},
  };
  return table;
}

}  // namespace clap::server::subsonic
