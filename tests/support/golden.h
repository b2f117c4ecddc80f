// Access to the test fixtures in tests/data (see tests/data/README.md): the reference
// implementation's outputs for small random-weight CLAP models.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"

namespace clap::test {

// Directory holding inputs.safetensors and one folder per case. Resolved from
// $CLAPSEARCH_GOLDEN, else the path configured at build time. Fails the test if absent.
std::string golden_dir();
// Every case folder (one with expected.safetensors), sorted: a new folder adds tests.
std::vector<std::string> golden_cases();
std::string case_dir(const std::string& case_name);

const SafeTensors& golden_inputs();                           // inputs.safetensors
const SafeTensors& golden_expected(const std::string& case_name);  // expected.safetensors

// The reference input_features of golden clip x of a case (batch 1 x channels x 1001 x 64):
// stored whole, or channel 0 repeated 4x for fused models.
std::vector<float> clip_features(const std::string& case_name, char x, int* channels);

// A golden clip a..g as 48 kHz float samples (f and g derived as the README says).
std::vector<float> golden_clip(char letter);

std::vector<float> floats(const SafeTensors& st, const std::string& name);
std::vector<int64_t> ints(const SafeTensors& st, const std::string& name);

struct Diff {
  double max_abs = 0, max_ref = 0, cosine = 1;
};
Diff compare(const float* got, const float* ref, size_t n);

// Scratch directory unique to the running test, removed at process exit.
std::string temp_dir();
// A fixture that the test processes of one suite share (ctest runs every test in a process of
// its own, so a SetUpTestSuite fixture is otherwise made once per test): made by `make(dir)`
// once, under a lock, in the build tree, and made again when the clapsearch binary or this test
// binary changed since (their sizes and modification times are the key). A `make` that fails an
// assertion leaves nothing behind and throws. Tests read it; what they write goes to temp_dir().
std::string shared_fixture(const std::string& name, const std::function<void(const std::string& dir)>& make);
// Runs a shell command, returns exit status; captures stdout/stderr if pointers given.
int run_command(const std::string& command, std::string* out = nullptr, std::string* err = nullptr);
// `s` single-quoted for a shell command line (a ' inside becomes '\'').
std::string quoted(const std::string& s);
// Runs `ffmpeg ... ARGS PATH` (folders made as needed) and returns PATH; throws with ffmpeg's
// message when it fails. Tests make their real encoded files with it.
std::string ffmpeg(const std::string& path, const std::string& args);
// One JSON document per non-empty line (`embed`'s output).
std::vector<nlohmann::json> json_lines(const std::string& text);
// The message of the clap::Error `f` throws ("" when it throws none).
std::string error_of(const std::function<void()>& f);
// Path of the built clapsearch executable (in a cross build: a script that runs it under the
// emulator, so it is started the same way).
std::string cli_path();
// cli_path() quoted for a shell command line.
std::string cli_command();
// The one way a test runs the CLI through the shell: `clapsearch ARGS` (ARGS already quoted by
// the caller), offline from the hub (HF_HUB_OFFLINE=1, HF_HOME in the test's scratch folder: no
// test reads the user's hub cache or the network), with `env` ("NAME=value ...") after those
// defaults, so it can override them. Returns the exit status; captures stdout/stderr if given.
int run_cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr, const std::string& env = "");

// Indexes MUSIC into DB with MODEL (`clapsearch index`, plus `extra` arguments), which must
// succeed: throws std::runtime_error with its stderr otherwise (for suites' shared libraries).
void index_library(const std::string& music, const std::string& db, const std::string& model,
                   const std::string& extra = "");

// The CLI started directly (not through a shell), so its pid is known for kill -9 and wait4:
// stdin from /dev/null, stdout and stderr into files.
struct Child {
  int pid = -1;
  std::string out_path, err_path;
};
Child start_cli(const std::vector<std::string>& args);
// Waits for a child to end: its exit status, or 128 + the signal that ended it (-1: not a child).
int wait_exit(int pid);
// The port a `serve --port 0` child listens on, read from its "listening on" line; 0 when the
// line does not come within a minute.
int served_port(const Child& c);

// The whole of a file; throws std::runtime_error when it cannot be read.
std::string read_file(const std::string& path);
// Polls `holds` every 100 ms for up to `seconds`; its last answer.
bool wait_until(const std::function<bool()>& holds, int seconds = 60);

}  // namespace clap::test
