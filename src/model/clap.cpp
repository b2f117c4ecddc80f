#include "model/clap.h"

#include <omp.h>
#include <pthread.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/profile.h"
#include "core/vector_math.h"
#include "model/clap_impl.h"
#include "model/laion.h"
#include "tensor/ops.h"

namespace clap {

namespace fs = std::filesystem;

namespace {

// The feature-extractor settings of the published checkpoints, for models built from a
// config.json alone: fused models use "fusion" truncation, unfused "rand_trunc" with fmin 50.
FeatureConfig default_features(const ClapConfig& c) {
  FeatureConfig f;
  f.frequency_min = 50;
  f.frequency_max = 14000;
  f.truncation = c.audio.enable_fusion ? "fusion" : "rand_trunc";
  return f;
}

// Reads one tower's weights (and its projection) from the source into the model.
void read_audio_tower(ClapModel::Impl& m, WeightSource& src) {
  m.audio = load_htsat(m.config.audio, src, "audio_model.audio_encoder");
  m.audio_projection = load_projection(src, "audio_projection", m.config.audio.hidden_size, m.config.projection_dim);
}
void read_text_tower(ClapModel::Impl& m, WeightSource& src) {
  m.text = load_roberta(m.config.text, src, "text_model");
  m.text_projection = load_projection(src, "text_projection", m.config.text.hidden_size, m.config.projection_dim);
}

// Every tensor of the model is checked (names, shapes, types, nothing left over) before anything
// runs; the towers to build now keep copies of what they read on every call (WeightSource::
// copy_kept), the others are read again on first use (Impl::load_tower_weights).
void load_towers(ClapModel::Impl& m, bool audio_now, bool text_now) {
  WeightSource& src = *m.source;
  src.copy_kept(audio_now);
  read_audio_tower(m, src);
  src.copy_kept(text_now);
  read_text_tower(m, src);
  const float* a = src.get("logit_scale_a", {1});
  const float* t = src.get("logit_scale_t", {1});
  src.check();
  m.logit_scale_a = *a;
  m.logit_scale_t = *t;
  if (!audio_now) {
    m.audio = {};
    m.audio_projection = {};
  }
  if (!text_now) {
    m.text = {};
    m.text_projection = {};
  }
  m.audio_weights_loaded = audio_now;
  m.text_weights_loaded = text_now;
}

// A packed layer is not read again: its pointers into the checkpoint are cleared, so that nothing
// can read the file through them once it is closed.
void forget(LinearWeights& l) { l.weight = l.bias = nullptr; }
void forget(ConvWeights& c) { c.weight = c.bias = nullptr; }
void forget_packed(HtsatWeights& w) {
  for (ConvWeights* c : {&w.patch_proj, &w.mel_conv2d, &w.aff.local_conv1, &w.aff.local_conv2, &w.aff.global_conv1,
                         &w.aff.global_conv2})
    forget(*c);
  for (SwinStageWeights& s : w.stages) {
    for (SwinBlockWeights& b : s.blocks)
      for (LinearWeights* l : {&b.query, &b.key, &b.value, &b.attention_output, &b.intermediate, &b.output}) forget(*l);
    forget(s.downsample_reduction);
  }
}
void forget_packed(RobertaWeights& w) {
  for (RobertaLayerWeights& l : w.layers)
    for (LinearWeights* x : {&l.query, &l.key, &l.value, &l.attention_output, &l.intermediate, &l.output}) forget(*x);
}

// The message of a text cut at the position limit: its first 60 bytes.
std::string truncation_warning(size_t limit, const std::string& text) {
  char message[160];
  std::snprintf(message, sizeof message, "text cut to the model's limit of %zu tokens: \"%.60s...\"", limit, text.c_str());
  return message;
}

}  // namespace

int default_thread_count() { return omp_get_num_procs(); }

namespace {
// OpenMP (libgomp) cannot run a parallel region of more than one thread in a child process forked
// after the parent ran one: the child waits for the parent's pool threads, which a fork does not
// copy. A Python multiprocessing worker (fork, Linux's default) using a Model hung for ever
// (hostile pass 8). A forked child runs every region on one thread, as PyTorch does; only an
// atomic store and the calling thread's thread-count setting happen in the handler.
std::atomic<bool> g_forked_child{false};
void on_fork_child() {
  g_forked_child.store(true);
  omp_set_num_threads(1);
}
[[maybe_unused]] const bool g_fork_handler_set = pthread_atfork(nullptr, nullptr, on_fork_child) == 0;
}  // namespace

ThreadCountScope::ThreadCountScope(int threads) : saved_(omp_get_max_threads()) {
  omp_set_num_threads(g_forked_child.load() ? 1 : threads);
}
ThreadCountScope::~ThreadCountScope() { omp_set_num_threads(saved_); }

namespace {
// OpenMP (libgomp) ends the process ("Thread creation failed", exit status 1) when it cannot
// start a region's threads: `threads=1024` under an address-space limit (`ulimit -v` 6 GiB; 1,024
// stacks of 8 MB) ended the Python interpreter (hostile pass 9). Before a state may use `threads`,
// as many threads are started with the default stack (which libgomp's take too, unless
// OMP_STACKSIZE is set) and held until all are up; if the system refuses one, a clap::Error says
// how many could start. Once per process for each new largest count (a few milliseconds).
std::mutex g_probe_mutex;
int g_threads_started = 1;  // under g_probe_mutex

void check_threads_can_start(int threads) {
  std::lock_guard<std::mutex> once(g_probe_mutex);
  if (threads <= g_threads_started) return;
  std::mutex hold;
  std::vector<pthread_t> started;
  started.reserve(static_cast<size_t>(threads));
  int failure = 0;
  hold.lock();  // each thread waits on it: all of them are alive at once, as a parallel region's are
  for (int i = 1; i < threads; ++i) {  // the calling thread is the region's first
    pthread_t t;
    failure = pthread_create(
        &t, nullptr,
        [](void* m) -> void* {
          static_cast<std::mutex*>(m)->lock();
          static_cast<std::mutex*>(m)->unlock();
          return nullptr;
        },
        &hold);
    if (failure != 0) break;
    started.push_back(t);
  }
  hold.unlock();
  for (pthread_t t : started) pthread_join(t, nullptr);
  if (failure != 0)
    throw Error("cannot run " + std::to_string(threads) + " threads: only " + std::to_string(started.size() + 1) +
                " could be started (" + std::strerror(failure) +
                ": a limit on memory, such as ulimit -v, or on processes); give fewer threads");
  g_threads_started = threads;
}
}  // namespace

ClapState::ClapState(int threads, WarningHandler on_warning)
    : threads_(threads > 0 ? threads : default_thread_count()),
      on_warning_(std::move(on_warning)),
      scratch_(std::make_unique<Scratch>()) {
  check_threads_can_start(threads_);
}
ClapState::~ClapState() = default;
ClapState::ClapState(ClapState&&) noexcept = default;
ClapState& ClapState::operator=(ClapState&&) noexcept = default;

void ClapState::warn(const std::string& message) const {
  if (on_warning_) on_warning_(message);
}

ClapModel::ClapModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClapModel::~ClapModel() = default;

const std::vector<std::string>& weights_file_names() {
  static const std::vector<std::string> names = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                                 "pytorch_model.bin.index.json"};
  return names;
}

