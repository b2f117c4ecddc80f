#include "support/tiny_index.h"

#include <memory>

#include "hub/hub.h"
#include "support/golden.h"

namespace clap::test {

const ClapModel& tiny_model() {
  static std::unique_ptr<ClapModel> model = ClapModel::load(case_dir("tiny-unfused"));
  return *model;
}

index::IndexSummary index_with_tiny(store::Store& store, const std::vector<std::string>& roots,
                                    const index::IndexSettings& settings, const index::IndexCallbacks& callbacks) {
  const hub::ResolvedModel r = hub::resolve_model(case_dir("tiny-unfused"));
  const index::ModelSpec spec = index::describe_model(r, settings.window_s, settings.hop_s, settings.silence_db);
  index::ensure_identity(store, spec.identity, false);
  return index::index_roots(store, roots, spec, settings, [&]() -> const ClapModel& { return tiny_model(); }, callbacks);
}

}  // namespace clap::test
