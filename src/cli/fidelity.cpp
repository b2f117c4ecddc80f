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

std::vector<std::string> precision_choice_lines(const service::PrecisionChoice& c) {
  std::vector<std::string> lines;
  char buf[512];
  if (!c.measured) {
    lines.push_back(c.chosen + " (--precision auto: " + c.reason + ")");
    return lines;
  }
  std::snprintf(buf, sizeof buf, "%s, chosen on this machine by --precision auto: %d windows of %d tracks, %d text queries, top-%d (%s, %d threads)",
                c.chosen.c_str(), c.windows, c.tracks, c.text_queries, c.k, c.kernel_set.c_str(), c.threads);
  lines.push_back(buf);
  for (const service::PrecisionTrial& t : c.trials) {
    if (!t.measured) {
      lines.push_back(t.precision + "  " + t.reason);
      continue;
    }
    std::snprintf(buf, sizeof buf, "%-4s  window cosine min %.6f  top-%d agreement %.3f (min %.2f)  %s a window  %s",
                  t.precision.c_str(), t.window_cosine_min, c.k, t.topk_agreement, t.topk_agreement_min,
                  ms_text(t.ms_per_window).c_str(), t.reason.c_str());
    lines.push_back(buf);
  }
  return lines;
}

int run_precision_table(const FidelityOptions& o) {
  service::PrecisionChoiceRequest r;
  r.model = hub::resolve_model(o.model, [&] {
    hub::HubOptions h;
    h.config = o.config;
    h.tokenizer = o.tokenizer;
    return h;
  }());
  r.open.hub.config = o.config;
  r.open.hub.tokenizer = o.tokenizer;
  r.open.threads = o.threads;
  r.open.warn = print_warning;
  r.dirs = o.dirs;
  r.batch = o.batch;
  if (!o.json) r.progress = print_note;
  const service::PrecisionChoice c = service::choose_precision(r);
  if (o.json) {
    nlohmann::json j = nlohmann::json::parse(service::precision_choice_json(c));
    j["model"] = o.model;
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return 0;
  }
  const std::vector<std::string> lines = precision_choice_lines(c);
  for (size_t i = 0; i < lines.size(); ++i) std::printf("%s%s\n", i ? "  " : "precision ", lines[i].c_str());
  return 0;
}

}  // namespace clap::cli
