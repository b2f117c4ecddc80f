#include "service/embed.h"

#include <algorithm>

#include "audio/ffmpeg_library.h"
#include "service/audio_embedding.h"

namespace clap::service {

EmbedResult embed_inputs(const EmbedRequest& r) {
  check_hop(r.hop_s);  // before the model loads: a usage error, not one line per file
  ModelOpenOptions mo;
  mo.hub = r.model_options;
  mo.threads = r.threads;
  mo.warn = r.warn;
  mo.audio_precision = r.audio_precision;
  mo.text_precision = r.text_precision;
  const OpenedModel opened = open_model(r.model, mo);
  const ClapModel& model = *opened.model;
  ClapState state(r.threads, r.warn);
  EmbedResult result;
  result.dim = model.embedding_dim();
  std::vector<std::string> texts;
  std::vector<size_t> text_slots;
  // FFmpeg, Chromaprint and libsoxr are loaded before the first file, as index's Pipeline::run
  // does: one that cannot be loaded is the run's error. Loaded by the first decode, it was every
  // audio input's own error (one line, a JSON "error" or a NaN .npy row per file, exit 2), as if
  // the files were at fault (hostile pass 19, H19C-2).
  if (std::any_of(r.inputs.begin(), r.inputs.end(), [](const EmbedInput& in) { return in.is_audio; }))
    audio::media::functions();
  for (const EmbedInput& in : r.inputs) {
    EmbedOutput out{in, {}, {}};
    if (in.is_audio) {
      try {
        out.embedding = embed_audio_file(model, state, in.value, r.hop_s, r.batch);
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    } else {
      texts.push_back(in.value);
      text_slots.push_back(result.outputs.size());
    }
    result.outputs.push_back(std::move(out));
  }
  if (!texts.empty()) {
    const std::vector<float> emb = model.embed_text(state, texts, r.batch);
    const size_t d = static_cast<size_t>(result.dim);
    for (size_t k = 0; k < texts.size(); ++k)
      result.outputs[text_slots[k]].embedding.assign(emb.begin() + static_cast<long>(k * d),
                                                     emb.begin() + static_cast<long>((k + 1) * d));
  }
  return result;
}

}  // namespace clap::service
