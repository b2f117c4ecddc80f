// `clapsearch bench --serve-tracks N --subsonic`: the Subsonic API (/rest/) of a server over a
// synthetic library (load_bench.cpp makes it): what an app's screens and a phone's sync ask for,
// timed per request at 1 and more clients, as issue 54 states its targets (docs/performance.md).
#include <sys/stat.h>

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bench/load_bench.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/vector_math.h"
#include "service/accounts.h"
#include "bench/vector_bench.h"

namespace clap::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUser = "bench";
constexpr const char* kPassword = "bench-password";
constexpr int kFiles = 8;  // real files for the stream and cover levels

// A 20 s, 44.1 kHz mono 16-bit WAV of a tone: a real file the server streams.
std::string tone_wav(int n) {
  const int rate = 44100;
  std::vector<int16_t> samples(20 * rate);
  for (size_t i = 0; i < samples.size(); ++i)
    samples[i] = static_cast<int16_t>(std::lround(0.3 * 32767 * std::sin(2 * M_PI * (220.0 + 40 * n) * double(i) / rate)));
  return mono_wav(samples, rate);
}

uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (const unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A 512 x 512 RGB PNG (a gradient), written with stored (uncompressed) deflate blocks: a cover
// the server decodes and scales like any other.
std::string cover_png() {
  const int w = 512, h = 512;
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < w; ++x) raw += static_cast<char>(x / 2), raw += static_cast<char>(y / 2), raw += static_cast<char>(128);
  }
  std::string z = "\x78\x01";
  uint32_t a = 1, b = 0;
  for (const unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  for (size_t at = 0; at < raw.size(); at += 65535) {
    const uint16_t len = static_cast<uint16_t>(std::min<size_t>(65535, raw.size() - at));
    z += static_cast<char>(at + len >= raw.size() ? 1 : 0);
    z += static_cast<char>(len & 0xff), z += static_cast<char>(len >> 8);
    z += static_cast<char>(~len & 0xff), z += static_cast<char>((~len >> 8) & 0xff);
    z += raw.substr(at, len);
  }
  const uint32_t adler = (b << 16) | a;
  for (int s = 24; s >= 0; s -= 8) z += static_cast<char>((adler >> s) & 0xff);
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
    return s;
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
  };
  std::string ihdr = be32(w) + be32(h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", "");
}

// The plain password (p=): the server decrypts the stored password for either scheme, and the
// token scheme adds only an MD5 of a few bytes.
std::string auth() { return std::string("u=") + kUser + "&p=" + kPassword + "&v=1.16.1&c=bench&f=json"; }

// `plays` plays of the synthetic tracks by `user`, three minutes apart, one in ten a skip: a third
// of them on 300 favourite tracks, the rest spread over the library (a long history's shape).
void add_history(const std::string& db, int64_t user, int64_t plays) {
  auto st = store::open_store(db, store::OpenMode::ReadWrite);
  const std::vector<store::Track> tracks = st->tracks();
  std::vector<const store::Track*> by_id;
  for (const store::Track& t : tracks) by_id.push_back(&t);
  std::sort(by_id.begin(), by_id.end(), [](const store::Track* a, const store::Track* b) { return a->id < b->id; });
  const uint64_t n = by_id.size();
  for (int64_t i = 0; i < plays; ++i) {
    const uint64_t pick = i % 3 == 0 ? (static_cast<uint64_t>(i) * 7919) % std::min<uint64_t>(n, 300)
                                     : (static_cast<uint64_t>(i) * 2654435761u) % n;
    store::PlayRecord p;
    p.user_id = user;
    p.song = {by_id[pick]->id, by_id[pick]->content_hash, by_id[pick]->path};
    p.played_at = 1700000000 + i * 180;
    p.skipped = i % 10 == 9;
    p.source = "bench";
    st->add_play(p);
  }
}

}  // namespace

void add_subsonic_library(const std::string& db, const std::string& dir, const store::ModelIdentity& identity,
                          int64_t plays) {
  const std::string audio = fs::weakly_canonical(dir + "/audio").string();
  fs::create_directories(audio);
  auto st = store::open_store(db, store::OpenMode::ReadWrite);
  st->add_roots({audio});
  std::ofstream(audio + "/cover.png", std::ios::binary) << cover_png();
  search::SyntheticData data;
  data.windows_per_track = 4;
  const std::vector<float> all = search::synthetic_embeddings(kFiles * 4, identity.dim, data, 7);
  for (int n = 0; n < kFiles; ++n) {
    store::Track t;
    t.path = audio + "/tone" + std::to_string(n) + ".wav";
    const std::string bytes = tone_wav(n);
    std::ofstream(t.path, std::ios::binary) << bytes;
    struct stat file {};
    if (::stat(t.path.c_str(), &file) != 0) throw Error("bench --subsonic: cannot write " + t.path);
    t.size = static_cast<int64_t>(bytes.size());
    // As the indexer records them: the server streams a file only while it is the one indexed.
    t.mtime_ns = int64_t{file.st_mtim.tv_sec} * 1000000000 + file.st_mtim.tv_nsec;
    t.ctime_ns = int64_t{file.st_ctim.tv_sec} * 1000000000 + file.st_ctim.tv_nsec;
    t.content_hash = sha256_hex(bytes);
    t.title = "Tone " + std::to_string(n);
    t.artist = "Bench Tones";
    t.album = "Tones";
    t.duration_s = 20;
    std::vector<store::WindowRecord> ws(4);
    const float* e = all.data() + static_cast<size_t>(n) * 4 * identity.dim;
    for (int w = 0; w < 4; ++w) {
      ws[w].idx = w;
      ws[w].start_s = 5.0 * w;
      ws[w].end_s = 5.0 * w + 10;
      ws[w].embedding.assign(e + w * identity.dim, e + (w + 1) * identity.dim);
    }
    const std::vector<float> te = track_embedding(4, identity.dim, e, nullptr);
    st->put_track(t, ws, te.data());
  }
  st.reset();
  const int64_t user = service::add_user(db, kUser, kPassword, true);
  if (plays > 0) add_history(db, user, plays);
}

