// What the files of Library share (library.cpp, library_snapshot.cpp, library_models.cpp): the
// store a library and its snapshots read through, the compressed window index they share, and
// the check that the store still holds the embeddings a library was opened with.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/library.h"
#include "store/connection_state.h"

namespace clap::service {

// Read-only connections queries read through while they run (see StoreAccess::query_read).
constexpr int kQueryConnections = 4;

// One store connection, used under its lock (a Store is used from one thread at a time), through
// which snapshots are read; and a pool of read-only connections for the reads a query makes as it
// runs (compressed mode: its candidates' windows and track embeddings), so that concurrent queries
// do not queue behind one connection (measured: cached text searches at 4 clients, 410/s through
// the one connection, 719/s with the pool; README, Performance).
struct StoreAccess {
  std::mutex mutex;
  std::unique_ptr<store::Store> store;
  std::string location;  // where the pool's connections are opened
  store::OpenMode mode = store::OpenMode::ReadOnly;  // how `store` was opened (and is opened again)
  // The index file `store` opened (device and inode; none for a server location): a file
  // deleted and made again at the same name is another index, which `store` never sees.
  std::optional<std::pair<uint64_t, uint64_t>> file_id;

  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<store::Store>> idle;
  int opened = 0;
  // Set by close (the index file was replaced): why the connections were closed.
  std::string closed;

  // `store`, used under `mutex`; ModelChanged once close closed it.
  store::Store& held() {
    if (!store) throw ModelChanged(closed);
    return *store;
  }

  // `store` as held() gives it, opened again first when the database server ended its session
  // while it was idle: after a PostgreSQL restart the first text search (its text-cache read) was
  // answered 503 "the connection to the PostgreSQL server was lost" until the refresh loop, once
  // a second, opened the connection again (hostile pass 22, the rest of H21S-2). Called under
  // `mutex` where a use of the connection begins, never while a reference from held() or a read
  // scope of this connection is kept. Opening it again loses nothing: this connection holds no
  // session state (the indexer's advisory lock is taken on the indexer's own connection,
  // service/indexing.cpp; a read scope ends before `mutex` is let go). A server still away: the
  // open throws, the dead connection stays, and the next use tries again.
  store::Store& live() {
    store::Store& current = held();
    if (store::is_server_location(location) && store::connection_closed(current)) store = store::open_store(location, mode);
    return *store;
  }

  // Closes every connection: another file was moved over the index, and nothing opens it while
  // this process has the old one open (SQLite would pair it with the old file's -wal: H12S-3,
  // store/sqlite_internal.h). Reads after it throw ModelChanged (a server answers them on the
  // library it opens next); a pooled connection still reading is closed when given back.
  void close(const std::string& why) {
    std::vector<std::unique_ptr<store::Store>> closing;
    {
      std::lock_guard lock(pool_mutex);
      closed = why;
      closing.swap(idle);
      opened -= static_cast<int>(closing.size());
    }
    pool_cv.notify_all();
    closing.clear();
    std::lock_guard lock(mutex);
    store.reset();  // last: the connection that may write empties the WAL when it closes
  }

  // read(store) on a pooled connection: an idle one, a new one while fewer than
  // kQueryConnections are open, else the first one given back. When a read throws, its
  // connection and the idle ones are closed (after a PostgreSQL restart every one of them is
  // dead), and a read that failed on a reused connection is tried once more on a new one.
  template <class Read>
  auto query_read(const Read& read) -> decltype(read(std::declval<store::Store&>())) {
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<store::Store> conn;
      {
        std::unique_lock lock(pool_mutex);
        pool_cv.wait(lock, [&] { return !closed.empty() || !idle.empty() || opened < kQueryConnections; });
        if (!closed.empty()) throw ModelChanged(closed);
        if (!idle.empty()) {
          conn = std::move(idle.back());
          idle.pop_back();
        } else {
          ++opened;
        }
      }
      const bool reused = conn != nullptr;
      try {
        if (!conn) conn = store::open_store(location, store::OpenMode::ReadOnly);
        auto result = read(*conn);
        give_back(std::move(conn));
        return result;
      } catch (const ModelChanged&) {  // the connection is sound: the store moved on
        give_back(std::move(conn));
        throw;
      } catch (...) {
        std::vector<std::unique_ptr<store::Store>> closing;
        {
          std::lock_guard lock(pool_mutex);
          closing.swap(idle);
          opened -= 1 + static_cast<int>(closing.size());
        }
        pool_cv.notify_all();
        if (!reused || attempt > 0) throw;
      }
    }
  }

  // A pooled connection back to the idle ones, or closed when close() was called meanwhile.
  void give_back(std::unique_ptr<store::Store> conn) {
    {
      std::lock_guard lock(pool_mutex);
      if (!closed.empty()) --opened;
      else idle.push_back(std::move(conn));
    }
    pool_cv.notify_one();
  }
};

// The compressed window index of a library, shared by its snapshots (each brings it up to its
// state). The mode is decided once per Library: a library never switches between modes while
// a server runs.
struct CompressedSlot {
  std::mutex mutex;
  WindowIndexMode mode = WindowIndexMode::Auto;
  search::CompressedSearchParams params;
  int decided = 0;  // 0 not yet, 1 compressed, -1 memory
  std::shared_ptr<CompressedWindows> windows;
};

// Whether a store whose active set has `stored` still holds the embeddings a library opened
// with `opened` reads: the same model, or a text fine-tune of it (same audio tower).
bool same_embeddings(const store::ModelIdentity& opened, const std::optional<store::ModelIdentity>& stored);
// Why a library's snapshots no longer describe the store (ModelChanged's message).
std::string model_changed(const std::string& db, const std::optional<store::ModelIdentity>& stored);

}  // namespace clap::service