ModelFiles ModelFiles::in_folder(const std::string& model_dir) {
  if (!fs::is_directory(model_dir)) throw Error(model_dir + ": not a model folder (expected config.json, model.safetensors, ...)");
  const fs::path dir(model_dir);
  ModelFiles f;
  for (const std::string& name : weights_file_names())
    if (fs::exists(dir / name)) {
      f.weights = (dir / name).string();
      break;
    }
  if (f.weights.empty()) f.weights = (dir / "model.safetensors").string();  // load() reports it missing
  f.config = (dir / "config.json").string();
  if (fs::exists(dir / "preprocessor_config.json")) f.preprocessor = (dir / "preprocessor_config.json").string();
  // Audio-only folders (no tokenizer files) load; embed_text then reports the missing files.
  if (fs::exists(dir / "tokenizer.json") || fs::exists(dir / "vocab.json")) f.tokenizer_dir = model_dir;
  return f;
}

namespace {

ClapConfig config_of(const ModelFiles& files, const Checkpoint* checkpoint) {
  ClapConfig config;
  if (!files.config.empty()) {
    config = ClapConfig::from_json_file(files.config);
    config.features = default_features(config);
  } else {
    std::unique_ptr<Checkpoint> opened;
    if (!checkpoint) {
      opened = laion::open_in_hugging_face_names(files.weights);
      checkpoint = opened.get();
    }
    config = laion::infer_config(*checkpoint);
  }
  if (!files.preprocessor.empty()) {
    config.features = FeatureConfig::from_json_file(files.preprocessor);
    if (config.features.truncation == "fusion" && !config.audio.enable_fusion)
      throw Error(files.preprocessor + ": truncation 'fusion' needs a fused model (the config's enable_fusion is false)");
    if (config.features.feature_size != config.audio.num_mel_bins)
      throw Error(files.preprocessor + ": field 'feature_size' " + std::to_string(config.features.feature_size) +
                  " is not the model's num_mel_bins " + std::to_string(config.audio.num_mel_bins) + " (audio_config)");
  }
  return config;
}

}  // namespace

