// The model folder's settings files on arbitrary bytes: config.json (ClapConfig) and
// preprocessor_config.json (FeatureConfig), each read as a model load reads it; a feature
// configuration that is accepted also builds the feature extractor (mel banks, FFT tables),
// as loading a model does, so an accepted setting that cannot be built is caught too.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "model/config.h"
#include "model/mel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const clap::ClapConfig config = clap::ClapConfig::from_json_text(text, "config.json");
    FUZZ_CHECK(!config.audio.depths.empty() && config.audio.depths.size() == config.audio.num_attention_heads.size());
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for a damaged file.
  }
  try {
    const clap::FeatureConfig features = clap::FeatureConfig::from_json_text(text, "preprocessor_config.json");
    const clap::MelExtractor mel(features);
    FUZZ_CHECK(mel.filters().size() ==
               static_cast<size_t>(features.nb_frequency_bins) * static_cast<size_t>(features.feature_size));
  } catch (const clap::Error&) {
  }
  return 0;
}
