// The browse endpoints (issue 54): music folders, the folder view (getIndexes,
// getMusicDirectory), the ID3 view (getArtists, getArtist, getAlbum, getSong, getGenres),
// getTopSongs, artist and album info (similar artists from the audio), and the scan
// (getScanStatus, startScan). Album lists, random songs and search are in subsonic_lists.cpp.
//
// Everything is read from the snapshot's MusicCatalog (service/music_catalog.h), built once per
// library snapshot with its orders precomputed, so a request costs what it answers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "server/subsonic.h"
#include "service/aggregates.h"
#include "service/indexing.h"
#include "service/watching.h"

namespace clap::server::subsonic {

using service::CatalogAlbum;
using service::CatalogArtist;
using service::CatalogFolder;
using service::MusicCatalog;

ojson artist_ref(const CatalogArtist& a) { return ojson{{"id", a.id}, {"name", a.name}}; }

ojson album_child(const Call&, const CatalogAlbum& a) {
  ojson j;
  j["id"] = a.id;
  j["parent"] = a.artist_id;
  j["isDir"] = true;
  j["title"] = a.name;
  j["album"] = a.name;
  j["artist"] = a.artist;
  if (a.year > 0) j["year"] = a.year;
  if (!a.genre.empty()) j["genre"] = a.genre;
  j["coverArt"] = a.id;
  j["duration"] = whole_duration(a.duration_s);
  j["created"] = date_time(a.created);
  j["artistId"] = a.artist_id;
  j["mediaType"] = "album";
  return j;
}

int music_folder_param(const Call& call) {
  // The spec types music folder ids as integers (getMusicFolders) and this parameter as a
  // string. Ids are opaque strings: only one getMusicFolders lists names a folder, and any other
  // text ("x", "01", "+1", " 1") is a folder not found, as a song id is.
  const std::string text = call.param("musicFolderId");
  if (text.empty()) return 0;
  for (const service::MusicFolder& m : call.catalog.music_folders())
    if (text == std::to_string(m.id)) return m.id;
  throw Failure{70, "music folder not found: " + text.substr(0, 80) + " (getMusicFolders lists them)"};
}

int64_t count_param(const Call& call, const std::string& name, int64_t def, int64_t max) {
  return std::min(call.integer(name, def, 0, INT64_MAX), max);
}

namespace {

const CatalogArtist& artist_param(const Call& call, const std::string& id) {
  const CatalogArtist* a = call.catalog.artist(id);
  if (!a) throw Failure{70, "artist not found: " + id.substr(0, 80)};
  return *a;
}

const CatalogAlbum& album_param(const Call& call, const std::string& id) {
  const CatalogAlbum* a = call.catalog.album(id);
  if (!a) throw Failure{70, "album not found: " + id.substr(0, 80)};
  return *a;
}

// One letter of a lettered list (getIndexes' folders, getArtists' artists): its name and its
// items (indexes into the catalog's folders or artists), in the order they are listed.
struct Letter {
  std::string name;
  std::vector<size_t> items;
};

// The `index` array of a lettered list: one small entry a letter, whose records `make` makes as
// the answer is written (Call::lazy_list), one at a time. Built as one tree, 100,000 artists
// took some 20 times their answer's text (a 12 MB answer raised the server's peak by 230 MB,
// kept by the thread's malloc arena after the answer); now a list costs 8 bytes an item.
ojson letter_index(const Call& call, std::vector<Letter> letters, const std::function<ojson(size_t)>& make) {
  ojson index = ojson::array();
  for (Letter& l : letters) {
    const size_t count = l.items.size();  // before the move below
    index.push_back(ojson{{"name", l.name}, {"artist", call.lazy_list(count, [make, items = std::move(l.items)](size_t k) { return make(items[k]); })}});
  }
  return index;
}

// --- folders ---------------------------------------------------------------------------------

void get_music_folders(Call& call, ojson& body) {
  ojson list = ojson::array();
  for (const service::MusicFolder& m : call.catalog.music_folders()) list.push_back(ojson{{"id", m.id}, {"name", m.name}});
  body["musicFolders"] = ojson{{"musicFolder", std::move(list)}};
}

// The folder view's top: the folders right under each music folder's root, indexed by letter
// like artists (apps show them as artists), and the files in a root itself as `child`.
void get_indexes(Call& call, ojson& body) {
  const int only = music_folder_param(call);
  // Milliseconds, as the spec's ifModifiedSince is: when the collection last changed.
  const int64_t last_modified = call.catalog.last_modified() * 1000;
  const int64_t since = call.integer("ifModifiedSince", -1, LLONG_MIN, LLONG_MAX);
  ojson indexes = {{"ignoredArticles", MusicCatalog::ignored_articles()}, {"lastModified", last_modified}};
  if (since >= 0 && since >= last_modified) {  // nothing changed: the app keeps what it has
    body["indexes"] = indexes;
    return;
  }
  struct Entry {
    std::string letter, key;
    size_t folder;  // in catalog.folders()
  };
  std::vector<Entry> entries;
  std::vector<const store::Track*> songs;  // the roots' own files: each Child made as it is written
  for (const service::MusicFolder& m : call.catalog.music_folders()) {
    if (only != 0 && m.id != only) continue;
    const CatalogFolder& root = call.catalog.folders()[m.folder];
    for (const size_t sub : root.folders) {
      const CatalogFolder& f = call.catalog.folders()[sub];
      auto [letter, key] = MusicCatalog::index_key(f.name);
      entries.push_back({letter, key, sub});
    }
    for (const int64_t id : root.tracks)
      if (const store::Track* t = call.snap.track(id)) songs.push_back(t);
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.letter != b.letter ? a.letter < b.letter : a.key < b.key;
  });
  std::vector<Letter> letters;
  for (const Entry& e : entries) {
    if (letters.empty() || letters.back().name != e.letter) letters.push_back({e.letter, {}});
    letters.back().items.push_back(e.folder);
  }
  entries = {};
  indexes["index"] = letter_index(call, std::move(letters), [&call](size_t folder) {
    const CatalogFolder& f = call.catalog.folders()[folder];
    return ojson{{"id", f.id}, {"name", f.name}};
  });
  const size_t count = songs.size();  // before the move below (arguments are evaluated in any order)
  indexes["child"] = call.lazy_list(count, [&call, songs = std::move(songs)](size_t i) { return child(call, *songs[i]); });
  body["indexes"] = std::move(indexes);
}

// A folder's id opens the folder; an album's (getAlbumList and search2 list albums as
// directories) its songs; an artist's its albums.
void get_music_directory(Call& call, ojson& body) {
  const std::string id = call.required("id");
  if (const CatalogFolder* f = call.catalog.folder(id)) {
    body["directory"] = directory(call, *f);
  } else if (const CatalogAlbum* a = call.catalog.album(id)) {
    body["directory"] = ojson{{"id", a->id}, {"parent", a->artist_id}, {"name", a->name}, {"child", song_list(call, a->tracks)}};
  } else if (const CatalogArtist* ar = call.catalog.artist(id)) {
    // An artist's albums, each made as it is written: a "Various Artists" can hold thousands.
    body["directory"] = ojson{{"id", ar->id},
                              {"name", ar->name},
                              {"child", call.lazy_list(ar->albums.size(), [&call, ar](size_t k) {
                                 return album_child(call, call.catalog.albums()[ar->albums[k]]);
                               })}};
  } else {
    throw Failure{70, "directory not found: " + id.substr(0, 80)};
  }
}

// --- the ID3 view ------------------------------------------------------------------------------

void get_artists(Call& call, ojson& body) {
  const int only = music_folder_param(call);
  const MusicCatalog& c = call.catalog;
  std::vector<Letter> letters;
  for (const size_t i : c.artists_indexed()) {
    if (only != 0 && !c.artist_in(i, only)) continue;
    if (letters.empty() || letters.back().name != c.artist_letter(i)) letters.push_back({c.artist_letter(i), {}});
    letters.back().items.push_back(i);
  }
  const ojson index = letter_index(call, std::move(letters), [&call](size_t artist) { return artist_id3(call, call.catalog.artists()[artist]); });
  body["artists"] = ojson{{"ignoredArticles", MusicCatalog::ignored_articles()}, {"index", index}};
}

void get_artist(Call& call, ojson& body) {
  const CatalogArtist& a = artist_param(call, call.required("id"));
  ojson j = artist_id3(call, a);
  j["album"] = call.lazy_list(a.albums.size(), [&call, &a](size_t k) { return album_id3(call, call.catalog.albums()[a.albums[k]]); });
  body["artist"] = j;
}

void get_album(Call& call, ojson& body) {
  const CatalogAlbum& a = album_param(call, call.required("id"));
  ojson j = album_id3(call, a);
  j["song"] = song_list(call, a.tracks);  // an untagged folder of 100,000 files is one album
  body["album"] = std::move(j);
}

void get_song(Call& call, ojson& body) { body["song"] = child(call, call.song(call.required("id"))); }

void get_genres(Call& call, ojson& body) {
  ojson list = ojson::array();
  for (const service::CatalogGenre& g : call.catalog.genres())
    list.push_back(ojson{{"value", g.name}, {"songCount", g.songs}, {"albumCount", g.albums}});
  body["genres"] = ojson{{"genre", std::move(list)}};
}

// Without play counts (last.fm's, or the server's own: the user-data hook, scrobble, is where
// they will come from) an artist's "top" songs are its songs in the catalog's order: album by
// album (by year, then name), each album's by track number. `id` (the topSongsByArtistId
// extension) wins over `artist` (a name, compared as normalise_name compares it).
void get_top_songs(Call& call, ojson& body) {
  const int64_t count = count_param(call, "count", 50, call.options.max_list_items);
  const CatalogArtist* a = nullptr;
  if (call.has("id") && !call.param("id").empty()) {
    a = &artist_param(call, call.param("id"));
  } else {
    // A name no artist has is an empty list, not an error: the app asked by name, as last.fm's
    // answer would have been empty too.
    a = call.catalog.artist(MusicCatalog::artist_id(call.required("artist")));
  }
  // Made as the answer is written (song_list), so that 5,000 songs take a long answer's turn
  // (H10S-2: built as one tree, 16 at once held 16 trees).
  std::vector<int64_t> ids;
  if (a)
    for (const int64_t id : call.catalog.artist_songs(call.catalog.position_of(*a))) {
      if (static_cast<int64_t>(ids.size()) >= count) break;
      if (call.snap.track(id)) ids.push_back(id);
    }
  body["topSongs"] = ojson{{"song", song_list(call, ids)}};
}

// --- artist and album info -------------------------------------------------------------------

// The artists nearest in sound (service/aggregates.h: the mean of each artist's track
// embeddings), `count` of them. An artist without an embedded track has none.
std::vector<const CatalogArtist*> similar_artists(const Call& call, const CatalogArtist& a, int64_t count) {
  std::vector<const CatalogArtist*> out;
  if (count == 0) return out;
  std::vector<service::GroupHit> hits;
  try {
    hits = service::similar_groups(call.snap, service::GroupKind::Artist, a.name, "", count);
  } catch (const clap::Error&) {
    return out;  // not embedded yet (or nothing searchable): no similar artists, not a failure
  }
  for (const service::GroupHit& h : hits)
    if (const CatalogArtist* s = call.catalog.artist(MusicCatalog::artist_id(h.name)); s && s != &a) out.push_back(s);
  return out;
}

void artist_info(Call& call, ojson& body, bool id3) {
  const CatalogArtist& a = artist_param(call, call.required("id"));
  const int64_t count = count_param(call, "count", 20, call.options.max_list_items);
  call.boolean("includeNotPresent", false);  // every artist we know is present: checked, nothing to add
  ojson similar = ojson::array();
  for (const CatalogArtist* s : similar_artists(call, a, count)) similar.push_back(id3 ? artist_id3(call, *s) : artist_ref(*s));
  // No biography or links: clapsearch has no source for them (it never goes online).
  body[id3 ? "artistInfo2" : "artistInfo"] = ojson{{"biography", ""}, {"musicBrainzId", ""}, {"similarArtist", similar}};
}

void get_artist_info(Call& call, ojson& body) { artist_info(call, body, false); }
void get_artist_info2(Call& call, ojson& body) { artist_info(call, body, true); }

// Album info by album id (or a song's id: its album, as apps ask from a playing song).
void get_album_info(Call& call, ojson& body) {
  const std::string id = call.required("id");
  if (!call.catalog.album(id)) {
    const int64_t track = MusicCatalog::track_of_song_id(id);
    if (track < 0 || !call.catalog.album_of(track)) throw Failure{70, "album not found: " + id.substr(0, 80)};
  }
  body["albumInfo"] = ojson{{"notes", ""}, {"musicBrainzId", ""}};
}

// --- the scan --------------------------------------------------------------------------------

// One scan at a time in this process: an index pass of the library's folders (the index's own
// model and settings, like `serve --watch`), on a thread of its own, niced so that answering
// comes first. New tracks reach the answers through the server's refresh of its snapshot.
class Scanner {
 public:
  ~Scanner() {
    stop_ = true;  // the run is abandoned between two files (every finished file is stored)
    if (thread_.joinable()) thread_.join();
  }

