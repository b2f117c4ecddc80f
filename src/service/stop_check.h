// A stop check for the calling thread's long decodes and embeddings that are reached without a
// WindowSettings::between_batches of their own: the query file of like and similar, a seed or
// negative file (service::Library::embed_file, decoded and embedded whole, an hour of audio in
// minutes). A front end that must answer Ctrl-C within one file (the Python module) sets it for
// the scope of a call; the check may throw to stop the work. Nothing is set elsewhere (the CLI
// and the server stop by signals and deadlines of their own).
#pragma once
#include <functional>

namespace clap::service {

class ScopedStopCheck {
 public:
  explicit ScopedStopCheck(std::function<void()> check);
  ~ScopedStopCheck();
  ScopedStopCheck(const ScopedStopCheck&) = delete;
  ScopedStopCheck& operator=(const ScopedStopCheck&) = delete;

 private:
  std::function<void()> previous_;
};

// The calling thread's check, empty when none is set (embed_file_windows uses it when its
// settings carry none).
const std::function<void()>& thread_stop_check();

}  // namespace clap::service
