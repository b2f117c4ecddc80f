// clapsearch convert: a LAION .pt, pytorch_model.bin, folder or hub id -> a Hugging Face folder.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/convert.h"

namespace clap::cli {
namespace {

struct ConvertCliOptions {
  service::ConvertRequest request;
  std::string dtype = "f32";
  bool json = false;
};

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string megabytes(uint64_t bytes) { return fixed(static_cast<double>(bytes) / 1e6, 1) + " MB"; }

int run_convert(ConvertCliOptions& o) {
  if (o.request.out_dir.empty()) throw InvalidArgument("out_dir is empty: name the folder to write the model to");
  o.request.options.dtype = o.dtype == "f16" ? DType::F16 : o.dtype == "bf16" ? DType::BF16 : DType::F32;
  const service::ConvertResult result = service::convert(o.request);
  const ConvertReport& r = result.report;
  const ClapConfig& c = r.config;
  if (o.json) {
    ojson j;
    j["input"] = result.files.weights;
    j["input_format"] = r.source_format;
    j["out_dir"] = r.out_dir;
    j["files"] = r.files;
    j["tensors"] = r.tensors;
    j["weights_bytes"] = r.weights_bytes;
    j["dtype"] = o.dtype;
    j["config_inferred"] = r.config_inferred;
    j["dropped"] = r.dropped;
    j["synthesized"] = r.synthesized;
    j["tokenizer"] = result.files.tokenizer_dir;
    print_json(j);
    return 0;
  }
  std::printf("converted %s (%s)\n       -> %s\n", result.files.weights.c_str(), r.source_format.c_str(), r.out_dir.c_str());
  std::printf("config      %s: audio HTSAT %d wide, depths [%s], heads [%s], window %d%s; text %d layers x %d, %d heads; "
              "projection %d\n",
              r.config_inferred ? "inferred from tensor shapes" : "given", c.audio.patch_embeds_hidden_size,
              join(c.audio.depths).c_str(), join(c.audio.num_attention_heads).c_str(), c.audio.window_size,
              c.audio.enable_fusion ? ", fused" : "", c.text.num_hidden_layers, c.text.hidden_size,
              c.text.num_attention_heads, c.projection_dim);
  if (r.config_inferred)
    std::printf("            (the text head count is not in the shapes: %d = width / 64, as RoBERTa-base; --config sets it)\n",
                c.text.num_attention_heads);
  std::printf("weights     model.safetensors: %zu tensors, %s, %s\n", r.tensors, megabytes(r.weights_bytes).c_str(),
              o.dtype == "f32" ? "float32" : o.dtype == "f16" ? "float16" : "bfloat16");
  if (!r.dropped.empty())
    std::printf("dropped     %zu LAION-only tensors (STFT/mel front end, AudioSet head, attention masks, transform heads)\n",
                r.dropped.size());
  if (!r.synthesized.empty()) {  // grouped by buffer: "18 x relative_position_index"
    std::map<std::string, int> kinds;
    for (const std::string& s : r.synthesized) ++kinds[s.substr(s.rfind('.') + 1)];
    std::string list;
    for (const auto& [kind, n] : kinds) list += (list.empty() ? "" : ", ") + (n > 1 ? std::to_string(n) + " x " : "") + kind;
    std::printf("added       buffers the input lacked, with the values transformers defines: %s\n", list.c_str());
  }
  std::string files;
  for (const std::string& f : r.files) files += (files.empty() ? "" : " ") + f;
  std::printf("files       %s\n", files.c_str());
  if (result.files.tokenizer_dir.empty())
    print_warning("clapsearch: warning: no tokenizer files were copied (" +
                  (result.files.no_tokenizer_hint.empty() ? std::string("the model has none") : result.files.no_tokenizer_hint) +
                  "); the folder embeds audio only until vocab.json and merges.txt are added");
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ConvertCliOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Write a model (LAION .pt, pytorch_model.bin, folder, hub id) as a Hugging Face folder");
  cmd->add_option("input", o->request.model, kModelHelp)->required();
  cmd->add_option("out_dir", o->request.out_dir, "Folder to write (must be empty or absent unless --force)")->required();
  cmd->add_option("--dtype", o->dtype, "Float tensors as f32, f16 or bf16 (integer buffers stay int64)")
      ->default_val("f32")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  add_checkpoint_options(cmd, o->request.model_options.config, o->request.model_options.tokenizer);
  cmd->add_flag("--force", o->request.options.force, "Replace a non-empty output folder");
  cmd->add_flag("--json", o->json, "Print what was written as one JSON object");
  cmd->footer(
      "Writes config.json, model.safetensors, preprocessor_config.json and the tokenizer files under the names\n"
      "transformers uses, so ClapModel.from_pretrained(OUT_DIR) and ClapProcessor.from_pretrained(OUT_DIR) load it,\n"
      "and so does clapsearch. The folder appears only when complete (written beside it, then renamed).\n"
      "A LAION checkpoint has no config: the architecture is inferred from tensor shapes (--config overrides it), and\n"
      "its tokenizer is roberta-base's (--tokenizer DIR, else the Hugging Face cache, fetched once when online).\n"
      "An index built with the input accepts the f32 conversion as the same model.");
  cmd->callback([o, &action] { action = [o] { return run_convert(*o); }; });
}

}  // namespace clap::cli
