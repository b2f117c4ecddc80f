#include "support/sound_library.h"

#include <filesystem>

#include "service/indexing.h"
#include "support/golden.h"

namespace clap::test {

SoundLibrary::SoundLibrary(const std::string& name) : dir(temp_dir() + "/" + name), music(dir + "/music"), db(dir + "/library.db") {
  std::filesystem::remove_all(dir);
}

std::string SoundLibrary::add(const std::string& relative, const std::string& source, const std::string& extra) const {
  const std::string path = music + "/" + relative;
  ffmpeg(path, "-f lavfi -i \"" + source + "\"" + (extra.empty() ? "" : " " + extra));
  return path;
}

void SoundLibrary::index() const {
  service::IndexRequest r;
  r.dirs = {music};
  r.db = db;
  r.quiet = true;
  r.model = case_dir("tiny-unfused");
  service::run_index(r);
}

service::LibraryOptions SoundLibrary::options() const {
  service::LibraryOptions o;
  o.db = db;
  return o;
}

}  // namespace clap::test