ClapConfig ClapModel::read_config(const ModelFiles& files) { return config_of(files, nullptr); }

std::unique_ptr<ClapModel> ClapModel::load(const std::string& model_dir, const LoadOptions& options) {
  return load(ModelFiles::in_folder(model_dir), options);
}

std::unique_ptr<ClapModel> ClapModel::load(const ModelFiles& files, const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->audio_precision = options.audio_precision;
  impl->text_precision = options.text_precision;
  impl->int8_layers = options.int8_layers;
  // A given config is read first: its problems are reported before the weights are opened.
  if (!files.config.empty()) (void)ClapConfig::from_json_file(files.config);
  std::error_code ec;
  if (!fs::exists(files.weights, ec))
    throw Error(files.weights + ": missing (a model folder holds model.safetensors or pytorch_model.bin)");
  auto checkpoint = laion::open_in_hugging_face_names(files.weights);
  impl->weights_format = checkpoint->format();
  impl->config = config_of(files, checkpoint.get());
  impl->source = WeightSource::from_checkpoint(std::move(checkpoint));
  load_towers(*impl, options.prepare_audio, options.prepare_text);
  impl->mel = std::make_unique<MelExtractor>(impl->config.features);
  impl->no_tokenizer_hint = files.no_tokenizer_hint;
  if (!files.tokenizer_dir.empty()) impl->tokenizer = Tokenizer::from_dir(files.tokenizer_dir);
  if (impl->tokenizer && impl->tokenizer->vocab_size() > static_cast<size_t>(impl->config.text.vocab_size))
    throw Error(files.tokenizer_dir + ": tokenizer has " + std::to_string(impl->tokenizer->vocab_size()) +
                " tokens but the text model's vocab_size is " + std::to_string(impl->config.text.vocab_size));
  if (options.prepare_audio) impl->audio_kernels();
  if (options.prepare_text) impl->text_kernels();
  return std::unique_ptr<ClapModel>(new ClapModel(std::move(impl)));
}

std::unique_ptr<ClapModel> ClapModel::random(const std::string& config_json_path, uint64_t seed,
                                             const std::string& tokenizer_dir) {
  auto impl = std::make_unique<Impl>();
  impl->config = ClapConfig::from_json_file(config_json_path);
  const fs::path pre = fs::path(config_json_path).parent_path() / "preprocessor_config.json";
  impl->config.features = fs::exists(pre) ? FeatureConfig::from_json_file(pre.string()) : default_features(impl->config);
  impl->source = WeightSource::random(seed);
  load_towers(*impl, true, true);  // generated: nothing to read later
  impl->mel = std::make_unique<MelExtractor>(impl->config.features);
  if (!tokenizer_dir.empty()) impl->tokenizer = Tokenizer::from_dir(tokenizer_dir);
  return std::unique_ptr<ClapModel>(new ClapModel(std::move(impl)));
}

const ClapConfig& ClapModel::config() const { return impl_->config; }
Precision ClapModel::audio_precision() const { return impl_->audio_precision; }
Precision ClapModel::text_precision() const { return impl_->text_precision; }

const char* precision_name(Precision precision) {
  return precision == Precision::BF16 ? "bf16" : precision == Precision::I8 ? "int8" : "fp32";
}

