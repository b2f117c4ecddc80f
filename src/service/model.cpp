#include "service/model.h"

#include "index/identity.h"
#include "service/model_health.h"

namespace clap::service {

std::unique_ptr<ClapModel> load_model(const hub::ResolvedModel& resolved, const ModelOpenOptions& options) {
  LoadOptions load_options;
  load_options.audio_precision = options.audio_precision;
  load_options.prepare_audio = options.prepare_audio;
  load_options.prepare_text = options.prepare_text;
  load_options.text_precision = options.text_precision;
  auto model = ClapModel::load(index::model_files_of(resolved), load_options);
  // A model just downloaded is used here for the first time: check its text tower once.
  if (resolved.downloaded && model->has_tokenizer()) {
    const ModelHealth health = check_text_health(*model, options.threads);
    if (health.collapsed && options.warn) options.warn(collapsed_warning(resolved.id, health));
  }
  return model;
}

OpenedModel open_model(const std::string& spec, const ModelOpenOptions& options) {
  OpenedModel out;
  out.resolved = hub::resolve_model(spec, options.hub);
  out.model = load_model(out.resolved, options);
  return out;
}

}  // namespace clap::service
