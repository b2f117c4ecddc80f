// The SQLite index store (store/store.h) opened on arbitrary bytes as the database file, the
// way the commands open it: read-only (search, status, serve) and read-write (index, eval,
// which migrate it), then everything a query session reads, the integrity check, and (read-
// write) a small write. A damaged or foreign file must be refused or read as what it holds;
// never a crash. SQLite needs a real file (it creates -journal/-wal/-shm beside it), so the
// bytes go to a per-process file in /dev/shm (tmpfs), or $TMPDIR when /dev/shm is missing.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;

struct ScratchDir {
  fs::path dir;
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::path(tmp && *tmp ? tmp : "/tmp");
    dir = base / ("clapsearch-fuzz-store-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // The database file with exactly `bytes`, and no journal or WAL from the last input.
  std::string database(const uint8_t* data, size_t size) const {
    const fs::path db = dir / "library.db";
    std::error_code ec;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
    std::ofstream(db, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return db.string();
  }
};

void read_everything(clap::store::Store& store) {
  (void)store.schema_version();
  (void)store.generation();
  (void)store.library_generation();
  (void)store.file_bytes();
  const auto scope = store.read_scope();
  const auto model = store.model();
  if (model) (void)model->model_key();
  (void)store.roots();
  const auto tracks = store.tracks();
  for (const auto& t : tracks) {
    (void)store.track(t.id);
    (void)store.track_by_path(t.path);
    (void)store.windows(t.id);
    (void)store.labels(t.id);
  }
  (void)store.file_states();
  (void)store.errors();
  (void)store.counts();
  const clap::Embeddings tracks_embedded = store.track_embeddings();
  FUZZ_CHECK(tracks_embedded.data.size() == tracks_embedded.ids.size() * static_cast<size_t>(tracks_embedded.dim));
  const clap::WindowTable windows = store.window_embeddings();
  FUZZ_CHECK(windows.embeddings.size() == windows.window_ids.size() * static_cast<size_t>(windows.dim));
  (void)store.all_labels();
  if (model) (void)store.cached_text(model->model_key(), "female vocalist");
  (void)store.check();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScratchDir scratch;
  for (const auto mode : {clap::store::OpenMode::ReadOnly, clap::store::OpenMode::ReadWrite}) {
    try {
      const std::string path = scratch.database(data, size);
      const auto store = clap::store::open_store(path, mode);
      read_everything(*store);
      if (mode == clap::store::OpenMode::ReadWrite) {
        store->add_roots({"/music"});
        if (const auto model = store->model(); model && model->dim > 0 && model->dim <= 4096)
          store->put_cached_texts({{model->model_key(), "fuzz", std::vector<float>(static_cast<size_t>(model->dim), 0.5f)}});
        read_everything(*store);
      }
    } catch (const clap::Error&) {
      // A clear refusal is the expected outcome for a damaged or foreign file.
    }
  }
  return 0;
}
