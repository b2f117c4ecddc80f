#include "core/text_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace clap {

namespace fs = std::filesystem;

std::string read_text_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file (" + what + ")");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder (" + what + ")");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read (" + what + ")");
  std::string text;
  char piece[1 << 16];
  while (f.read(piece, sizeof piece) || f.gcount() > 0) {
    if (text.size() + static_cast<uint64_t>(f.gcount()) > max_bytes) {
      char limit[32];
      if (max_bytes >= (1u << 20)) std::snprintf(limit, sizeof limit, "%.0f MB", static_cast<double>(max_bytes) / (1 << 20));
      else std::snprintf(limit, sizeof limit, "%llu bytes", static_cast<unsigned long long>(max_bytes));
      throw Error(path + ": larger than " + limit + " (" + what + "); is it the right file?");
    }
    text.append(piece, static_cast<size_t>(f.gcount()));
  }
  if (f.bad()) throw Error(path + ": read error (" + what + ")");
  return text;
}

}  // namespace clap
