// Copies of one recording by the identities a media server or a player matches a song by: the
// content hash (the same bytes), the MusicBrainz recording id and the ISRC, normalised as
// service/song_resolver.h compares them. A list that must hold each recording once (the
// /api/sonic/ matches, the picks of one radio fill) asks `held` before it takes a track and
// `hold`s the track it took: a set lookup per track, never a search of the library (copies that
// only the audio tells apart are service/duplicates.h's).
#pragma once
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service/song_resolver.h"
#include "store/store.h"

namespace clap::service {

class Recordings {
 public:
  // Whether `t` is a copy of a recording held already.
  bool held(const store::Track& t) const {
    for (const std::string& key : keys(t))
      if (held_.count(key)) return true;
    return false;
  }
  void hold(const store::Track& t) {
    for (std::string& key : keys(t)) held_.insert(std::move(key));
  }

 private:
  // Each identity with a letter naming its kind: "h…", "m…", "i…".
  static std::vector<std::string> keys(const store::Track& t) {
    std::vector<std::string> out;
    const auto add = [&out](char kind, const std::string& value) {
      if (value.empty()) return;
      std::string key(1, kind);
      key.append(value);
      out.push_back(std::move(key));
    };
    add('h', t.content_hash);
    add('m', normalise_mbid(t.mbid));
    add('i', normalise_isrc(t.isrc));
    return out;
  }
  std::set<std::string> held_;
};

}  // namespace clap::service
