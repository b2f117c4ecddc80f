// PostgresStore's packet hashes (Store::packet_hashes): the hash of each indexed file's compressed
// audio, by the file's content hash (schema 13 -> 14).
#include "store/postgres.h"
#include "store/postgres_internal.h"
#include "store/postgres_store.h"
#include "store/rows.h"

#include <optional>

namespace clap::store {

std::map<std::string, std::string> PostgresStore::packet_hashes(const std::vector<std::string>& content_hashes) const {
  std::map<std::string, std::string> out;
  for (const std::string& h : content_hashes) {
    if (h.empty() || out.count(h)) continue;
    auto r = c_->query("SELECT packet_hash FROM packet_hashes WHERE content_hash = $1", pg::Params().add(h));
    if (r.rows()) out.emplace(h, r.text(0, 0));
  }
  return out;
}

void PostgresStore::put_packet_hashes(const std::vector<std::pair<std::string, std::string>>& rows) {
  if (rows.empty()) return;
  // Inside an import (`clapsearch migrate`), in its transaction.
  std::optional<pg::Transaction> tx;
  if (!importing_) tx.emplace(*c_);
  for (const auto& [content, packets] : rows) {
    if (content.empty()) continue;
    c_->query("INSERT INTO packet_hashes(content_hash, packet_hash) VALUES ($1, $2) "
              "ON CONFLICT (content_hash) DO UPDATE SET packet_hash = excluded.packet_hash",
              pg::Params().add(content).add(packets));
  }
  if (tx) tx->commit();
}

std::vector<FileState> PostgresStore::tracks_without_packet_hash() const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks t WHERE status = 'ok' "
                     "AND content_hash IS NOT NULL AND content_hash <> '' AND "
                     "NOT EXISTS (SELECT 1 FROM packet_hashes p WHERE p.content_hash = t.content_hash) ORDER BY id");
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_file_state(r.row(i)));
  return out;
}

}  // namespace clap::store
