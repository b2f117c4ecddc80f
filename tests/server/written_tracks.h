// An index of one real file and many more tracks written into it as the indexer writes them,
// with one user: the set-up of the server tests of long lists (a folder, an artist or an album of
// thousands of songs, a user's long queue). The real file is indexed by the CLI with the tiny
// model, so the model and the music folder are recorded; the other tracks' files are never opened
// (the answers under test read only the index). Shared by the server tests that need it.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/golden.h"

namespace clap::server::test_tracks {

struct WrittenIndex {
  std::string dir, music, db;
};

// temp_dir()/NAME (emptied first): music/real.flac (3 s, `real_tags`: ffmpeg -metadata arguments)
// indexed, then `count` tracks, the i-th made by `make(i, track, embedding)` from a track of 10 s
// whose path is the music folder (make adds the file's name, and sets the size and tags) and an
// embedding of the model's width, every value 0.5; then user alice, password "pw".
inline WrittenIndex written_index(const std::string& name, const std::string& real_tags, int count,
                                  const std::function<void(int, store::Track&, std::vector<float>&)>& make) {
  WrittenIndex x;
  x.dir = test::temp_dir() + "/" + name;
  x.music = x.dir + "/music";
  x.db = x.dir + "/library.db";
  std::filesystem::remove_all(x.dir);
  test::ffmpeg(x.music + "/real.flac", "-f lavfi -i \"sine=f=440:d=3\" " + real_tags);
  test::index_library(x.music, x.db, test::case_dir("tiny-unfused"));
  {
    auto s = store::open_store(x.db, store::OpenMode::ReadWrite);
    const int dim = s->model()->dim;
    for (int i = 0; i < count; ++i) {
      store::Track t;
      t.path = x.music;
      t.duration_s = 10;
      store::WindowRecord w;
      w.end_s = 10;
      w.embedding.assign(static_cast<size_t>(dim), 0.5f);
      make(i, t, w.embedding);
      s->put_track(t, {w}, w.embedding.data());
    }
  }
  std::ofstream(x.dir + "/pw") << "pw\n";
  std::string out, err;
  if (test::run_cli("user add alice --db " + test::quoted(x.db) + " < " + test::quoted(x.dir + "/pw"), &out, &err) != 0)
    throw std::runtime_error("user add: " + err);
  return x;
}

// How many times `what` stands in `text` (not overlapping).
inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace clap::server::test_tracks
