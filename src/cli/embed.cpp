// clapsearch embed: audio files and texts in, one 512-d embedding per input out.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "audio/decode.h"
#include "audio/windows.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "index/hub.h"

namespace clap::cli {
namespace {

struct EmbedOptions {
  std::string model;
  std::vector<std::string> audio, text;
  int batch = 8;
  int threads = 0;
  std::string format = "jsonl";
  std::string output;
  double hop_s = 5.0;
};

struct Input {
  std::string value;
  bool is_audio = false;
  std::vector<float> embedding;
  std::string error;
};

// A file longer than one window is embedded as the normalised mean of its windows
// (window = the model's 10 s, hop 5 s) - the track embedding the index stores.
std::vector<float> embed_file(const ClapModel& model, ClapState& state, const std::string& path, int batch,
                              double hop_s) {
  std::vector<float> samples = audio::decode_file(path, model.sample_rate());
  const int64_t window = model.window_samples();
  const auto windows = audio::plan_windows(static_cast<int64_t>(samples.size()), window,
                                           static_cast<int64_t>(hop_s * model.sample_rate()));
  std::vector<std::span<const float>> clips;
  for (const auto& w : windows) clips.emplace_back(samples.data() + w.start, static_cast<size_t>(w.end - w.start));
  std::vector<float> emb = model.embed_audio(state, clips, batch);
  if (clips.size() == 1) return emb;  // a clip of at most one window: exactly the reference's processing
  const int dim = model.embedding_dim();
  std::vector<float> mean(dim, 0.0f);
  for (size_t i = 0; i < clips.size(); ++i)
    for (int d = 0; d < dim; ++d) mean[d] += emb[i * dim + d];
  l2_normalize_rows(mean.data(), 1, dim);
  return mean;
}

void write_npy(const std::string& path, const std::vector<Input>& inputs, int dim) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(path + ": cannot write");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(inputs.size()) + ", " +
                       std::to_string(dim) + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  const std::vector<float> nan_row(dim, std::nanf(""));
  for (const auto& in : inputs) {
    const auto& row = in.error.empty() ? in.embedding : nan_row;
    f.write(reinterpret_cast<const char*>(row.data()), static_cast<std::streamsize>(dim * sizeof(float)));
  }
  if (!f) throw Error(path + ": write failed");
}

int run_embed(const EmbedOptions& o, const std::vector<Input>& order) {
  auto model = open_model(o.model, o.threads);
  ClapState state = model_state(o.threads);
  std::vector<Input> inputs = order;
  std::vector<std::string> texts;
  std::vector<size_t> text_slots;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Input& in = inputs[i];
    if (in.is_audio) {
      try {
        in.embedding = embed_file(*model, state, in.value, o.batch, o.hop_s);
      } catch (const std::exception& e) {
        in.error = e.what();
      }
    } else {
      texts.push_back(in.value);
      text_slots.push_back(i);
    }
  }
  const int dim = model->embedding_dim();
  if (!texts.empty()) {
    auto emb = model->embed_text(state, texts, o.batch);
    for (size_t k = 0; k < texts.size(); ++k)
      inputs[text_slots[k]].embedding.assign(emb.begin() + k * dim, emb.begin() + (k + 1) * dim);
  }
  int failed = 0;
  for (const auto& in : inputs)
    if (!in.error.empty()) {
      ++failed;
      std::fprintf(stderr, "clapsearch: error: %s\n", in.error.c_str());
    }
  if (o.format == "npy") {
    if (o.output.empty()) throw Error("--format npy needs --output FILE");
    write_npy(o.output, inputs, dim);
  } else {
    std::FILE* out = stdout;
    if (!o.output.empty() && !(out = std::fopen(o.output.c_str(), "w"))) throw Error(o.output + ": cannot write");
    for (const auto& in : inputs) {
      nlohmann::json head = {{"input", in.value}, {"type", in.is_audio ? "audio" : "text"}};
      std::string line = head.dump();
      line.pop_back();  // reopen the object to append the embedding without re-encoding floats
      if (!in.error.empty()) {
        line += ",\"error\":" + nlohmann::json(in.error).dump() + "}";
      } else {
        line += ",\"embedding\":[";
        for (int d = 0; d < dim; ++d) line += (d ? "," : "") + json_float(in.embedding[d]);
        line += "]}";
      }
      std::fprintf(out, "%s\n", line.c_str());
    }
    if (out != stdout) std::fclose(out);
  }
  return failed ? 2 : 0;
}

}  // namespace

void add_embed_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Embed audio files and texts; prints JSON Lines (or writes .npy)");
  cmd->add_option("--model,-m", o->model, "Model folder or hub id (org/name[@revision])")->default_val(index::kDefaultModel);
  auto* audio = cmd->add_option("--audio,-a", o->audio, "Audio file (any format FFmpeg reads); repeatable");
  auto* text = cmd->add_option("--text,-t", o->text, "Text query; repeatable");
  cmd->add_option("--batch", o->batch, "Windows / texts per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_option("--format", o->format, "jsonl or npy")->default_val("jsonl")->check(CLI::IsMember({"jsonl", "npy"}));
  cmd->add_option("--output,-o", o->output, "Write to FILE instead of stdout (required for npy)");
  cmd->add_option("--hop", o->hop_s, "Hop in seconds between windows of files longer than one window")
      ->default_val(5.0)
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Output: one object per input, in the order given: {\"input\", \"type\": \"audio\"|\"text\", \"embedding\": [512 "
      "floats]}.\nA file longer than the model's window (10 s) is embedded as the L2-normalised mean of its 10 s windows "
      "every --hop seconds\n(the track embedding `clapsearch index` stores); shorter files are repeat-padded like the "
      "reference.\nAn input that fails gets {\"input\", \"type\", \"error\"} (a NaN row in .npy); the exit status is then 2.");
  cmd->callback([cmd, o, audio, text, &action] {
    if (o->audio.empty() && o->text.empty()) throw CLI::ValidationError("embed", "give at least one --audio or --text");
    // Interleave --audio and --text in command-line order.
    std::vector<Input> order;
    size_t ai = 0, ti = 0;
    for (const CLI::Option* opt : cmd->parse_order()) {
      if (opt == audio && ai < o->audio.size()) order.push_back({o->audio[ai++], true, {}, {}});
      if (opt == text && ti < o->text.size()) order.push_back({o->text[ti++], false, {}, {}});
    }
    while (ai < o->audio.size()) order.push_back({o->audio[ai++], true, {}, {}});  // "--audio a b" forms
    while (ti < o->text.size()) order.push_back({o->text[ti++], false, {}, {}});
    action = [o, order] { return run_embed(*o, order); };
  });
}

}  // namespace clap::cli
