// The "For you" routes (issue 55): the index's users, a user's taste centres and the daily mixes
// `clapsearch mix` saved for them, as the page's For you view shows them. The logic is the
// service's (service/for_you.h); who may read a user's history here: docs/security.md, "Users'
// listening histories".

#include <httplib.h>

#include "core/error.h"
#include "core/utc_time.h"
#include "server/api.h"
#include "server/api_request.h"
#include "service/accounts.h"
#include "service/for_you.h"

namespace clap::server {

using service::json_num;
using service::ojson;

namespace {

// How the API takes a user (named in the error when several users leave the choice open).
constexpr const char* kChooseUser = "?user=NAME";

// ?user=NAME: a text (a blank one is a 400); absent: "" (the index's only user).
std::string user_param(const httplib::Request& req) {
  return req.has_param("user") ? text_value("user", req.get_param_value("user")) : "";
}

// Runs `read` (a service call naming the user) with its refusals as the API answers them: no
// such user (or none at all) 404, several users and none named 400.
template <class Read>
auto for_user(const Read& read) {
  try {
    return read();
  } catch (const service::NoSuchUser& e) {
    throw HttpError{404, "unknown user", std::string("user: ") + e.what()};
  } catch (const InvalidArgument& e) {
    throw HttpError{400, "bad parameter", std::string("user: ") + e.what()};
  }
}

// A song as the For you view lists it: enough to show and play it.
ojson song_record(const service::LibrarySnapshot& snap, const store::Track& t) {
  return {{"track_id", t.id},
          {"display_path", snap.display_path(t.path)},
          {"title", t.title},
          {"artist", t.artist},
          {"album", t.album},
          {"genre", t.genre},
          {"duration_s", json_num(t.duration_s)},
          {"audio_url", audio_url(t.id)}};
}

ojson named_weights(const std::vector<std::pair<std::string, double>>& v) {
  ojson a = ojson::array();
  for (const auto& [name, w] : v) a.push_back({{"name", name}, {"weight", json_num(w)}});
  return a;
}

}  // namespace

void Api::users(const httplib::Request&, httplib::Response& res) {
  const std::vector<store::UserRecord> all = service::accounts_connection(lib().location()).with(
      [](service::Accounts&, store::Store& s) { return s.users(); });
  ojson names = ojson::array();
  for (const store::UserRecord& u : all) names.push_back(u.name);
  send(res, {{"users", names}, {"default", all.size() == 1 ? ojson(all[0].name) : ojson(nullptr)}});
}

void Api::taste(const httplib::Request& req, httplib::Response& res) {
  const std::string user = user_param(req);
  service::TasteOptions options;
  options.nearest = int_param(req, "nearest", 10, 0, 100);
  options.max_centres = int_param(req, "max_centres", 8, 1, 16);
  options.half_life_days = num_param(req, "half_life", 90, service::kMinHalfLifeDays, service::kMaxHalfLifeDays);
  const auto snap = lib().snapshot();
  options.rules = music_only({}, req, options_.exclude, *snap);
  const service::UserTaste u = for_user([&] {
    return service::user_taste(lib(), *snap, service::accounts_connection(lib().location()), user, kChooseUser, options);
  });
  ojson centres = ojson::array();
  for (const service::TasteCentre& c : u.taste.centres) {
    ojson songs = ojson::array();
    for (const auto& [id, cosine] : c.nearest) {
      const store::Track* t = snap->track(id);
      if (!t) continue;
      ojson s = song_record(*snap, *t);
      s["score"] = json_num(cosine);
      const auto h = u.taste.tracks.find(id);
      s["plays"] = h == u.taste.tracks.end() ? 0 : h->second.plays;
      songs.push_back(s);
    }
    ojson map = nullptr;
    if (const auto at = service::map_position(*snap, c.vector)) map = {{"x", json_num(at->x)}, {"y", json_num(at->y)}};
    centres.push_back({{"label", c.label},
                       {"weight", json_num(c.weight)},
                       {"size", c.members.size()},
                       {"pushed", c.pushed.size()},
                       {"top_artists", named_weights(c.top_artists)},
                       {"top_genres", named_weights(c.top_genres)},
                       {"map", map},
                       {"tracks", songs}});
  }
  send(res, {{"user", u.user.name},
             {"plays", u.plays},
             {"unresolved", u.unresolved},
             {"label_note", u.label_note},
             {"centres", centres}});
}

void Api::mixes(const httplib::Request& req, httplib::Response& res) {
  const std::string user = user_param(req);
  const auto snap = lib().snapshot();
  store::UserRecord who;
  const std::vector<service::StoredMix> mixes = for_user([&] {
    return service::stored_mixes(service::accounts_connection(lib().location()), *snap, user, kChooseUser, &who);
  });
  ojson list = ojson::array();
  for (const service::StoredMix& m : mixes) {
    ojson songs = ojson::array();
    for (const service::StoredMixSong& s : m.songs) {
      ojson j = song_record(*snap, *snap->track(s.track_id));
      j["reason"] = s.reason;
      songs.push_back(j);
    }
    list.push_back({{"playlist_id", m.playlist_id},
                    {"name", m.name},
                    {"about", m.about},
                    {"made_at", utc_date_time(m.made_at)},
                    {"missing", m.missing},
                    {"tracks", songs}});
  }
  send(res, {{"user", who.name}, {"mixes", list}});
}

}  // namespace clap::server