void run_subsonic_levels(int port, int64_t tracks, const LoadBenchOptions& o, LoadBenchReport& report) {
  const std::string a = auth();
  httplib::Client probe("127.0.0.1", port);
  probe.set_read_timeout(120, 0);
  // Every level's request must work before it is timed (a refused request would time errors).
  auto must = [&probe](const std::string& path) {
    const auto r = probe.Get(path);
    if (!r || r->status != 200 || r->body.find("\"status\":\"failed\"") != std::string::npos)
      throw Error("bench --subsonic: " + path + " failed: " + (r ? r->body.substr(0, 300) : std::string("no answer")));
    return r->body;
  };
  must("/rest/ping?" + a);
  // The real files' song ids: the tracks after the synthetic ones.
  const std::string found = must("/rest/search3?" + a + "&query=Tone&songCount=20&artistCount=0&albumCount=0");
  std::vector<std::string> files;
  for (size_t at = found.find("\"id\":\""); at != std::string::npos; at = found.find("\"id\":\"", at + 1)) {
    const size_t start = at + 6, end = found.find('"', start);
    const std::string id = found.substr(start, end - start);
    if (id.find('-') == std::string::npos && std::find(files.begin(), files.end(), id) == files.end()) files.push_back(id);
  }
  if (files.empty()) throw Error("bench --subsonic: the real files are not in the library");
  must("/rest/getCoverArt?" + a + "&id=" + files[0] + "&size=300");  // made once, then from the cache
  const int64_t synthetic = tracks;

  struct Level {
    const char* kind;
    std::function<std::string(int, int64_t)> path;
  };
  const std::vector<Level> levels = {
      {"getAlbumList2 50", [&a, synthetic](int c, int64_t i) {
         const int64_t offset = ((i * 131 + c * 17) * 50) % std::max<int64_t>(1, synthetic / 12);
         return "/rest/getAlbumList2?" + a + "&type=alphabeticalByName&size=50&offset=" + std::to_string(offset);
       }},
      {"search3 (a word)", [&a](int c, int64_t i) {
         return "/rest/search3?" + a + "&query=track%20" + std::to_string((i * 7 + c) % 1000) + "&songCount=20";
       }},
      {"search3 \"\" (sync page)", [&a, synthetic](int c, int64_t i) {
         const int64_t offset = ((i * 37 + c * 11) * 500) % std::max<int64_t>(1, synthetic);
         return "/rest/search3?" + a + "&query=%22%22&artistCount=0&albumCount=0&songCount=500&songOffset=" + std::to_string(offset);
       }},
      {"getArtists", [&a](int, int64_t) { return "/rest/getArtists?" + a; }},
      {"getSonicSimilarTracks", [&a, synthetic](int c, int64_t i) {
         return "/rest/getSonicSimilarTracks?" + a + "&count=10&id=" + std::to_string(1 + (i * 7919 + c * 104729) % synthetic);
       }},
      {"getCoverArt 300, cached", [&a, &files](int, int64_t) { return "/rest/getCoverArt?" + a + "&id=" + files[0] + "&size=300"; }},
  };
  for (const Level& level : levels) {
    must(level.path(0, 0));
    for (int clients : o.clients) {
      report.levels.push_back(drive_load(level.kind, port, clients, o.seconds, [&level](httplib::Client& cl, int c, int64_t i) {
        return cl.Get(level.path(c, i));
      }));
      if (o.progress) o.progress(std::string(level.kind) + ", " + std::to_string(clients) + " clients done");
    }
  }
  // A stream's first byte: the request until its first body bytes arrive (the rest is not read:
  // the connection is dropped, as a player that seeks drops it).
  for (int clients : o.clients) {
    report.levels.push_back(drive_load_until("stream, first byte", port, clients, o.seconds, [&a, &files](httplib::Client& cl, int c, int64_t i) {
      const std::string path = "/rest/stream?" + a + "&id=" + files[static_cast<size_t>(i + c) % files.size()];
      int status = 0;
      bool got_bytes = false;
      cl.Get(path, [&status](const httplib::Response& res) { return status = res.status, true; },
             [&got_bytes](const char*, size_t n) { return got_bytes = n > 0, false; });  // stop at the first bytes
      return status == 200 && got_bytes;
    }));
    if (o.progress) o.progress("stream, first byte, " + std::to_string(clients) + " clients done");
  }
}

}  // namespace clap::server
