// `clapsearch models`: the embedding sets of an index (store::EmbeddingSet; issue 37) listed,
// switched and dropped, read and written without loading any model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::service {

// Every set of the index at `db` (empty = the default library), by id, with its coverage.
std::vector<store::EmbeddingSet> list_embedding_sets(const std::string& db);

// Makes set `id` the active one (one transaction; a running `clapsearch serve` picks it up with
// its next refresh). Refuses an incomplete set unless `allow_incomplete` (its missing windows are
// then deleted from the index: the next `clapsearch index` embeds them with its model). Takes the
// indexer lock: throws clap::Error while an index run holds it, and when the set's model cannot be
// found or is no longer the model that made it (its files and config are read; issue 53, L11).
// Returns the set as it is now.
store::EmbeddingSet activate_embedding_set(const std::string& db, int64_t id, bool allow_incomplete);

// Deletes inactive set `id` with its embeddings; refuses the active set. Takes the indexer lock.
void drop_embedding_set(const std::string& db, int64_t id);

}  // namespace clap::service
