// The fidelity report (`clapsearch doctor --fidelity DIR...`, and its older name `bench
// --fidelity`): a lower precision against fp32 on the user's own audio (service/fidelity.h).
#include "cli/fidelity.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "hub/hub.h"
#include "service/fidelity.h"
#include "service/records.h"

namespace clap::cli {

int run_fidelity(const FidelityOptions& o) {
  service::FidelityRequest r;
  r.model = o.model;
  r.model_options = hub::HubOptions{};
  r.model_options.config = o.config;
  r.model_options.tokenizer = o.tokenizer;
  r.precision = parse_precision(o.precision);
  r.text_precision = parse_precision(o.text_precision);
  r.dirs = o.dirs;
  r.k = o.top;
  r.threads = o.threads;
  r.batch = o.batch;
  if (!o.json) r.progress = print_note;
  const service::FidelityReport f = service::measure_fidelity(r);
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"precision", f.precision},
                        {"text_precision", f.text_precision},
                        {"files", f.files},
                        {"skipped", f.skipped},
                        {"windows", f.windows},
                        {"window_cosine_min", f.window_cosine_min},
                        {"window_cosine_mean", f.window_cosine_mean},
                        {"worst_window", f.worst_window},
                        {"track_cosine_min", f.track_cosine_min},
                        {"track_cosine_mean", f.track_cosine_mean},
                        {"k", f.k},
                        {"text_queries", f.text_queries},
                        {"text_cosine_min", f.text_cosine_min},
                        {"text_cosine_mean", f.text_cosine_mean},
                        {"text_topk_overlap", f.text_topk_overlap},
                        {"text_topk_overlap_min", f.text_topk_overlap_min},
                        {"track_queries", f.track_queries},
                        {"track_topk_overlap", f.track_topk_overlap},
                        {"track_topk_overlap_min", f.track_topk_overlap_min},
                        {"fp32_ms_per_window", f.fp32_ms_per_window},
                        {"low_ms_per_window", f.low_ms_per_window}};
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return 0;
  }
  std::printf("%s audio tower and %s text tower against fp32, %d files (%d skipped), %lld windows\n", f.precision.c_str(),
              f.text_precision.c_str(), f.files, f.skipped, static_cast<long long>(f.windows));
  std::printf("window cosine    min %.6f  mean %.6f  (worst: %s)\n", f.window_cosine_min, f.window_cosine_mean,
              terminal_text(f.worst_window).c_str());
  std::printf("track cosine     min %.6f  mean %.6f\n", f.track_cosine_min, f.track_cosine_mean);
  if (f.text_queries)
    std::printf("text cosine      min %.6f  mean %.6f  (%d query texts)\n", f.text_cosine_min, f.text_cosine_mean,
                f.text_queries);
  if (f.text_queries)
    std::printf("top-%d overlap   text queries %.3f (min %.2f over %d), track queries %.3f (min %.2f over %d)\n", f.k,
                f.text_topk_overlap, f.text_topk_overlap_min, f.text_queries, f.track_topk_overlap, f.track_topk_overlap_min,
                f.track_queries);
  else
    std::printf("top-%d overlap   track queries %.3f (min %.2f over %d); no tokenizer, no text queries\n", f.k,
                f.track_topk_overlap, f.track_topk_overlap_min, f.track_queries);
  std::printf("time per window  fp32 %s, %s %s (decoding included)\n", ms_text(f.fp32_ms_per_window).c_str(),
              f.precision.c_str(), ms_text(f.low_ms_per_window).c_str());
  return 0;
}

}  // namespace clap::cli
