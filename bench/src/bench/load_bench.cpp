#include "bench/load_bench.h"

#include <sys/resource.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/error.h"
#include "core/vector_math.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "bench/vector_bench.h"
#include "server/server.h"
#include "store/store.h"

namespace clap::server {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The synthetic library: tracks of windows_per_track clustered unit vectors (search/bench.h's
// generator: styles, tracks around a style, windows around a track).
int64_t make_index(const std::string& db, const store::ModelIdentity& identity, const LoadBenchOptions& o) {
  auto st = store::open_store(db, store::OpenMode::ReadWrite);
  st->wipe(identity);
  st->add_roots({"/synthetic"});
  search::SyntheticData data;
  data.windows_per_track = o.windows_per_track;
  const int dim = identity.dim;
  const char* genres[] = {"ambient", "classical", "electronic", "folk", "jazz", "rock", "hip hop", "noise"};
  int64_t windows = 0;
  const std::vector<float> all = search::synthetic_embeddings(o.tracks * o.windows_per_track, dim, data, 0);
  const int64_t chunk = 1000;  // progress every this many tracks
  for (int64_t first = 0; first < o.tracks; first += chunk) {
    const int64_t n = std::min(chunk, o.tracks - first);
    for (int64_t t = first; t < first + n; ++t) {
      store::Track track;
      track.path = "/synthetic/track" + std::to_string(t) + ".mp3";
      track.size = 1;
      track.title = "Track " + std::to_string(t);
      track.artist = "Artist " + std::to_string(t % 97);
      track.album = "Album " + std::to_string(t / 12);  // 12 tracks an album, one artist each (the Subsonic levels)
      track.album_artist = "Artist " + std::to_string((t / 12) % 97);
      track.track_no = static_cast<int>(t % 12) + 1;
      track.genre = genres[t % 8];
      track.date = std::to_string(1926 + t % 100);  // a year per track: "year = 1990" selects 1 % (bench --where)
      track.duration_s = 5.0 * (o.windows_per_track + 1);
      std::vector<store::WindowRecord> ws(static_cast<size_t>(o.windows_per_track));
      const float* e = all.data() + t * o.windows_per_track * dim;
      for (int w = 0; w < o.windows_per_track; ++w) {
        ws[w].idx = w;
        ws[w].start_s = 5.0 * w;
        ws[w].end_s = 5.0 * w + 10;
        ws[w].embedding.assign(e + w * dim, e + (w + 1) * dim);
      }
      const std::vector<float> te = track_embedding(o.windows_per_track, dim, e, nullptr);
      st->put_track(track, ws, te.data());
      windows += o.windows_per_track;
    }
    if (o.progress) o.progress("synthetic index: " + std::to_string(first + n) + "/" + std::to_string(o.tracks) + " tracks");
  }
  return windows;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') out += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A query text of a few words, different for every n below 24^3 (uncached texts as people type
// them: "warm lo-fi guitar", not long strings whose cost would be the tokens).
std::string phrase(int64_t n) {
  static const char* mood[] = {"warm", "dark", "bright", "calm", "angry", "dreamy", "sad", "happy", "slow", "fast", "soft",
                               "loud", "gentle", "heavy", "airy", "lush", "dry", "noisy", "smooth", "raw", "epic",
                               "tender", "groovy", "eerie"};
  static const char* style[] = {"lo-fi", "jazz", "rock", "folk", "techno", "ambient", "soul", "blues", "metal", "pop",
                                "funk", "reggae", "house", "trap", "disco", "punk", "gospel", "latin", "opera", "swing",
                                "dub", "grunge", "indie", "country"};
  static const char* sound[] = {"guitar", "piano", "vocals", "drums", "strings", "synth", "bass", "horns", "choir",
                                "organ", "flute", "violin", "cello", "harp", "sax", "trumpet", "beat", "pads", "banjo",
                                "whistle", "bells", "claps", "rain", "voices"};
  return std::string(mood[n % 24]) + " " + style[(n / 24) % 24] + " " + sound[(n / 576) % 24];
}

// A 30 s, 48 kHz mono 16-bit WAV in memory: a slow sweep with a little noise.
std::string wav_clip(double seconds) {
  const int rate = 48000;
  const uint32_t n = static_cast<uint32_t>(seconds * rate);
  std::vector<int16_t> samples(n);
  uint32_t noise = 12345;
  for (uint32_t i = 0; i < n; ++i) {
    const double t = double(i) / rate;
    noise = noise * 1664525u + 1013904223u;
    const double x = 0.4 * std::sin(2 * M_PI * (200 + 20 * t) * t) + 0.05 * (double(noise >> 8) / double(1 << 24) - 0.5);
    samples[i] = static_cast<int16_t>(std::lround(x * 32767));
  }
  return mono_wav(samples, rate);
}

}  // namespace

std::string mono_wav(const std::vector<int16_t>& samples, int rate) {
  const uint32_t n = static_cast<uint32_t>(samples.size());
  std::string out(44 + 2 * static_cast<size_t>(n), '\0');
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&out[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&out[at], &v, 2); };
  std::memcpy(&out[0], "RIFF", 4);
  put32(4, 36 + 2 * n);
  std::memcpy(&out[8], "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);  // PCM
  put16(22, 1);  // mono
  put32(24, static_cast<uint32_t>(rate));
  put32(28, static_cast<uint32_t>(rate) * 2);
  put16(32, 2);
  put16(34, 16);
  std::memcpy(&out[36], "data", 4);
  put32(40, 2 * n);
  std::memcpy(&out[44], samples.data(), 2 * static_cast<size_t>(n));
  return out;
}

LoadLevel drive_load(const std::string& kind, int port, int clients, double seconds,
                     const std::function<httplib::Result(httplib::Client&, int, int64_t)>& request) {
  return drive_load_until(kind, port, clients, seconds, [&request](httplib::Client& c, int id, int64_t i) {
    auto r = request(c, id, i);
    return r && r->status == 200;
  });
}

LoadLevel drive_load_until(const std::string& kind, int port, int clients, double seconds,
                           const std::function<bool(httplib::Client&, int, int64_t)>& request) {
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<int64_t> errors{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  // A client thread the machine cannot start (an address-space or thread limit) threw out of this
  // loop with the started ones still joinable: std::terminate, status 134 (hostile pass 10,
  // H10C-7). They are joined (each stops when `seconds` are up) and the failure is named.
  const auto start_failed = [&](int c, const std::system_error& e) {
    for (auto& t : threads) t.join();
    throw Error("bench: cannot start client " + std::to_string(c + 1) + " of " + std::to_string(clients) + " (" + e.what() +
                "): give --clients fewer");
  };
  for (int c = 0; c < clients; ++c) {
    try {
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", port);
        client.set_read_timeout(120, 0);
        client.set_keep_alive(true);
        client.set_tcp_nodelay(true);
        std::vector<double> mine;
        for (int64_t i = 0; seconds_since(start) < seconds; ++i) {
          const auto t0 = Clock::now();
          const bool ok = request(client, c, i);
          const double ms = seconds_since(t0) * 1000;
          if (!ok) ++errors;
          else mine.push_back(ms);
        }
        std::lock_guard lock(mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    } catch (const std::system_error& e) {
      start_failed(c, e);
    }
  }
  for (auto& t : threads) t.join();
  const double elapsed = seconds_since(start);
  LoadLevel l;
  l.kind = kind;
  l.clients = clients;
  l.requests = static_cast<int64_t>(latencies.size());
  l.errors = errors;
  l.per_second = static_cast<double>(latencies.size()) / elapsed;
  l.p50_ms = search::percentile(latencies, 0.50);
  l.p99_ms = search::percentile(latencies, 0.99);
  l.max_ms = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  return l;
}

LoadBenchReport run_load_bench(const LoadBenchOptions& o) {
  if (o.tracks < 1 || o.windows_per_track < 1) throw Error("bench: --serve-tracks and --windows-per-track must be positive");
  if (o.model.empty()) throw Error("bench: --serve-tracks needs --model (text queries are embedded with it)");
  const hub::ResolvedModel resolved = hub::resolve_model(o.model);
  const store::ModelIdentity identity = index::describe_model(resolved, 10, 5, -60, "fp32").identity;

  std::string dir = o.work_dir;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "clapsearch-loadbench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error("bench: cannot make a temporary folder");
    dir = tmpl;
    temporary = true;
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code ec;
      if (on) fs::remove_all(dir, ec);
    }
  } cleanup{dir, temporary};

  LoadBenchReport report;
  report.tracks = o.tracks;
  const std::string db = dir + "/bench.db";
  auto t0 = Clock::now();
  // --keep: an index this folder holds from an earlier run with the same synthetic library is used
  // again (making 100,000 tracks and their plays takes minutes on a loaded machine); its
  // parameters are recorded beside it.
  const std::string made_file = dir + "/bench-made.txt";
  std::string made = "tracks " + std::to_string(o.tracks) + " windows " + std::to_string(o.windows_per_track) + " subsonic " +
                     std::to_string(o.subsonic ? 1 : 0) + " plays " + std::to_string(o.plays) + "\n";
  std::string recorded;
  if (!temporary) {
    std::ifstream in(made_file);
    std::getline(in, recorded);
    recorded += "\n";
  }
  std::error_code ec;
  if (!temporary && recorded == made && fs::exists(db, ec)) {
    report.windows = o.tracks * o.windows_per_track;
    if (o.progress) o.progress("the synthetic index kept in " + dir + " is used again");
    // A kept index made by an older clapsearch is brought to this one's schema first (the server
    // opens it read-only, which refuses an older schema).
    store::open_store(db, store::OpenMode::ReadWriteExisting);
  } else {
    fs::remove(made_file, ec);
    report.windows = make_index(db, identity, o);
    if (o.subsonic) add_subsonic_library(db, dir, identity, o.plays);
    if (!temporary) std::ofstream(made_file) << made;
  }
  report.make_index_s = seconds_since(t0);

  ServerOptions so;
  so.db = db;
  so.port = 0;
  so.threads = o.threads;
  so.text_precision = o.text_precision;
  so.window_index = o.window_index;
  so.max_waiting = 64;  // queue rather than refuse: this measures latency under load
  so.http_threads = 32;
  t0 = Clock::now();
  Server server(so);
  const int port = server.bind();
  std::thread serving([&server] { server.run(); });
  struct Stop {
    Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{server, serving};
  {
    httplib::Client warm("127.0.0.1", port);
    warm.set_read_timeout(120, 0);
    for (int i = 0; i < 32; ++i) warm.Get("/api/search?q=" + url_encode(phrase(100 + i)));
    if (!o.where.empty()) {  // a filter the server refuses would time 400 answers: say so instead
      const auto r = warm.Get("/api/search?q=" + url_encode(phrase(100)) + "&where=" + url_encode(o.where));
      if (!r || r->status != 200) throw Error("bench --where: the server refused the filter: " + (r ? r->body : std::string("no answer")));
    }
  }
  report.server_start_s = seconds_since(t0);
  if (o.progress) o.progress("server up; running load levels");
  if (o.subsonic) {
    run_subsonic_levels(port, o.tracks, o, report);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    report.peak_rss_mb = ru.ru_maxrss / 1024.0;
    return report;
  }

  std::atomic<int64_t> nonce{0};  // uncached texts: phrase(1000 + n), up to 12,824 of them
  for (int clients : o.clients) {
    report.levels.push_back(drive_load("text, cached", port, clients, o.seconds, [](httplib::Client& c, int id, int64_t i) {
      return c.Get("/api/search?q=" + url_encode(phrase(100 + (i * 7 + id) % 32)));
    }));
    if (o.progress) o.progress("text, cached, " + std::to_string(clients) + " clients done");
    if (o.where.empty()) continue;
    // The same texts under the filter, measured right after the unfiltered level: their ratio
    // is the filter's cost on this machine at this moment.
    const std::string filter = "&where=" + url_encode(o.where);
    report.levels.push_back(drive_load("text, cached, where", port, clients, o.seconds, [&filter](httplib::Client& c, int id, int64_t i) {
      return c.Get("/api/search?q=" + url_encode(phrase(100 + (i * 7 + id) % 32)) + filter);
    }));
    if (o.progress) o.progress("text, cached, where, " + std::to_string(clients) + " clients done");
  }
  for (int clients : o.clients) {
    report.levels.push_back(drive_load("text, uncached", port, clients, o.seconds, [&nonce](httplib::Client& c, int, int64_t) {
      return c.Get("/api/search?q=" + url_encode(phrase(1000 + nonce++)));  // each text once (the index is new)
    }));
    if (o.progress) o.progress("text, uncached, " + std::to_string(clients) + " clients done");
  }
  const std::string clip = wav_clip(30);
  {
    // The first audio query packs the audio tower's weights (once per process): not timed.
    httplib::Client warm("127.0.0.1", port);
    warm.set_read_timeout(300, 0);
    httplib::MultipartFormDataItems items = {{"file", clip, "clip.wav", "audio/wav"}};
    warm.Post("/api/like", items);
  }
  report.levels.push_back(drive_load("like, 30 s clip", port, 1, o.seconds, [&clip](httplib::Client& c, int, int64_t) {
    httplib::MultipartFormDataItems items = {{"file", clip, "clip.wav", "audio/wav"}};
    return c.Post("/api/like", items);
  }));
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  report.peak_rss_mb = ru.ru_maxrss / 1024.0;
  return report;
}

}  // namespace clap::server
