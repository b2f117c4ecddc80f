// Model resolution: a local snapshot folder, or a Hugging Face hub id ("org/name",
// "org/name@revision") fetched into the shared Hugging Face cache, laid out exactly as
// huggingface_hub lays it out so Python tools and clapsearch share downloads:
//
//   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//     models--ORG--NAME/
//       blobs/<etag>                 file contents, named by the hub's ETag (sha256 for LFS files)
//       blobs/<etag>.incomplete      a download in progress (resumed with an HTTP Range request)
//       snapshots/<commit>/<file>    symlink to ../../blobs/<etag>
//       refs/<revision>              the commit hash a branch/tag resolved to
//       .no_exist/<commit>/<file>    the file is known not to exist at that commit
//     .locks/models--ORG--NAME/<etag>.lock   serialises concurrent downloads of one blob
//
// Environment: HF_ENDPOINT (default https://huggingface.co; files are fetched from
// {endpoint}/{repo}/resolve/{revision}/{file}), HF_TOKEN (sent as a bearer token to the
// endpoint only, never to the CDN a redirect leads to), HF_HUB_OFFLINE=1 (never use the
// network), HF_HUB_DISABLE_PROGRESS_BARS, HF_HUB_DOWNLOAD_TIMEOUT (seconds a download may
// stall before it is aborted, default 30), HF_HUB_ETAG_TIMEOUT (metadata request timeout,
// default 30). Without HF_TOKEN, the token `huggingface-cli login` saved ($HF_TOKEN_PATH, else
// $HF_HOME/token) is used.
#pragma once
#include <string>
#include <vector>

namespace clap::hub {

inline constexpr const char* kDefaultModel = "laion/larger_clap_music_and_speech";

struct ResolvedModel {
  std::string dir;       // local snapshot folder with config.json, model.safetensors, ...
  std::string id;        // hub id, or the absolute path of a local folder or checkpoint file
  std::string revision;  // commit hash for hub models, "local" for folders and files
  bool downloaded = false;  // this call fetched at least one file (the model is new here)

  // Parts that do not come from `dir` (empty: the folder's own file). A checkpoint file given
  // as the model (a LAION .pt) sets weights_file; --config and --tokenizer set the others.
  std::string weights_file;
  std::string config_file;        // config.json
  std::string preprocessor_file;  // preprocessor_config.json (next to a --config file)
  std::string tokenizer_dir;      // vocab.json + merges.txt, or tokenizer.json
  // A checkpoint file with no tokenizer found: what to do (the message of a text query).
  std::string no_tokenizer_hint;
};

struct HubOptions {
  bool quiet = false;  // no progress bar, no messages
  // --config FILE|DIR: a config.json (with the preprocessor_config.json beside it) used instead
  // of the model's own or, for a checkpoint file, instead of the config inferred from it.
  std::string config;
  // --tokenizer DIR: a folder with the tokenizer files. A checkpoint file without it uses
  // roberta-base's files from the Hugging Face cache, fetching them (1.4 MB) when online.
  std::string tokenizer;
};

// The hub repository whose tokenizer files a LAION checkpoint uses (RoBERTa-base's BPE).
inline constexpr const char* kCheckpointTokenizerRepo = "FacebookAI/roberta-base";

// `spec` is a model folder, a checkpoint file (.pt, .bin, .safetensors), or a hub id.
// Throws clap::Error with a clear message (not found, offline, 404, checksum mismatch...).
// A hub model whose revision is already in the cache (refs/<revision>, or a commit hash,
// with every file in its snapshot) is returned without touching the network.
ResolvedModel resolve_model(const std::string& spec, const HubOptions& options = {});

// The files fetched for a model. Required: config.json, weights (model.safetensors, else
// pytorch_model.bin), and a tokenizer (vocab.json + merges.txt, or tokenizer.json); the others
// are used when the repo has them. pytorch_model.bin is fetched only when there is no
// model.safetensors.
const std::vector<std::string>& model_files();

// Cache root as resolved from the environment (see above).
std::string hub_cache_dir();
// HF_ENDPOINT without a trailing slash, default https://huggingface.co.
std::string hub_endpoint();
bool hub_offline();  // HF_HUB_OFFLINE is 1/true/yes/on

// Parses "org/name" or "org/name@revision" (revision defaults to "main"). Returns false
// when `spec` is not of that form.
bool parse_hub_id(const std::string& spec, std::string* repo, std::string* revision);

// When `file_in_snapshot` is a cache symlink to a blob named by a sha256 (an LFS file whose
// hash the hub reported and the download verified), that hash; otherwise "".
std::string cached_blob_sha256(const std::string& file_in_snapshot);

}  // namespace clap::hub
