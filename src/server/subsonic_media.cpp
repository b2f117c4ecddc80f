// The Play endpoints: stream and download (the file's bytes with Range, or transcoded to MP3 or
// Opus as it is made), getCoverArt (embedded picture or an image beside the file, scaled and
// cached), getLyrics and getLyricsBySongId (the songLyrics extension) from the lyrics tags.
//
// Only files of indexed tracks are read, found by id, each opened and checked once
// (open_track_audio: no link, inside an indexed root, the file that was indexed); the
// transcoder, the cover and the lyrics read that open descriptor, never a path from a request.
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "audio/media_unavailable.h"
#include "audio/transcode.h"
#include "core/error.h"
#include "server/api.h"
#include "server/api_request.h"
#include "server/connection.h"
#include "server/subsonic.h"
#include "service/media_files.h"
#include "store/rows.h"

namespace clap::server::subsonic {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A song's file, opened and checked; Failure 70 when the file is not served (gone, changed,
// outside the library): for a client the song's media is not found.
std::shared_ptr<int> open_song(const Call& call, const store::Track& t, size_t& size) {
  try {
    return open_track_audio(call.snap, t, size, call.options.follow_links_out);
  } catch (const HttpError& e) {
    throw Failure{70, e.error + ": " + e.detail};
  }
}

// --- stream, download ------------------------------------------------------------------------

// The transcodes running now, in all and per user (ServerOptions::max_transcodes). A user holds
// at most half of them (at least 1): a transcode lasts as long as its client takes to read it, up
// to --stream-pause more when paused, so one user's two paused streams held both of the default
// slots and every other user's transcode was refused (429) for ten minutes at a time.
class TranscodeSlots {
 public:
  static TranscodeSlots& instance() {
    static TranscodeSlots slots;
    return slots;
  }
  // Takes a slot for `user`; service::Busy when the server or the user holds their share.
  void take(int64_t user, int limit) {
    const int per_user = std::max(1, limit / 2);
    std::lock_guard lock(mutex_);
    if (total_ >= limit)
      throw service::Busy(std::to_string(limit) + " transcode(s) in progress (serve --max-transcodes); try again, or ask for format=raw");
    int& mine = per_user_[user];
    if (mine >= per_user)
      throw service::Busy("this user has " + std::to_string(mine) + " transcode(s) in progress, the most one user holds of the server's " +
                          std::to_string(limit) + " (serve --max-transcodes); try again when one ends, or ask for format=raw");
    ++mine;
    ++total_;
  }
  void give_back(int64_t user) {
    std::lock_guard lock(mutex_);
    --total_;
    if (--per_user_[user] <= 0) per_user_.erase(user);
  }