  bool scanning() const { return scanning_; }
  int64_t count() const { return count_; }

  // Starts a scan unless one runs (then it is that scan the caller sees).
  void start(service::IndexRequest request, std::function<void(const std::string&)> log) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (scanning_) return;
    if (thread_.joinable()) thread_.join();  // the previous scan's thread, finished
    scanning_ = true;
    count_ = 0;
    thread_ = std::thread([this, request = std::move(request), log = std::move(log)] {
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);  // its model threads inherit it
      index::IndexCallbacks callbacks;
      callbacks.progress = [this](const index::IndexProgress& p) {
        if (stop_) throw service::WatchStopped();
        if (p.pass != 0) count_ = p.files_done;  // files scanned, not the packet hashes' catch-up
      };
      try {
        const service::IndexRun run = service::run_index(request, callbacks, [&log](const std::string& w) {
          if (log) log("startScan: warning: " + w);
        });
        if (log)
          log("startScan: done (" + std::to_string(run.summary.indexed) + " indexed, " +
              std::to_string(run.summary.unchanged) + " unchanged)");
      } catch (const service::WatchStopped&) {
      } catch (const std::exception& e) {
        if (log) log(std::string("startScan: failed: ") + e.what());
      }
      scanning_ = false;
    });
  }

 private:
  std::mutex mutex_;
  std::thread thread_;
  std::atomic<bool> scanning_{false}, stop_{false};
  std::atomic<int64_t> count_{0};
};

