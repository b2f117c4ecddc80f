// Read-only memory map of a whole file (RAII). Weights are used in place from it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace clap {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);  // throws clap::Error
  // Standard input (`-` for a file the user names), named "standard input": mapped in place when
  // it is a regular file (`< FILE`), else (a pipe) copied into an unnamed memory file first, at
  // most `max_bytes` (more is an error, as for a file: an endless stream ends). A terminal is
  // refused: a command would wait for typed input that no one means to give.
  static MappedFile standard_input(uint64_t max_bytes, const std::string& what);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the pages wholly inside [p, p + bytes) from this process's memory (they are read
  // back from the file if touched again): for data that now lives elsewhere in another form.
  void release(const void* p, size_t bytes) const;

 private:
  void map(int fd);  // the whole regular file open at fd (not closed); throws naming path_
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace clap