 private:
  std::mutex mutex_;
  int total_ = 0;
  std::map<int64_t, int> per_user_;
};

struct TranscodeSlot {
  explicit TranscodeSlot(int64_t user) : user(user) {}
  TranscodeSlot(const TranscodeSlot&) = delete;
  TranscodeSlot& operator=(const TranscodeSlot&) = delete;
  ~TranscodeSlot() { TranscodeSlots::instance().give_back(user); }
  int64_t user;
};

std::shared_ptr<TranscodeSlot> take_transcode_slot(int64_t user, int limit) {
  TranscodeSlots::instance().take(user, limit);
  return std::make_shared<TranscodeSlot>(user);
}

// stream's parameters, read (and refused with code 10) before the song is looked up. timeOffset
// is a Java int in Subsonic's own server and a 32-bit integer to apps: at most 2^31 - 1 seconds
// (a value past the song's end is refused when the song is known, serve_transcode).
struct StreamParams {
  std::string format;
  int64_t max_kbps = 0;
  int64_t offset_s = 0;
  bool estimate = false;
};

StreamParams stream_params(const Call& call) {
  StreamParams p;
  p.format = lower(call.param("format"));
  p.max_kbps = call.integer("maxBitRate", 0, 0, 1'000'000);
  p.offset_s = call.integer("timeOffset", 0, 0, std::numeric_limits<int32_t>::max());
  p.estimate = call.boolean("estimateContentLength", false);
  return p;
}

// What stream answers: the file as it is, or a transcode to `format` at `kbps`.
struct StreamPlan {
  bool transcode = false;
  audio::TranscodeFormat format = audio::TranscodeFormat::Mp3;
  int kbps = 0;
};

int64_t source_kbps(const store::Track& t) {
  const double s = store::known_duration_s(t.duration_s);
  return s > 0.5 ? static_cast<int64_t>(std::llround(double(t.size) * 8 / s / 1000)) : 0;
}

// The spec's rules for stream's format and maxBitRate, made exact here:
//  - format=raw: the file as it is, whatever else is asked;
//  - format mp3 or opus: that format, unless the file already is in it and no lower
//    maxBitRate applies (then the file as it is: transcoding would only lose quality);
//  - another format (the spec's "flv" example, a typo): the spec makes format a preference
//    among the transcodings a server has, so an unknown one is no preference: MP3 when a
//    transcode is needed, else the file;
//  - maxBitRate > 0 below the file's own bit rate: a transcode (to MP3 unless format says opus)
//    at that rate; 0 or at least the file's: no reason to transcode by itself, and a transcode
//    asked for otherwise runs at the format's default rate or maxBitRate, the lower;
//  - timeOffset > 0 needs a transcode (a file cannot be cut at a time as it is).
StreamPlan plan_stream(const StreamParams& asked, const store::Track& t) {
  const std::string& format = asked.format;
  const int64_t max_kbps = asked.max_kbps;
  const int64_t offset = asked.offset_s;
  StreamPlan plan;
  if (format == "raw") return plan;
  const std::string suffix = suffix_of_path(t.path);
  const int64_t own_kbps = source_kbps(t);
  const bool limit = max_kbps > 0 && (own_kbps == 0 || max_kbps < own_kbps);
  if (format == "mp3" || format == "opus") {
    plan.format = format == "mp3" ? audio::TranscodeFormat::Mp3 : audio::TranscodeFormat::Opus;
    const bool same = format == "mp3" ? suffix == "mp3" : suffix == "opus";
    plan.transcode = !same || limit || offset > 0;
  } else {
    plan.transcode = limit || offset > 0;
  }
  // A transcode never exceeds a maxBitRate given, even one above the file's own rate (the
  // format's default rate may be higher than both).
  const int fallback = audio::transcode_kbps(plan.format, 0);
  if (plan.transcode)
    plan.kbps = audio::transcode_kbps(plan.format, max_kbps > 0 ? static_cast<int>(std::min<int64_t>(max_kbps, fallback)) : 0);
  return plan;
}

void serve_transcode(Call& call, const store::Track& t, std::shared_ptr<int> file, const StreamParams& asked,
                     const StreamPlan& plan) {
  audio::TranscodeOptions o;
  o.format = plan.format;
  o.bit_rate_kbps = plan.kbps;
  o.start_s = static_cast<double>(asked.offset_s);
  const bool estimate = asked.estimate;
  o.constant_bit_rate = estimate;
  // Out of the song's range, as a currentIndex outside a queue is (code 10, the spec's rule).
  if (const double length = store::known_duration_s(t.duration_s); length > 0 && o.start_s >= length)
    throw Failure{kBadParameter, "parameter timeOffset: " + std::to_string(int64_t(o.start_s)) + " is past the song's end (" +
                         std::to_string(int64_t(length)) + " s)"};
  std::shared_ptr<TranscodeSlot> slot = take_transcode_slot(call.user.id, std::max(1, call.options.max_transcodes));
  // Opened here, before any header is sent: a file that cannot be decoded is an error envelope.
  std::shared_ptr<audio::Transcoder> transcoder;
  try {
    transcoder = std::make_shared<audio::Transcoder>(*file, call.snap.display_path(t.path), o);
  } catch (const Error& e) {
    throw Failure{0, std::string("cannot transcode: ") + e.what()};
  }
  const std::string type = audio::transcode_content_type(plan.format);
  call.res.set_header("Cache-Control", "private, max-age=60");
  // A transcode is made once, front to back: a Range of it cannot be served (a client seeks with
  // timeOffset), so the whole output is the answer, and the headers say so.
  const_cast<httplib::Request&>(call.req).ranges.clear();
  call.res.set_header("Accept-Ranges", "none");
  if (!estimate) {
    auto provider = [file, slot, transcoder](size_t, httplib::DataSink& sink) {
      bool ok = false;
      try {
        ok = transcoder->run([&sink](const uint8_t* data, size_t n) { return sink.write(reinterpret_cast<const char*>(data), n); });
      } catch (const std::exception&) {
        return false;  // headers are out: ending the connection is the only way to say it failed
      }
      if (ok) sink.done();
      return ok;
    };
    // RFC 9112 (6.1): a server MUST NOT send Transfer-Encoding in answer to an HTTP/1.0
    // request, whose client reads the chunk sizes as part of the audio (H10S-4). Its answer
    // ends where the connection does.
    if (call.req.version == "HTTP/1.0") {
      call.res.set_header("Connection", "close");
      call.res.set_content_provider(type, std::move(provider));
    } else {
      call.res.set_chunked_content_provider(type, std::move(provider));
    }
    return;
  }
  // The spec's estimateContentLength: bit rate x duration. The length is a promise to the
  // client, so the output is cut at it, or filled up to it with zero bytes (which MP3 and Ogg
  // players skip as padding).
  // MP3 at a constant rate is exactly that (+ 4 KB for its first frame's and a tag's slack); Ogg
  // adds its page headers, about 1 %: 2 % more, so a long song is padded, never cut.
  const double seconds = std::max(1.0, store::known_duration_s(t.duration_s) - o.start_s);
  const double container = plan.format == audio::TranscodeFormat::Opus ? 1.02 : 1.0;
  const auto length = static_cast<size_t>(std::ceil(seconds * plan.kbps * 1000 / 8 * container)) + 4096;
  call.res.set_content_provider(length, type, [file, slot, transcoder, length](size_t offset, size_t, httplib::DataSink& sink) {
    if (offset != 0) return false;  // one pass writes it all
    size_t sent = 0;
    try {
      transcoder->run([&](const uint8_t* data, size_t n) {
        const size_t take = std::min(n, length - sent);
        if (take > 0 && !sink.write(reinterpret_cast<const char*>(data), take)) return false;
        sent += take;
        return sent < length;
      });
    } catch (const std::exception&) {
      return false;
    }
    if (!sink.is_writable()) return false;
    static const char zeros[4096] = {};
    while (sent < length) {
      const size_t n = std::min(sizeof zeros, length - sent);
      if (!sink.write(zeros, n)) return false;
      sent += n;
    }
    return true;
  });
}

void serve_song(Call& call, bool may_transcode) {
  const std::string id = call.required("id");
  const StreamParams asked = may_transcode ? stream_params(call) : StreamParams{};
  const store::Track& t = call.song(id);
  // A player may pause it and read on where it stopped (a transcode cannot be asked for again
  // from a byte): held within the user's share of paused streams (connection.h).
  allow_pause("rest user " + call.user.name);
  const StreamPlan plan = may_transcode ? plan_stream(asked, t) : StreamPlan{};
  size_t size = 0;
  std::shared_ptr<int> file = open_song(call, t, size);
  if (plan.transcode) return serve_transcode(call, t, std::move(file), asked, plan);
  serve_file_ranges(call.req, call.res, std::move(file), size, content_type_of_path(t.path));
}

void stream(Call& call) { serve_song(call, true); }
void download(Call& call) { serve_song(call, false); }

// --- getCoverArt -----------------------------------------------------------------------------

const service::CoverCache& cover_cache() {
  static const service::CoverCache cache;  // clapsearch_cache_dir()/covers
  return cache;
}

// The tracks whose cover stands for a coverArt id, in the order they are tried: a song itself;
// an album's tracks; an artist's albums' tracks; a folder's own tracks, then its sub-folders'.
std::vector<int64_t> cover_candidates(const Call& call, const std::string& id) {
  constexpr size_t kMax = 8;  // a cover is on the first tracks if anywhere: bound the files opened
  std::vector<int64_t> out;
  const auto add = [&](const std::vector<int64_t>& tracks) {
    for (const int64_t t : tracks)
      if (out.size() < kMax) out.push_back(t);
  };
  if (const service::CatalogAlbum* a = call.catalog.album(id)) {
    add(a->tracks);
  } else if (const service::CatalogArtist* ar = call.catalog.artist(id)) {
    for (const size_t i : ar->albums) add(call.catalog.albums()[i].tracks);
  } else if (const service::CatalogFolder* f = call.catalog.folder(id)) {
    std::vector<const service::CatalogFolder*> todo = {f};
    for (size_t i = 0; i < todo.size() && out.size() < kMax && i < 64; ++i) {
      add(todo[i]->tracks);
      for (const size_t sub : todo[i]->folders) todo.push_back(&call.catalog.folders()[sub]);
    }
  } else {
    out.push_back(call.song(id).id);
  }
  return out;
}

void get_cover_art(Call& call) {
  const std::string id = call.required("id");
  const int size = static_cast<int>(call.integer("size", 0, 0, 4096));
  for (const int64_t track : cover_candidates(call, id)) {
    const store::Track* t = call.snap.track(track);
    if (!t || t->status != store::TrackStatus::Ok) continue;
    size_t bytes = 0;
    std::shared_ptr<int> file;
    try {
      file = open_track_audio(call.snap, *t, bytes, call.options.follow_links_out);
    } catch (const HttpError&) {
      continue;  // its file is not served; another track of the album may be
    }
    std::optional<service::CoverImage> cover;
    try {
      cover = service::track_cover(call.snap, *t, *file, size, cover_cache());
    } catch (const Error& e) {
      throw Failure{0, std::string("cover art of ") + id.substr(0, 80) + " cannot be read: " + e.what()};
    }
    if (!cover) continue;
    call.res.status = 200;
    call.res.set_header("Cache-Control", "private, max-age=3600");
    call.res.set_content(std::move(cover->bytes), cover->content_type);
    return;
  }
  throw Failure{70, "no cover art for " + id.substr(0, 80)};
}

// --- lyrics ----------------------------------------------------------------------------------

// The lyrics tags of a song's file; none when its file is not served or its tags cannot be read
// (an app asks for lyrics of every song it plays: "none" is the answer, not an error). When the
// server cannot load the media libraries, no file's tags can be read: said so, not "no lyrics"
// (hostile pass 21, H21S-1).
std::vector<audio::LyricsTag> lyrics_tags(const Call& call, const store::Track& t) {
  size_t size = 0;
  try {
    const std::shared_ptr<int> file = open_track_audio(call.snap, t, size, call.options.follow_links_out);
    return audio::read_lyrics(*file, call.snap.display_path(t.path));
  } catch (const HttpError&) {
    return {};
  } catch (const audio::MediaLibraryUnavailable& e) {
    throw Failure{0, std::string("the lyrics cannot be read: ") + e.what()};
  } catch (const Error&) {
    return {};
  }
}

// The title as Child shows it: the tag, else the file's name without its suffix.
std::string display_title(const Call&, const store::Track& t) {
  return t.title.empty() ? std::filesystem::path(t.path).stem().string() : t.title;
}

void get_lyrics_by_song_id(Call& call, ojson& body) {
  const store::Track& t = call.song(call.required("id"));
  call.boolean("enhanced", false);  // songLyrics version 1: main lyrics without cue lines either way
  const service::CatalogArtist* artist = call.catalog.artist_of(t.id);
  ojson list = ojson::array();
  for (const audio::LyricsTag& tag : lyrics_tags(call, t)) {
    const service::StructuredLyrics l = service::parse_lyrics(tag.text, tag.lang);
    if (l.lines.empty()) continue;
    ojson s;
    if (artist) s["displayArtist"] = artist->name;
    s["displayTitle"] = display_title(call, t);
    s["lang"] = l.lang;
    if (l.offset_ms != 0) s["offset"] = l.offset_ms;
    s["synced"] = l.synced;
    ojson lines = ojson::array();
    for (const service::LyricsLine& line : l.lines) {
      ojson j;
      if (line.start_ms) j["start"] = *line.start_ms;
      j["value"] = line.value;
      lines.push_back(j);
    }
    s["line"] = lines;
    list.push_back(s);
  }
  body["lyricsList"] = ojson{{"structuredLyrics", std::move(list)}};
}

void get_lyrics(Call& call, ojson& body) {
  const std::string artist = lower(call.param("artist")), title = lower(call.param("title"));
  ojson lyrics = ojson{{"value", ""}};
  if (!title.empty() || !artist.empty()) {
    int tried = 0;  // each candidate opens a file: a few are enough (the same song in two copies)
    for (const store::Track& t : call.snap.tracks()) {
      if (t.status != store::TrackStatus::Ok) continue;
      const service::CatalogArtist* a = call.catalog.artist_of(t.id);
      if (!title.empty() && lower(display_title(call, t)) != title) continue;
      if (!artist.empty() && lower(t.artist) != artist && !(a && lower(a->name) == artist)) continue;
      if (++tried > 8) break;
      for (const audio::LyricsTag& tag : lyrics_tags(call, t)) {
        const std::string text = service::plain_lyrics(service::parse_lyrics(tag.text, tag.lang));
        if (text.empty()) continue;
        if (a) lyrics["artist"] = a->name;
        lyrics["title"] = display_title(call, t);
        lyrics["value"] = text;
        body["lyrics"] = lyrics;
        return;
      }
    }
  }
  body["lyrics"] = lyrics;
}

}  // namespace

const std::vector<Endpoint>& media_endpoints() {
  static const std::vector<Endpoint> table = {
      {"stream", nullptr, &stream},
      {"download", nullptr, &download},
      {"getCoverArt", nullptr, &get_cover_art},
      {"getLyrics", &get_lyrics},
      {"getLyricsBySongId", &get_lyrics_by_song_id},
  };
  return table;
}

}  // namespace clap::server::subsonic