Scanner& scanner() {
  static Scanner s;
  return s;
}

// count: while scanning, the files this scan has read so far; otherwise the songs the library
// holds (what the last scan found), as apps show it.
ojson scan_status(const Call& call) {
  const bool scanning = scanner().scanning();
  return ojson{{"scanning", scanning},
               {"count", scanning ? scanner().count() : static_cast<int64_t>(call.catalog.songs().size())}};
}

void get_scan_status(Call& call, ojson& body) { body["scanStatus"] = scan_status(call); }

// The spec gives startScan no role rule; a scan reads every file and runs the model for hours on
// a large library, so only an admin starts one (as Navidrome rules), others get 50.
void start_scan(Call& call, ojson& body) {
  if (!call.user.admin) throw Failure{50, "only an admin user may start a scan"};
  service::IndexRequest request;
  // Only the folders that are there (as `serve --watch` runs): a drive not mounted is left alone,
  // its tracks kept, rather than read as every file of it gone.
  std::string missing;
  for (const std::string& root : call.snap.roots()) {
    std::error_code ec;
    if (std::filesystem::is_directory(root, ec)) request.dirs.push_back(root);
    else missing += (missing.empty() ? "" : ", ") + root;
  }
  if (call.snap.roots().empty()) throw Failure{0, "the index has no folder to scan (index one with: clapsearch index DIR)"};
  // The paths go to the server's log, not to the app (answers never say where the library lives).
  if (!missing.empty() && call.options.log) call.options.log("startScan: not there, left out of the scan: " + missing);
  if (request.dirs.empty()) throw Failure{0, "no folder of the library is there to scan (the server's log names them)"};
  request.db = call.snap.db_path();
  request.threads = call.options.threads;
  request.quiet = true;  // the model and settings are the index's own
  scanner().start(std::move(request), call.options.log);
  body["scanStatus"] = ojson{{"scanning", true}, {"count", scanner().count()}};
}

}  // namespace

const std::vector<Endpoint>& browse_endpoints() {
  static const std::vector<Endpoint> table = {
      {"getMusicFolders", &get_music_folders},
      {"getIndexes", &get_indexes},
      {"getMusicDirectory", &get_music_directory},
      {"getArtists", &get_artists},
      {"getArtist", &get_artist},
      {"getAlbum", &get_album},
      {"getSong", &get_song},
      {"getGenres", &get_genres},
      {"getTopSongs", &get_top_songs},
      {"getArtistInfo", &get_artist_info},
      {"getArtistInfo2", &get_artist_info2},
      {"getAlbumInfo", &get_album_info},
      {"getAlbumInfo2", &get_album_info},
      {"getScanStatus", &get_scan_status},
      {"startScan", &start_scan},
  };
  return table;
}

}  // namespace clap::server::subsonic