const char* audio_gemm_kernel(Precision precision) {
  // The Swin layers' kernel (an int8 tower keeps its patch embedding in bf16: htsat.h).
  return packed_gemm_kernel(precision == Precision::BF16 ? WeightType::BF16
                            : precision == Precision::I8 ? WeightType::I8
                                                         : WeightType::F32);
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::F32;
  if (name == "bf16") return Precision::BF16;
  if (name == "int8") return Precision::I8;
  throw Error("unknown precision '" + name + "' (choose fp32, bf16 or int8)");
}
float ClapModel::logit_scale_audio() const { return std::exp(impl_->logit_scale_a); }
float ClapModel::logit_scale_text() const { return std::exp(impl_->logit_scale_t); }
int64_t ClapModel::parameter_count() const { return impl_->source->parameters_used(); }
size_t ClapModel::weight_bytes() const { return impl_->source->bytes_used(); }
size_t ClapModel::copied_weight_bytes() const { return impl_->source->bytes_copied(); }
const std::string& ClapModel::weights_format() const { return impl_->weights_format; }
bool ClapModel::has_tokenizer() const { return impl_->tokenizer.has_value(); }

void ClapModel::save_random_snapshot(const std::string& dir) const {
  fs::create_directories(dir);
  impl_->source->save_generated((fs::path(dir) / "model.safetensors").string());
}

void ClapModel::Impl::load_tower_weights(bool audio_tower) {
  WeightSource& src = *source;
  const char* tower = audio_tower ? "audio" : "text";
  if (!src.file_open()) throw Error("internal: the " + std::string(tower) + " tower is loaded after its checkpoint was closed");
  // The tower is read from the file mapped at load. When the file was written to since (`cp`
  // or `rsync --inplace` over it, a truncation), its pages would now read other weights (or kill
  // the process past a new end): refused. A file renamed over the name is not this file.
  if (const std::string changed = src.changed_file(); !changed.empty())
    throw Error(changed + ": the model file was written to since the model was loaded (rewritten in place); its " +
                tower + " tower cannot be read from it any more: load the model again (restart) to use the new file");
  src.copy_kept(true);
  if (audio_tower) read_audio_tower(*this, src);
  else read_text_tower(*this, src);
  src.check(/*unused=*/false);
  (audio_tower ? audio_weights_loaded : text_weights_loaded) = true;
}

void ClapModel::Impl::close_when_both_built() {
  if (audio_kernels_built_.load() && text_kernels_built_.load()) source->close_file();
}

// The const methods below fill the tower's fields once, under call_once and load_mutex_: the
// model object itself is never const (ClapModel owns it), so writing them is defined.
const HtsatKernels& ClapModel::Impl::audio_kernels() const {
  std::call_once(audio_kernels_once_, [this] {
    Impl& self = const_cast<Impl&>(*this);
    std::lock_guard<std::mutex> one_reader(load_mutex_);
    if (!audio_weights_loaded) self.load_tower_weights(/*audio_tower=*/true);
    const auto release = [this](const LinearWeights& layer) { source->release(layer); };
    if (audio_precision == Precision::I8) {
      audio_kernels_ = std::make_unique<const HtsatKernels>(
          pack_htsat(audio, htsat_int8_layers(int8_layers.empty() ? kHtsatInt8Layers : int8_layers), release));
    } else {
      audio_kernels_ = std::make_unique<const HtsatKernels>(
          pack_htsat(audio, audio_precision == Precision::BF16 ? WeightType::BF16 : WeightType::F32, release));
    }
    forget_packed(self.audio);
    audio_kernels_built_ = true;
    self.close_when_both_built();
  });
  return *audio_kernels_;
}

// Every precision packs the encoder into panels, float32 too: a batch of texts (the server's
// concurrent new queries) then runs as a register-blocked GEMM instead of one dot product per
// row and output (16 short texts: 97 instead of 122 ms; one text 11 instead of 16-40 ms, since
// packing also drops the rows' page faults from every later call). Packing costs ~0.1 s once.
const RobertaKernels& ClapModel::Impl::text_kernels() const {
  std::call_once(text_kernels_once_, [this] {
    Impl& self = const_cast<Impl&>(*this);
    std::lock_guard<std::mutex> one_reader(load_mutex_);
    if (!text_weights_loaded) self.load_tower_weights(/*audio_tower=*/false);
    const WeightType type = text_precision == Precision::I8     ? WeightType::I8
                            : text_precision == Precision::BF16 ? WeightType::BF16
                                                                : WeightType::F32;
    text_kernels_ = std::make_unique<const RobertaKernels>(
        pack_roberta(text, type, [this](const LinearWeights& layer) { source->release(layer); }));
    forget_packed(self.text);
    text_kernels_built_ = true;
    self.close_when_both_built();
  });
  return *text_kernels_;
}

