#include "index/identity.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_hash.h"
#include "core/sha256.h"
#include "model/config.h"

namespace clap::index {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string() + ": cannot read");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string config_hash(const std::string& model_dir) {
  Sha256 h;
  h.update(read_file(fs::path(model_dir) / "config.json"));
  const fs::path pre = fs::path(model_dir) / "preprocessor_config.json";
  std::error_code ec;
  if (fs::exists(pre, ec)) h.update(read_file(pre));
  return h.hex_digest();
}

std::string model_content_hash(const std::string& model_dir) {
  Sha256 h;
  for (const std::string& name : hub::model_files()) {
    const fs::path file = fs::path(model_dir) / name;
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    std::string digest = hub::cached_blob_sha256(file.string());
    if (digest.empty()) digest = cached_sha256_file(file.string());
    h.update(name + "\t" + digest + "\n");
  }
  return h.hex_digest();
}

namespace {
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

void check_window_settings(double window_s, double hop_s, const std::string& window_option) {
  if (!(window_s >= kMinWindowSeconds))
    throw Error(window_option + " " + number_text(window_s) + " s: at least " + number_text(kMinWindowSeconds) + " s");
  if (!(hop_s >= kMinHopSeconds))
    throw Error("--hop " + number_text(hop_s) + " s: at least " + number_text(kMinHopSeconds) +
                " s (every window is one model run: a 0.5 s hop already makes 10 times the default work)");
  if (hop_s > window_s + 1e-9)
    throw Error("--hop " + number_text(hop_s) + " s is longer than " + window_option + " " + number_text(window_s) +
                " s: audio between windows would be left out");
}

ModelSpec describe_model(const hub::ResolvedModel& resolved, double window_s, double hop_s, double silence_db) {
  ModelSpec m;
  m.resolved = resolved;
  const fs::path dir(resolved.dir);
  const ClapConfig config = ClapConfig::from_json_file((dir / "config.json").string());
  FeatureConfig features = config.features;
  std::error_code ec;
  if (fs::exists(dir / "preprocessor_config.json", ec))
    features = FeatureConfig::from_json_file((dir / "preprocessor_config.json").string());
  m.sample_rate = features.sampling_rate;
  m.max_samples = features.nb_max_samples;
  check_window_settings(window_s, hop_s);
  if (!(silence_db >= -200 && silence_db <= 0))
    throw Error("--silence-db " + number_text(silence_db) + ": must be between -200 and 0 dBFS");
  const double max_s = double(m.max_samples) / m.sample_rate;
  if (std::llround(window_s * m.sample_rate) > m.max_samples)
    throw Error("--window " + std::to_string(window_s) + " s is longer than the model's input (" + std::to_string(max_s) +
                " s)");
  if (std::llround(hop_s * m.sample_rate) < 1) throw Error("--hop is shorter than one sample");
  m.identity.id = resolved.id;
  m.identity.revision = resolved.revision;
  m.identity.config_hash = config_hash(resolved.dir);
  m.identity.content_hash = model_content_hash(resolved.dir);
  m.identity.window_s = window_s;
  m.identity.hop_s = hop_s;
  m.identity.dim = config.projection_dim;
  m.identity.silence_db = silence_db;
  return m;
}

std::string model_spec_of(const store::ModelIdentity& identity) {
  if (identity.revision.empty() || identity.revision == "local") return identity.id;
  return identity.id + "@" + identity.revision;
}

}  // namespace clap::index
