#include "search/track_norms.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/regular_file.h"
#include "core/json_integer.h"
#include "core/output_file.h"
#include "search/file_header.h"
#include "search/vector_index.h"

namespace clap::search {

namespace {
constexpr char kMagic[8] = {'C', 'L', 'A', 'P', 'N', 'R', 'M', '1'};
constexpr int kFormat = 1;
}  // namespace

void save_track_norms(const std::string& path, const TrackNorms& t) {
  if (t.ids.size() != t.norms.size())
    throw Error("cannot write " + path + ": " + std::to_string(t.norms.size()) + " norms for " + std::to_string(t.ids.size()) +
                " tracks");
  nlohmann::json h;
  h["format"] = kFormat;
  h["generation"] = t.generation;
  h["identity"] = t.identity;
  h["trained_windows"] = t.trained_windows;
  h["tracks"] = static_cast<int64_t>(t.ids.size());
  OutputFile::remove_stale_temporaries(path);
  OutputFile f(path, OutputFile::Target::Derived);  // a FIFO at the name never blocks the write
  write_file_header(f, kMagic, h);
  IndexPayloadChecksum sum;
  f.write(t.ids.data(), t.ids.size() * sizeof(int64_t));
  sum.update(t.ids.data(), t.ids.size() * sizeof(int64_t));
  f.write(t.norms.data(), t.norms.size() * sizeof(float));
  sum.update(t.norms.data(), t.norms.size() * sizeof(float));
  const uint64_t s = sum.finish();
  f.write(&s, sizeof s);
  f.commit();
}

TrackNorms load_track_norms(const std::string& path) {
  if (!is_regular_file_safely(path)) throw Error("cannot open " + path + ": " + open_error(errno));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  auto damaged = [&path](const std::string& why) { return Error(path + " is damaged: " + why); };
  in.seekg(0, std::ios::end);
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  const nlohmann::json j = read_file_header(in, kMagic, 1u << 16, path + " is not a clapsearch track norms file", damaged);
  const int64_t body_start = static_cast<int64_t>(in.tellg());
  TrackNorms t;
  int64_t tracks = 0;
  try {
    if (json_integer_field<int>(j, "format") != kFormat) throw std::runtime_error("unknown format");
    t.generation = json_integer_field<int64_t>(j, "generation");
    t.trained_windows = json_integer_field<int64_t>(j, "trained_windows");
    tracks = json_integer_field<int64_t>(j, "tracks");
    t.identity = j.at("identity").get<std::string>();
  } catch (const std::exception& e) {
    throw damaged(std::string("header: ") + e.what());
  }
  // The body's size from the file, then compared: a header cannot make the reader allocate more
  // than the file holds.
  const int64_t body = file_size - body_start;
  if (tracks < 0 || body < 8 || (body - 8) % 12 != 0 || (body - 8) / 12 != tracks) throw damaged("size does not match its header");
  t.ids.resize(static_cast<size_t>(tracks));
  t.norms.resize(static_cast<size_t>(tracks));
  uint64_t stored = 0;
  if (!in.read(reinterpret_cast<char*>(t.ids.data()), static_cast<std::streamsize>(t.ids.size() * 8)) ||
      !in.read(reinterpret_cast<char*>(t.norms.data()), static_cast<std::streamsize>(t.norms.size() * 4)) ||
      !in.read(reinterpret_cast<char*>(&stored), 8))
    throw damaged("truncated");
  IndexPayloadChecksum sum;
  sum.update(t.ids.data(), t.ids.size() * 8);
  sum.update(t.norms.data(), t.norms.size() * 4);
  if (sum.finish() != stored) throw damaged("checksum mismatch");
  if (std::adjacent_find(t.ids.begin(), t.ids.end(), std::greater_equal<int64_t>()) != t.ids.end())
    throw damaged("track ids not strictly ascending");
  return t;
}

}  // namespace clap::search
