// Read-only memory map of a whole file (RAII). A mapped page is read from the file when first
// touched, so a file rewritten in place under a mapping is read mixed, and a truncated one kills
// the process (SIGBUS) at the first touch past its new end: keep a mapping only while the file is
// being read (a model's weights are copied or packed out of it at load: model/clap.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace clap {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);  // throws clap::Error
  // Standard input (`-` for a file the user names), named "standard input": copied into an
  // unnamed memory file, at most `max_bytes` (more is an error, as for a file: an endless stream
  // ends). A terminal is refused: a command would wait for typed input that no one means to give.
  static MappedFile standard_input(uint64_t max_bytes, const std::string& what);
  // A regular file copied into an unnamed memory file the same way, for a file read over a long
  // time (a history export): what is read is what the file held, however it changes meanwhile.
  static MappedFile read_into_memory(const std::string& path, uint64_t max_bytes, const std::string& what);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Whether the file was written to since it was mapped (its size or modification time
  // changed): what the mapping would now read is not what was there then. The mapped file itself
  // is asked (its descriptor stays open), so a new file renamed over the name, or the name
  // removed, changes nothing: the mapping still reads the file it was made of.
  bool changed() const;

  // Drops the pages wholly inside [p, p + bytes) from this process's memory (they are read
  // back from the file if touched again; a copy in memory reads zeros there): for data that now
  // lives elsewhere in another form, or that was read once and is done with.
  void release(const void* p, size_t bytes) const;

 private:
  void map(int fd);  // the whole regular file open at fd (kept open); throws naming path_
  static MappedFile kept_in_memory(int from, const std::string& name, uint64_t max_bytes, const std::string& what);
  void reset();
  std::string path_;
  int fd_ = -1;         // the mapped file, for changed()
  int memory_fd_ = -1;  // the memory file of a copy (standard_input, read_into_memory)
  int64_t mtime_ns_ = 0;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace clap
