// The shared set-up of the `clapsearch serve` tests over real HTTP (server_test.cpp: the API
// document, the routes and audio ranges; server_errors_test.cpp: error statuses, limits and the
// token rule; server_live_test.cpp: an index changed under a running server): a library of real
// encoded files indexed once per test process by the real CLI, and a server::Server over it in
// this process (running_server.h).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "server/server.h"
#include "support/golden.h"

namespace clap::server::serve_cases {

namespace fs = std::filesystem;
using json = nlohmann::json;

using test::ffmpeg;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string model_dir() { return test::case_dir("tiny-unfused"); }

// A library indexed once for the whole suite, and a server over it.
struct Library {
  std::string dir = test::temp_dir() + "/server";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";
  std::string a440, pink, chirp;

  Library() {
    fs::remove_all(dir);
    a440 = ffmpeg(music + "/a440.mp3",
                  "-f lavfi -i \"sine=f=440:d=24\" -ac 2 -ar 44100 -metadata title=A440 -metadata artist=Demo -metadata album=Tones "
                  "-metadata genre=Tone");
    pink = ffmpeg(music + "/noise/pink.ogg", "-f lavfi -i \"anoisesrc=color=pink:d=16:seed=3\" -ar 22050 -metadata genre=Noise");
    chirp = ffmpeg(music + "/chirp.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+400*t)*t):d=12\" -ar 48000");
    test::index_library(music, db, model_dir());
  }
};

inline Library& library() {
  static Library lib;
  return lib;
}

class Running : public RunningServer {
 public:
  explicit Running(ServerOptions o) : RunningServer(std::move(o), library().db, 60) {}
};

inline Running& shared_server() {
  static Running r{ServerOptions{}};
  return r;
}

inline int64_t id_of(Running& s, const std::string& display_path) { return s.id_of(display_path); }

// Options of a server over a fresh copy of the library's index in library().dir/NAME (with an
// empty music/ folder), polled every 100 ms: what the live tests change under it.
inline ServerOptions live_copy(const std::string& name) {
  const std::string dir = library().dir + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir + "/music");
  fs::copy_file(library().db, dir + "/library.db");
  ServerOptions o;
  o.db = dir + "/library.db";
  o.refresh_ms = 100;
  return o;
}

}  // namespace clap::server::serve_cases
