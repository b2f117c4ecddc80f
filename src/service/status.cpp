#include "service/status.h"

#include "index/crawl.h"

namespace clap::service {

LibraryStatus library_status(const std::string& db) {
  LibraryStatus s;
  s.db_path = index::absolute_path(store::command_db_location(db.empty() ? store::default_db_path() : db));
  const std::unique_ptr<store::Store> store = store::open_store(s.db_path, store::OpenMode::ReadOnly);
  s.db_bytes = store->file_bytes();
  s.schema_version = store->schema_version();
  s.generation = store->generation();
  s.counts = store->counts();
  s.model = store->model();
  s.roots = store->roots();
  s.errors = store->errors();
  return s;
}

}  // namespace clap::service