size_t ClapModel::Impl::max_text_tokens() const {
  // Positions start after padding_idx, so padding_idx + 1 slots of the table are unusable.
  return static_cast<size_t>(config.text.max_position_embeddings - config.text.pad_token_id - 1);
}

void ClapModel::Impl::audio_from_features(ClapState& state, const float* features, int batch, int channels, int frames,
                                          int mels, const uint8_t* is_longer, float* embeddings, Trace* trace,
                                          std::vector<float>* pooled_out, std::vector<float>* projected_out) const {
  const HtsatKernels& kernels = audio_kernels();
  flush_denormals_in_all_threads();
  const int hidden = config.audio.hidden_size, dim = config.projection_dim;
  std::vector<float> pooled(static_cast<size_t>(batch) * hidden);
  // The whole batch goes through the tower together: its kernels compute every row (and
  // every attention window) on its own, so a clip's embedding does not depend on the batch.
  htsat_forward(config.audio, audio, kernels, state.scratch().htsat, features, batch, channels, frames, mels, is_longer,
                pooled.data(), trace);
  for (int b = 0; b < batch; ++b)
    projection_forward(audio_projection, config.projection_hidden_act, pooled.data() + static_cast<size_t>(b) * hidden, 1,
                       embeddings + static_cast<size_t>(b) * dim);
  if (pooled_out) *pooled_out = pooled;
  if (projected_out) projected_out->assign(embeddings, embeddings + static_cast<size_t>(batch) * dim);
  l2_normalize_rows(embeddings, batch, dim);
}

void ClapModel::Impl::texts_from_ids(const std::vector<std::vector<int64_t>>& ids, float* embeddings,
                                     float* pooled_rows) const {
  flush_denormals_in_all_threads();
  const int64_t hidden = config.text.hidden_size, dim = config.projection_dim;
  std::vector<std::span<const int64_t>> sequences(ids.begin(), ids.end());
  std::vector<float> pooled(ids.size() * hidden);
  roberta_forward(config.text, text, text_kernels(), sequences, pooled.data());
  if (pooled_rows) std::copy(pooled.begin(), pooled.end(), pooled_rows);
  for (size_t i = 0; i < ids.size(); ++i)  // one row at a time: the same kernel path as a single text
    projection_forward(text_projection, config.projection_hidden_act, pooled.data() + i * hidden, 1, embeddings + i * dim);
  l2_normalize_rows(embeddings, static_cast<int64_t>(ids.size()), dim);
}

void ClapModel::Impl::text_from_ids(const int64_t* ids, int length, float* embedding, TextTrace* trace,
                                    std::vector<float>* pooled_out, std::vector<float>* projected_out) const {
  flush_denormals_in_all_threads();
  std::vector<float> pooled(static_cast<size_t>(config.text.hidden_size));
  roberta_forward(config.text, text, text_kernels(), ids, length, pooled.data(), trace);
  projection_forward(text_projection, config.projection_hidden_act, pooled.data(), 1, embedding);
  if (pooled_out) *pooled_out = pooled;
  if (projected_out) projected_out->assign(embedding, embedding + config.projection_dim);
  l2_normalize_rows(embedding, 1, config.projection_dim);
}

void ClapModel::Impl::audio_batches(ClapState& state, const std::vector<std::span<const float>>& clips, int batch,
                                    float* embeddings, float* pooled_rows) const {
  const ThreadCountScope threads(state.threads());
  const int dim = config.projection_dim;
  const size_t hidden = static_cast<size_t>(config.audio.hidden_size);
  if (batch < 1) batch = 1;
  std::vector<float> pooled;
  for (size_t start = 0; start < clips.size(); start += batch) {
    const int n = static_cast<int>(std::min<size_t>(batch, clips.size() - start));
    std::vector<MelFeatures> feats(n);
    std::string error;
    std::optional<profile::Scope> mel_scope(std::in_place, "log-mel features (clips in parallel)");
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) {
      const auto& clip = clips[start + i];
      try {
        feats[i] = mel->features(clip.data(), clip.size());
      } catch (const std::exception& e) {
#pragma omp critical
        error = e.what();
      }
    }
    if (!error.empty()) throw Error(error);
    const MelFeatures& f0 = feats[0];
    const size_t per = static_cast<size_t>(f0.channels) * f0.frames * f0.mels;
    // Reused across calls: a fresh multi-megabyte buffer costs page faults every batch.
    std::vector<float>& batch_features = state.scratch().batch_features;
    batch_features.resize(per * n);
    std::vector<uint8_t> longer(n);
    for (int i = 0; i < n; ++i) {
      std::copy(feats[i].data.begin(), feats[i].data.end(), batch_features.begin() + per * i);
      longer[i] = feats[i].is_longer ? 1 : 0;
    }
    mel_scope.reset();
    audio_from_features(state, batch_features.data(), n, f0.channels, f0.frames, f0.mels, longer.data(),
                        embeddings + start * dim, nullptr, pooled_rows ? &pooled : nullptr);
    if (pooled_rows) std::copy(pooled.begin(), pooled.end(), pooled_rows + start * hidden);
  }
}

