#include "audio/fingerprint.h"
#include "audio/ffmpeg_library.h"

#include <chromaprint.h>

#include <algorithm>
#include <cmath>

#include "audio/decode.h"
#include "core/error.h"

namespace clap::audio {

struct Fingerprinter::Context {
  ChromaprintContext* ctx = nullptr;
  ~Context() {
    if (ctx) CLAP_MEDIA_RELEASE(chromaprint_free)(ctx);
  }
};

namespace {

ChromaprintContext* new_context() {
  ChromaprintContext* ctx = CLAP_MEDIA(chromaprint_new)(CHROMAPRINT_ALGORITHM_DEFAULT);
  if (!ctx) throw Error("fingerprint: Chromaprint could not make a context");
  return ctx;
}

}  // namespace

double fingerprint_item_seconds() {
  static const double seconds = [] {
    ChromaprintContext* ctx = new_context();
    const double s = static_cast<double>(CLAP_MEDIA(chromaprint_get_item_duration)(ctx)) / CLAP_MEDIA(chromaprint_get_sample_rate)(ctx);
    CLAP_MEDIA_RELEASE(chromaprint_free)(ctx);
    return s;
  }();
  return seconds;
}

Fingerprinter::Fingerprinter(int sample_rate)
    : c_(std::make_unique<Context>()),
      sample_rate_(sample_rate),
      limit_(static_cast<size_t>(kFingerprintSeconds * sample_rate)) {
  if (sample_rate <= 0) throw Error("fingerprint: the sample rate must be positive");
  c_->ctx = new_context();
  restart();
}

Fingerprinter::~Fingerprinter() = default;

void Fingerprinter::restart() {
  if (!CLAP_MEDIA(chromaprint_start)(c_->ctx, sample_rate_, 1))
    throw Error("fingerprint: Chromaprint refused a sample rate of " + std::to_string(sample_rate_) + " Hz");
  fed_ = 0;
}

void Fingerprinter::feed(const float* samples, size_t n) {
  n = std::min(n, limit_ - fed_);
  if (n == 0) return;
  pcm_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float x = std::clamp(samples[i], -1.0f, 1.0f);
    pcm_[i] = static_cast<int16_t>(std::lrint(x * 32767.0f));
  }
  if (!CLAP_MEDIA(chromaprint_feed)(c_->ctx, pcm_.data(), static_cast<int>(n))) throw Error("fingerprint: Chromaprint refused the audio");
  fed_ += n;
}

std::vector<uint32_t> Fingerprinter::finish() {
  if (!CLAP_MEDIA(chromaprint_finish)(c_->ctx)) throw Error("fingerprint: Chromaprint could not finish the fingerprint");
  uint32_t* raw = nullptr;
  int size = 0;
  if (!CLAP_MEDIA(chromaprint_get_raw_fingerprint)(c_->ctx, &raw, &size)) return {};  // too short for one item
  std::vector<uint32_t> items(raw, raw + std::max(size, 0));
  CLAP_MEDIA_RELEASE(chromaprint_dealloc)(raw);
  return items;
}

std::vector<uint32_t> fingerprint_file(const std::string& path, int sample_rate) {
  struct Enough {};  // thrown through the decoder once the fingerprinted part is read
  Fingerprinter printer(sample_rate);
  const auto limit = static_cast<size_t>(kFingerprintSeconds * sample_rate);
  size_t read = 0;
  try {
    decode_stream(path, sample_rate, [&](const float* x, size_t n) {
      printer.feed(x, n);
      read += n;
      if (read >= limit) throw Enough{};
    });
  } catch (const Enough&) {
  }
  return printer.finish();
}

}  // namespace clap::audio
