#include "service/embedding_sets.h"

#include <memory>

#include "core/error.h"
#include "hub/hub.h"
#include "index/identity.h"

namespace clap::service {
namespace {

std::unique_ptr<store::Store> open_sets(const std::string& db, store::OpenMode mode) {
  return store::open_store(store::resolve_location(db), mode);
}

store::EmbeddingSet find_set(const store::Store& s, int64_t id) {
  for (const store::EmbeddingSet& e : s.embedding_sets())
    if (e.id == id) return e;
  throw Error(store::display_location(s.path()) + ": no embedding set " + std::to_string(id) +
              " in the index (`clapsearch models` lists them)");
}

// Refuses a set whose model cannot be found or no longer is the model that made it: once active,
// every text query and a server's reload need that model, and a server would answer 503 to
// every route (issue 53, L11). Reads the model's files and config (its identity), not its
// weights into memory.
void check_model_opens(const store::EmbeddingSet& set) {
  const store::ModelIdentity& id = set.identity;
  const std::string spec = index::model_spec_of(id);
  std::string reason;
  try {
    const hub::ResolvedModel resolved = hub::resolve_model(spec, index::hub_options_of(id));
    const index::ModelSpec found = index::describe_model(resolved, id.window_s, id.hop_s, id.silence_db, id.precision);
    reason = id.mismatch(found.identity);
    if (!reason.empty() && id.shares_audio_with(found.identity)) reason.clear();  // a text fine-tune: queries accept it
    if (!reason.empty()) reason = spec + " is not the model this set was made with: " + reason;
  } catch (const Error& e) {
    reason = e.what();
  }
  if (!reason.empty())
    throw Error("embedding set " + std::to_string(set.id) + " (" + id.id + ") cannot be activated: its model cannot be loaded: " +
                reason + ". Put the model back where the set was made from (" + spec + "), then activate it again");
}

}  // namespace

std::vector<store::EmbeddingSet> list_embedding_sets(const std::string& db) {
  return open_sets(db, store::OpenMode::ReadOnly)->embedding_sets();
}

store::EmbeddingSet activate_embedding_set(const std::string& db, int64_t id, bool allow_incomplete) {
  const std::unique_ptr<store::Store> s = open_sets(db, store::OpenMode::ReadWriteExisting);
  const std::unique_ptr<store::IndexerLock> lock = s->lock_indexer();
  const store::EmbeddingSet set = find_set(*s, id);
  if (set.active) return set;
  if (!set.complete() && !allow_incomplete)
    throw Error("embedding set " + std::to_string(id) + " (" + set.identity.id + ") holds " +
                std::to_string(set.covered_windows) + " of the " + std::to_string(set.windows) +
                " windows the index searches: `clapsearch index --model " + set.identity.id +
                "` completes it (or pass --incomplete to switch now and embed the rest with the next index run)");
  check_model_opens(set);
  s->activate_set(id);
  return find_set(*s, id);
}

void drop_embedding_set(const std::string& db, int64_t id) {
  const std::unique_ptr<store::Store> s = open_sets(db, store::OpenMode::ReadWriteExisting);
  const std::unique_ptr<store::IndexerLock> lock = s->lock_indexer();
  const store::EmbeddingSet set = find_set(*s, id);
  if (set.active)
    throw Error("embedding set " + std::to_string(id) + " (" + set.identity.id +
                ") is the active one, which every query reads: activate another set before dropping it");
  s->drop_set(id);
}

}  // namespace clap::service
