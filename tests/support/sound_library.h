// A small library of generated sounds (FFmpeg's lavfi sources), indexed once by the real indexer
// in this process with the tiny test model (tests/data/tiny-unfused): the set-up the service
// tests share that query a real index (ranked queries, many copies of one file, the radio).
#pragma once
#include <string>

#include "service/library.h"

namespace clap::test {

struct SoundLibrary {
  std::string dir, music, db;  // temp_dir()/NAME, its music/ folder, and the index file beside it

  explicit SoundLibrary(const std::string& name);  // the folder emptied first
  // Writes music/RELATIVE with ffmpeg from the lavfi `source` ("sine=f=220:d=12"), `extra`
  // arguments (tags) after it; its path.
  std::string add(const std::string& relative, const std::string& source, const std::string& extra = "") const;
  // Indexes music/ into db (quietly, the tiny model).
  void index() const;
  service::LibraryOptions options() const;
};

}  // namespace clap::test
