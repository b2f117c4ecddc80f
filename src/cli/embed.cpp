// clapsearch embed: audio files and texts in, one 512-d embedding per input out.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/csv.h"
#include "core/error.h"
#include "hub/hub.h"
#include "service/embed.h"

namespace clap::cli {
namespace {

struct EmbedOptions {
  std::string model, config, tokenizer;
  std::vector<std::string> audio, text;
  int batch = 8;
  int threads = 0;
  std::string format = "jsonl";
  std::string output;
  double hop_s = 5.0;
  std::string precision = "fp32";
  std::string text_precision = "fp32";
};

void write_npy(const std::string& path, const std::vector<service::EmbedOutput>& inputs, int dim) {
  OutputFile f(path);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(inputs.size()) + ", " +
                       std::to_string(dim) + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(&len, 2);
  f.write(header);
  const std::vector<float> nan_row(dim, std::nanf(""));
  for (const auto& in : inputs) {
    const auto& row = in.error.empty() ? in.embedding : nan_row;
    f.write(row.data(), static_cast<size_t>(dim) * sizeof(float));
  }
  f.commit();
}

int run_embed(const EmbedOptions& o, const std::vector<service::EmbedInput>& order) {
  service::EmbedRequest r;
  r.model = o.model;
  r.model_options.config = o.config;
  r.model_options.tokenizer = o.tokenizer;
  r.inputs = order;
  r.batch = o.batch;
  r.threads = o.threads;
  r.hop_s = o.hop_s;
  r.audio_precision = parse_precision(o.precision);
  r.text_precision = parse_precision(o.text_precision);
  r.warn = print_warning;
  const service::EmbedResult result = service::embed_inputs(r);
  const std::vector<service::EmbedOutput>& inputs = result.outputs;
  const int dim = result.dim;
  int failed = 0;
  for (const auto& in : inputs)
    if (!in.error.empty()) {
      ++failed;
      std::fprintf(stderr, "clapsearch: error: %s\n", error_lines(in.error).c_str());
    }
  if (o.format == "npy") {
    write_npy(o.output, inputs, dim);
  } else {
    OutputFile out(o.output);
    for (const auto& in : inputs) {
      nlohmann::json head = {{"input", in.input.value}, {"type", in.input.is_audio ? "audio" : "text"}};
      std::string line = service::json_text(head);
      line.pop_back();  // reopen the object to append the embedding without re-encoding floats
      if (!in.error.empty()) {
        line += ",\"error\":" + service::json_text(nlohmann::json(in.error)) + "}";
      } else {
        line += ",\"embedding\":[";
        for (int d = 0; d < dim; ++d) line += (d ? "," : "") + json_float(in.embedding[d]);
        line += "]}";
      }
      out.write(line + "\n");
    }
    out.commit();
  }
  return failed ? 2 : 0;
}

}  // namespace

void add_embed_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Embed audio files and texts; prints JSON Lines (or writes .npy)");
  cmd->add_option("--model,-m", o->model, kModelHelp)->default_val(hub::kDefaultModel);
  add_checkpoint_options(cmd, o->config, o->tokenizer);
  auto* audio = cmd->add_option("--audio,-a", o->audio, "Audio file (any format FFmpeg reads); repeatable");
  auto* text = cmd->add_option("--text,-t", o->text, "Text query; repeatable");
  cmd->add_option("--batch", o->batch, "Windows / texts per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  auto* format = cmd->add_option("--format", o->format, "jsonl or npy (default: npy when --output ends in .npy, else jsonl)")
                     ->check(CLI::IsMember({"jsonl", "npy"}));
  cmd->add_option("--output,-o", o->output, "Write to FILE instead of stdout (required for npy)");
  cmd->add_option("--hop", o->hop_s,
                  "Seconds between window starts in files longer than one window (at least 0.5, at most the model's window, 10)")
      ->default_val(5.0)
      ->check(positive());
  add_precision_option(cmd, o->precision);
  add_text_precision_option(cmd, o->text_precision);
  cmd->footer(
      "Output: one object per input, in the order given: {\"input\", \"type\": \"audio\"|\"text\", \"embedding\": [512 "
      "floats]}.\nA file longer than the model's window (10 s) is embedded as the L2-normalised mean of its 10 s windows "
      "every --hop seconds\n(the track embedding `clapsearch index` stores); shorter files are repeat-padded like the "
      "reference.\nAn input that fails gets {\"input\", \"type\", \"error\"} (a NaN row in .npy); the exit status is then 2.");
  cmd->callback([cmd, o, audio, text, format, &action] {
    if (o->audio.empty() && o->text.empty()) throw CLI::ValidationError("embed", "give at least one --audio or --text");
    // The output's name and the format agree, or the run is refused before the model loads:
    // `-o vectors.npy` wrote JSON Lines under a .npy name (numpy.load then failed on it) and
    // `--format npy` without --output failed only after every input was embedded (hostile pass
    // 10, H10C-2). Not given, the format follows the name, as `map --out`'s does.
    const std::string ext = ascii_lower(std::filesystem::path(o->output).extension().string());
    if (format->count() == 0) o->format = ext == ".npy" ? "npy" : "jsonl";
    if (o->format == "npy" && o->output.empty()) throw CLI::ValidationError("embed", "--format npy needs --output FILE");
    if (o->format == "jsonl" && ext == ".npy")
      throw CLI::ValidationError("embed", "--format jsonl writes JSON Lines, and --output " + o->output +
                                              " names a .npy file (leave --format out to write .npy, or name the file .jsonl)");
    if (o->format == "npy" && (ext == ".jsonl" || ext == ".json" || ext == ".txt"))
      throw CLI::ValidationError("embed", "--format npy writes a NumPy array, and --output " + o->output + " names a " + ext +
                                              " file (name it .npy, or leave --format out for JSON Lines)");
    // Interleave --audio and --text in command-line order.
    std::vector<service::EmbedInput> order;
    size_t ai = 0, ti = 0;
    for (const CLI::Option* opt : cmd->parse_order()) {
      if (opt == audio && ai < o->audio.size()) order.push_back({o->audio[ai++], true});
      if (opt == text && ti < o->text.size()) order.push_back({o->text[ti++], false});
    }
    while (ai < o->audio.size()) order.push_back({o->audio[ai++], true});  // "--audio a b" forms
    while (ti < o->text.size()) order.push_back({o->text[ti++], false});
    action = [o, order] { return run_embed(*o, order); };
  });
}

}  // namespace clap::cli
