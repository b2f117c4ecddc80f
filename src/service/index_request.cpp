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
  s.precision = parse_precision(r.precision ? *r.precision : stored ? stored->precision : "fp32");
  return s;
}

}  // namespace clap::service