void ClapModel::Impl::text_batches(ClapState& state, const std::vector<std::string>& texts, int batch, float* embeddings,
                                   float* pooled_rows, size_t max_tokens, std::vector<uint8_t>* cut) const {
  if (!tokenizer)
    throw Error(no_tokenizer_hint.empty() ? "this model has no tokenizer (vocab.json + merges.txt or tokenizer.json)"
                                          : no_tokenizer_hint);
  const ThreadCountScope threads(state.threads());
  if (batch < 1) batch = 1;
  const size_t dim = static_cast<size_t>(config.projection_dim), hidden = static_cast<size_t>(config.text.hidden_size);
  // A caller's own limit (LAION's 77 tokens) is a choice it made, so cutting at it is silent;
  // only a cut at the model's position limit, which the caller did not ask for, is warned of.
  // At least 2: <s> and </s> always fit.
  const size_t limit =
      max_tokens > 0 ? std::min(std::max<size_t>(max_tokens, 2), max_text_tokens()) : max_text_tokens();
  if (cut) cut->assign(texts.size(), 0);
  for (size_t start = 0; start < texts.size(); start += batch) {
    const size_t count = std::min<size_t>(batch, texts.size() - start);
    std::vector<std::vector<int64_t>> ids(count);
    for (size_t i = 0; i < count; ++i) {
      const std::string& text = texts[start + i];
      Encoding enc = tokenizer->encode(text, limit);
      if (enc.truncated && limit == max_text_tokens()) {
        state.warn(truncation_warning(limit, text));
        if (cut) (*cut)[start + i] = 1;
      }
      ids[i] = std::move(enc.ids);
    }
    texts_from_ids(ids, embeddings + start * dim, pooled_rows ? pooled_rows + start * hidden : nullptr);
  }
}

std::vector<float> ClapModel::embed_audio(ClapState& state, const std::vector<std::span<const float>>& clips,
                                          int batch) const {
  std::vector<float> out(clips.size() * impl_->config.projection_dim);
  impl_->audio_batches(state, clips, batch, out.data(), nullptr);
  return out;
}

std::vector<float> ClapModel::embed_text(ClapState& state, const std::vector<std::string>& texts, int batch,
                                         size_t max_tokens, std::vector<uint8_t>* cut) const {
  std::vector<float> out(texts.size() * impl_->config.projection_dim);
  impl_->text_batches(state, texts, batch, out.data(), nullptr, max_tokens, cut);
  return out;
}

std::vector<float> ClapModel::audio_pooled(ClapState& state, const std::vector<std::span<const float>>& clips,
                                           int batch) const {
  std::vector<float> embeddings(clips.size() * impl_->config.projection_dim);
  std::vector<float> pooled(clips.size() * impl_->config.audio.hidden_size);
  impl_->audio_batches(state, clips, batch, embeddings.data(), pooled.data());
  return pooled;
}

std::vector<float> ClapModel::text_pooled(ClapState& state, const std::vector<std::string>& texts, int batch) const {
  std::vector<float> embeddings(texts.size() * impl_->config.projection_dim);
  std::vector<float> pooled(texts.size() * impl_->config.text.hidden_size);
  impl_->text_batches(state, texts, batch, embeddings.data(), pooled.data());
  return pooled;
}

std::vector<float> ClapModel::embed_audio(const std::vector<std::span<const float>>& clips, int batch) const {
  ClapState state;
  return embed_audio(state, clips, batch);
}

std::vector<float> ClapModel::embed_text(const std::vector<std::string>& texts, int batch) const {
  ClapState state;
  return embed_text(state, texts, batch);
}

}  // namespace clap
