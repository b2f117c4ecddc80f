// The system endpoints: ping, getLicense, getOpenSubsonicExtensions.
#include "server/subsonic.h"

namespace clap::server::subsonic {

const std::vector<Extension>& extensions() {
  // What getOpenSubsonicExtensions lists: only what this server implements, each at the
  // version of the extension's page in the spec.
  static const std::vector<Extension> all = {
      {"formPost", {1}},
      {"apiKeyAuthentication", {1}},
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

}  // namespace

const std::vector<Endpoint>& system_endpoints() {
  static const std::vector<Endpoint> table = {
      {"ping", &ping},
      {"getLicense", &get_license},
      {"getOpenSubsonicExtensions", &get_open_subsonic_extensions},
  };
  return table;
}

}  // namespace clap::server::subsonic
