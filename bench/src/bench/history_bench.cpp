// The history import benchmark (bench/history_bench.h).
#include "bench/history_bench.h"

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "service/history.h"
#include "service/history_files.h"
#include "store/store.h"

namespace clap::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of the process so far (every thread, user and system): on a shared machine the
// wall-clock time also counts other programs' turns.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// A recording MBID per track, shaped as MusicBrainz writes them.
std::string mbid_of(int64_t t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(t * 2654435761u % 0xffffffffu),
                static_cast<unsigned long long>(t % 0xffffffffffffll));
  return buf;
}

// Tracks as the indexer writes them from tags: two of three with an MBID, all with artist,
// title, album and a duration; one window each (the import reads no embedding).
void make_library(store::Store& s, int64_t tracks, const HistoryBenchOptions& o) {
  store::ModelIdentity m;
  m.id = "bench/history";
  m.revision = "synthetic";
  m.dim = 4;
  s.wipe(m);
  s.add_roots({"/synthetic"});
  const float e[4] = {1, 0, 0, 0};
  for (int64_t t = 0; t < tracks; ++t) {
    store::Track track;
    track.path = "/synthetic/Artist " + std::to_string(t % 997) + "/track" + std::to_string(t) + ".flac";
    track.size = 1;
    track.content_hash = "hash" + std::to_string(t);
    track.title = "Song number " + std::to_string(t);
    track.artist = "Artist " + std::to_string(t % 997);
    track.album = "Album " + std::to_string(t / 12);
    track.duration_s = 120 + t % 240;
    if (t % 3 != 2) track.mbid = mbid_of(t);
    store::WindowRecord w;
    w.idx = 0;
    w.end_s = 10;
    w.embedding.assign(e, e + 4);
    s.put_track(track, {w}, e);
    if (o.progress && (t + 1) % 20000 == 0) o.progress("synthetic library: " + std::to_string(t + 1) + " tracks");
  }
}

// A ListenBrainz export: listens of the library's tracks (a few favourites often, the rest
// rarely), half naming the recording by MBID as players that know it do, the others by artist,
// title, album and duration; one listen in twenty of a song the library does not have.
void write_export(const std::string& path, int64_t listens, int64_t tracks) {
  std::ofstream out(path, std::ios::binary);
  uint64_t state = 88172645463325252ull;
  for (int64_t i = 0; i < listens; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const bool favourite = state % 4 == 0;
    const int64_t t = static_cast<int64_t>((state >> 8) % static_cast<uint64_t>(favourite ? std::min<int64_t>(tracks, 500) : tracks));
    const int64_t at = 1500000000 + i * 97;
    std::string line;
    if (state % 20 == 1) {
      line = R"({"listened_at": )" + std::to_string(at) + R"(, "track_metadata": {"artist_name": "Somebody Else", "track_name": "Not Here )" +
             std::to_string(i % 5000) + R"(", "additional_info": {"duration_ms": 200000}}})";
    } else {
      const bool by_mbid = (state >> 3) % 2 == 0 && t % 3 != 2;
      line = R"({"listened_at": )" + std::to_string(at) + R"(, "inserted_at": )" + std::to_string(at + 5) +
             R"(, "user_name": "bench", "track_metadata": {"artist_name": "Artist )" + std::to_string(t % 997) +
             R"(", "track_name": "Song number )" + std::to_string(t) + R"(", "release_name": "Album )" + std::to_string(t / 12) +
             R"(", "additional_info": {)" + (by_mbid ? R"("recording_mbid": ")" + mbid_of(t) + R"(", )" : std::string()) +
             R"("duration_ms": )" + std::to_string((120 + t % 240) * 1000) +
             R"(, "media_player": "bench", "submission_client": "bench"}, "mbid_mapping": null}})";
    }
    out << line << '\n';
  }
  if (!out) throw Error(path + ": cannot write the synthetic export");
}

}  // namespace

HistoryBenchReport run_history_bench(const HistoryBenchOptions& o) {
  HistoryBenchReport r;
  r.listens = o.listens;
  r.tracks = o.tracks;
  std::string dir = o.keep;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "clapsearch-historybench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error("bench: cannot make a temporary folder");
    dir = tmpl;
    temporary = true;
  } else {
    fs::create_directories(dir);
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code ec;
      if (on) fs::remove_all(dir, ec);
    }
  } cleanup{dir, temporary};
  const std::string db = dir + "/history-bench.db", listens = dir + "/listens.jsonl";
  // A kept folder's library of the same size is used again (its plays forgotten first).
  std::unique_ptr<store::Store> s;
  if (!temporary && fs::exists(db)) {
    s = store::open_store(db, store::OpenMode::ReadWrite);
    if (static_cast<int64_t>(s->tracks().size()) != o.tracks || !s->user("bench")) {
      s.reset();
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);
    }
  }
  if (!s) {
    s = store::open_store(db, store::OpenMode::ReadWrite);
    make_library(*s, o.tracks, o);
    store::UserRecord user;
    user.name = "bench";
    s->add_user(user);
  }
  const int64_t user_id = s->user("bench")->id;
  s->forget_history(user_id, 0, "");
  if (o.progress) o.progress("synthetic export: " + std::to_string(o.listens) + " listens");
  write_export(listens, o.listens, o.tracks);
  r.export_bytes = static_cast<int64_t>(fs::file_size(listens));
  s.reset();  // the import opens the index as the command does

  // The read alone (streamed, the listens dropped as they come), then the import as `clapsearch
  // history import` runs it: read, resolve and write, streamed (service/history.h).
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  service::read_history_file(listens, service::HistoryFormat::ListenBrainz, [](std::vector<service::Listen>&&) {});
  r.read_s = seconds_since(t0);
  r.read_cpu_s = cpu_seconds() - c0;
  t0 = Clock::now();
  c0 = cpu_seconds();
  const service::HistoryImport first = service::import_history_file(db, listens, service::HistoryFormat::ListenBrainz, "bench");
  r.import_s = seconds_since(t0);
  r.import_cpu_s = cpu_seconds() - c0;
  r.imported = first.imported;
  r.already = first.already;
  r.unresolved = first.unresolved;
  t0 = Clock::now();
  const service::HistoryImport second = service::import_history_file(db, listens, service::HistoryFormat::ListenBrainz, "bench");
  r.reimport_s = seconds_since(t0);
  r.reimported = second.imported;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;
  return r;
}

}  // namespace clap::bench
