// SqliteStore's packet hashes (Store::packet_hashes): the hash of each indexed file's compressed
// audio, by the file's content hash (schema 11 -> 12).
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"
#include "store/sqlite_store.h"

#include <optional>

namespace clap::store {

std::map<std::string, std::string> SqliteStore::packet_hashes(const std::vector<std::string>& content_hashes) const {
  std::map<std::string, std::string> out;
  sql::Stmt s(db_, "SELECT packet_hash FROM packet_hashes WHERE content_hash = ?");
  for (const std::string& h : content_hashes) {
    if (h.empty() || out.count(h)) continue;
    s.reset();
    s.bind(1, h);
    if (s.step()) out.emplace(h, s.text(0));
  }
  return out;
}

void SqliteStore::put_packet_hashes(const std::vector<std::pair<std::string, std::string>>& rows) {
  if (rows.empty()) return;
  // Inside an import (`clapsearch migrate`), in its transaction.
  std::optional<sql::Transaction> tx;
  if (!importing_) tx.emplace(db_);
  sql::Stmt s(db_, "INSERT INTO packet_hashes(content_hash, packet_hash) VALUES (?, ?) "
                   "ON CONFLICT(content_hash) DO UPDATE SET packet_hash = excluded.packet_hash");
  for (const auto& [content, packets] : rows) {
    if (content.empty()) continue;
    s.reset();
    s.bind(1, content).bind(2, packets).run();
  }
  if (tx) tx->commit();
}

std::vector<FileState> SqliteStore::tracks_without_packet_hash() const {
  std::vector<FileState> out;
  sql::Stmt s(db_,
              "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks t WHERE status = 'ok' AND "
              "content_hash IS NOT NULL AND content_hash <> '' AND "
              "NOT EXISTS (SELECT 1 FROM packet_hashes p WHERE p.content_hash = t.content_hash) ORDER BY id");
  while (s.step()) out.push_back(decode_file_state(s));
  return out;
}

}  // namespace clap::store
