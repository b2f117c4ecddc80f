// How far a lower-precision audio or text tower moves embeddings and rankings, measured against
// fp32 on the same inputs (`clapsearch bench --fidelity DIR`): every window of every file under
// the folders is embedded by both audio towers; the report gives the cosine of each window's
// two embeddings (worst and mean), the same for track embeddings and for the query texts, and
// how much the top-k lists of text queries (each side with its own towers) and of
// track-to-track queries over those files agree.
#pragma once
#include <string>
#include <vector>

#include "service/model.h"

namespace clap::service {

struct FidelityRequest {
  std::string model;
  hub::HubOptions model_options;  // --config / --tokenizer
  Precision precision = Precision::BF16;       // of the audio tower
  Precision text_precision = Precision::F32;   // of the text tower
  std::vector<std::string> dirs;  // folders or files of audio
  std::vector<std::string> texts; // text queries; empty = default_fidelity_texts()
  int k = 10;                     // top-k compared
  int threads = 0, batch = 8;
  Notice progress;                // one line per file (null: quiet)
};

struct FidelityReport {
  std::string precision, text_precision;
  int files = 0, skipped = 0;    // embedded / not decodable or silent throughout
  int64_t windows = 0;           // non-silent windows compared
  double window_cosine_min = 1, window_cosine_mean = 1;
  std::string worst_window;      // "path @ start s"
  double track_cosine_min = 1, track_cosine_mean = 1;
  int k = 10;
  int text_queries = 0, track_queries = 0;
  double text_cosine_min = 1, text_cosine_mean = 1;  // each query text's two embeddings
  double text_topk_overlap = 1;  // mean over text queries of |top-k fp32 ∩ top-k low| / k
  double track_topk_overlap = 1; // the same for each track as a query (itself left out)
  double text_topk_overlap_min = 1, track_topk_overlap_min = 1;
  double fp32_ms_per_window = 0, low_ms_per_window = 0;  // embedding time in this run
};

const std::vector<std::string>& default_fidelity_texts();

// Throws clap::Error when the model cannot be opened or no file could be embedded.
FidelityReport measure_fidelity(const FidelityRequest& request);

// The measures the report (and --precision auto, precision_choice.h) is made of. The cosine of two
// embeddings in double precision (0 when one is zero); the indices of the k best rows of `rows`
// (n x dim) for `query` by dot product, ties to the lower index, row `skip` left out (-1: none);
// the share of `reference` that `other` also holds (1 when `reference` is empty).
double embedding_cosine(const float* a, const float* b, int dim);
std::vector<int> top_k_rows(const std::vector<float>& rows, int n, int dim, const float* query, int k, int skip);
double topk_overlap(std::vector<int> reference, std::vector<int> other);

}  // namespace clap::service
