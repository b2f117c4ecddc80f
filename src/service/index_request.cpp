#include "service/index_request.h"

#include "hub/hub.h"
#include "index/identity.h"

namespace clap::service {

ResolvedSettings resolve_settings(const IndexRequest& r, const std::optional<store::ModelIdentity>& stored) {
  ResolvedSettings s;
  s.model_spec = r.model ? *r.model : stored ? index::model_spec_of(*stored) : hub::kDefaultModel;
  if (!r.model && stored) s.model_options = index::hub_options_of(*stored);
  if (!r.model_config.empty()) s.model_options.config = r.model_config;
  if (!r.model_tokenizer.empty()) s.model_options.tokenizer = r.model_tokenizer;
  s.window_s = r.window_s ? *r.window_s : stored ? stored->window_s : 10.0;
  s.hop_s = r.hop_s ? *r.hop_s : stored ? stored->hop_s : 5.0;
  s.silence_db = r.silence_db ? *r.silence_db : stored ? stored->silence_db : -60.0;
  // auto is the default: its choice is reproducible (fidelity is arithmetic, and the speeds are
  // this machine's, measured once: precision_choice.h), so two fresh indexes of one library agree.
  const bool automatic = !r.precision || *r.precision == "auto";
  if (!automatic) {
    s.precision = parse_precision(*r.precision);
    // The same precision the index's choice made: the record of it stays (a --rebuild that names
    // it does not; neither does another precision, which the index refuses without --rebuild).
    if (stored && !r.rebuild && stored->precision == *r.precision) s.precision_choice = stored->precision_choice;
  } else if (stored && !(r.rebuild && r.precision)) {
    s.precision = parse_precision(stored->precision);  // a later run keeps the index's precision
    s.precision_choice = stored->precision_choice;
  } else {
    s.choose_precision = true;
  }
  return s;
}

PrecisionChoice choose_run_precision(const IndexRequest& r, ResolvedSettings& s, const hub::ResolvedModel& model,
                                     const ModelOpenOptions& open, std::shared_ptr<index::PrecutFirstPasses> precut) {
  PrecisionChoiceRequest q;
  q.model = model;
  q.open = open;
  q.dirs = r.dirs;
  q.crawl.include = r.include;
  q.crawl.exclude = r.exclude;
  q.crawl.skip = r.skip;
  q.crawl.follow_links_out = r.follow_links_out;  // the files the run indexes
  q.window_s = s.window_s;
  q.hop_s = s.hop_s;
  q.silence_db = s.silence_db;
  q.batch = r.batch;
  q.first_pass = r.first_pass;
  q.precut = std::move(precut);
  q.bounds = r.precision_bounds;
  q.progress = r.note;
  const PrecisionChoice choice = choose_precision(q);
  s.precision = parse_precision(choice.chosen);
  s.precision_choice = precision_choice_json(choice);
  return choice;
}

}  // namespace clap::service
