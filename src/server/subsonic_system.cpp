// The system endpoints: ping, getLicense, getOpenSubsonicExtensions, tokenInfo (part of the
// apiKeyAuthentication extension: content/en/docs/Endpoints/tokeninfo.md in the spec), and
// getUser/getUsers (the user management endpoints apps read roles from).
#include "server/subsonic.h"

#include "service/accounts.h"

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

// The spec's User (openapi/schemas/User.json): apps read the roles to show or hide features
// (Symfonium, DSub, Sublime Music ask getUser right after signing in). What this server lets
// every user do is fixed: stream, download, cover art, playlists and scrobbling; settings (the
// library scan) only for an admin; no uploads, comments, podcasts, jukebox, shares or video.
// Every user sees every music folder.
ojson user_record(const Call& call, const std::string& name, bool admin) {
  ojson folders = ojson::array();
  for (const service::MusicFolder& m : call.catalog.music_folders()) folders.push_back(m.id);
  return ojson{{"username", name},        {"scrobblingEnabled", true}, {"adminRole", admin},
               {"settingsRole", admin},   {"downloadRole", true},      {"uploadRole", false},
               {"playlistRole", true},    {"coverArtRole", true},      {"commentRole", false},
               {"podcastRole", false},    {"streamRole", true},        {"jukeboxRole", false},
               {"shareRole", false},      {"videoConversionRole", false}, {"folder", folders}};
}

// getUser: "You can only retrieve your own user unless you have admin privileges" (the spec's
// page): another user's name is 50 for a user who is not an admin, 70 for an admin when no user
// has it. Names match as sign-in matches them (service::find_user).
void get_user(Call& call, ojson& body) {
  const std::string name = call.required("username");
  const auto found = service::accounts_connection(call.lib.location()).with([&](service::Accounts&, store::Store& s) {
    return service::find_user(s, name);
  });
  const bool self = found && found->id == call.user.id;
  if (!self && !call.user.admin) throw Failure{50, "user is not authorized for the given operation: another user's details"};
  if (!found) throw Failure{70, "user not found: " + name};
  body["user"] = user_record(call, found->name, found->admin);
}

// getUsers: every user, for an admin only (the spec's page).
void get_users(Call& call, ojson& body) {
  if (!call.user.admin) throw Failure{50, "user is not authorized for the given operation: only an admin may list the users"};
  const auto accounts = service::accounts_connection(call.lib.location()).with([](service::Accounts& a, store::Store&) { return a.list(); });
  ojson list = ojson::array();
  for (const service::Account& a : accounts) list.push_back(user_record(call, a.name, a.admin));
  body["users"] = ojson{{"user", list}};
}

}  // namespace

const std::vector<Endpoint>& system_endpoints() {
  static const std::vector<Endpoint> table = {
      {"ping", &ping},
      {"getLicense", &get_license},
      {"getOpenSubsonicExtensions", &get_open_subsonic_extensions},
      {"tokenInfo", &token_info},
      {"getUser", &get_user},
      {"getUsers", &get_users},
  };
  return table;
}

}  // namespace clap::server::subsonic
