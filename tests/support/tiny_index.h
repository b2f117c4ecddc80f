// An index run with the tiny golden model (tests/data/tiny-unfused), for the index layer's tests.
#pragma once
#include <string>
#include <vector>

#include "index/indexer.h"

namespace clap::test {

const ClapModel& tiny_model();  // loaded once

// index_roots over `roots` into `store` with the tiny model (its identity recorded first).
index::IndexSummary index_with_tiny(store::Store& store, const std::vector<std::string>& roots,
                                    const index::IndexSettings& settings = {}, const index::IndexCallbacks& callbacks = {});

}  // namespace clap::test
