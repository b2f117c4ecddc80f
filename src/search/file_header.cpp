#include "search/file_header.h"

#include <cstring>
#include <exception>

namespace clap::search {

void write_file_header(OutputFile& file, const char (&magic)[8], const nlohmann::json& header) {
  const std::string text = header.dump();
  const uint32_t length = static_cast<uint32_t>(text.size());
  file.write(magic, sizeof magic);
  file.write(&length, sizeof length);
  file.write(text);
}

nlohmann::json read_file_header(std::istream& in, const char (&magic)[8], uint32_t max_length, const std::string& not_ours,
                                const std::function<Error(const std::string&)>& damaged) {
  char found[8];
  uint32_t length = 0;
  if (!in.read(found, sizeof found) || std::memcmp(found, magic, sizeof found) != 0) throw Error(not_ours);
  if (!in.read(reinterpret_cast<char*>(&length), sizeof length) || length > max_length) throw damaged("header length");
  std::string text(length, '\0');
  if (!in.read(text.data(), length)) throw damaged("truncated header");
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw damaged(std::string("header: ") + e.what());
  }
}

}  // namespace clap::search
