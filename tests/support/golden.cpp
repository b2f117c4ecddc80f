#include "support/golden.h"

#include "core/error.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

extern char** environ;

namespace clap::test {

std::string golden_dir() {
  const char* env = std::getenv("CLAPSEARCH_GOLDEN");
  std::string dir = env && *env ? env : CLAPSEARCH_GOLDEN_DIR;
  if (!fs::exists(fs::path(dir) / "inputs.safetensors")) {
    ADD_FAILURE() << "golden reference data not found at '" << dir
                  << "' (set CLAPSEARCH_GOLDEN or configure -DCLAPSEARCH_GOLDEN_DIR)";
    throw std::runtime_error("golden data missing");
  }
  return fs::canonical(dir).string();
}

std::vector<std::string> golden_cases() {
  std::vector<std::string> cases;
  for (const auto& e : fs::directory_iterator(golden_dir()))
    if (e.is_directory() && fs::exists(e.path() / "expected.safetensors")) cases.push_back(e.path().filename().string());
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::string case_dir(const std::string& case_name) { return golden_dir() + "/" + case_name; }

const SafeTensors& golden_inputs() {
  static SafeTensors st(golden_dir() + "/inputs.safetensors");
  return st;
}

const SafeTensors& golden_expected(const std::string& case_name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<SafeTensors>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[case_name];
  if (!slot) slot = std::make_unique<SafeTensors>(case_dir(case_name) + "/expected.safetensors");
  return *slot;
}

std::vector<float> clip_features(const std::string& case_name, char x, int* channels) {
  const SafeTensors& expected = golden_expected(case_name);
  const std::string base = std::string("clip_") + x + "_input_features";
  if (expected.find(base)) {
    *channels = static_cast<int>(expected.at(base).shape[1]);
    return floats(expected, base);
  }
  auto ch0 = floats(expected, base + "_ch0");
  *channels = 4;
  std::vector<float> all;
  for (int i = 0; i < 4; ++i) all.insert(all.end(), ch0.begin(), ch0.end());
  return all;
}

std::vector<float> golden_clip(char letter) {
  const SafeTensors& in = golden_inputs();
  auto clip = [&](char c) { return in.to_float(in.at(std::string("audio_") + c)); };
  if (letter == 'f') {
    auto b = clip('b'), c = clip('c');
    b.insert(b.end(), c.begin(), c.end());
    return b;
  }
  if (letter == 'g') {
    auto b = clip('b'), a = clip('a');
    b.insert(b.end(), a.begin(), a.begin() + 100);
    return b;
  }
  return clip(letter);
}

std::vector<float> floats(const SafeTensors& st, const std::string& name) { return st.to_float(st.at(name)); }
std::vector<int64_t> ints(const SafeTensors& st, const std::string& name) { return st.to_int64(st.at(name)); }

Diff compare(const float* got, const float* ref, size_t n) {
  Diff d;
  double dot = 0, ng = 0, nr = 0;
  for (size_t i = 0; i < n; ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(double(got[i]) - double(ref[i])));
    d.max_ref = std::max(d.max_ref, std::fabs(double(ref[i])));
    dot += double(got[i]) * ref[i];
    ng += double(got[i]) * got[i];
    nr += double(ref[i]) * ref[i];
  }
  d.cosine = (ng > 0 && nr > 0) ? dot / std::sqrt(ng * nr) : (ng == nr ? 1.0 : 0.0);
  return d;
}

std::string temp_dir() {
  static std::string root = [] {
    std::string tmpl = (fs::temp_directory_path() / "clapsearch-test-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    std::string dir = made;
    return dir;
  }();
  static struct Cleanup { ~Cleanup() { std::error_code ec; fs::remove_all(root, ec); } } cleanup;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  for (char& c : name)
    if (c == '/') c = '_';
  fs::path dir = fs::path(root) / name;
  fs::create_directories(dir);
  return dir.string();
}

namespace {
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}
}  // namespace

std::string shared_fixture(const std::string& name, const std::function<void(const std::string& dir)>& make) {
  const fs::path root = CLAPSEARCH_FIXTURE_DIR;
  fs::create_directories(root);
  const fs::path dir = root / name, made = dir / ".made";
  const std::string key = file_stamp(CLAPSEARCH_CLI_BINARY) + " " + file_stamp("/proc/self/exe") + "\n";
  const int lock = ::open((root / (name + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) throw std::runtime_error(name + ": cannot lock the shared fixture");
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing releases the lock
  } unlock{lock};
  std::ifstream stamp(made);
  std::string have((std::istreambuf_iterator<char>(stamp)), std::istreambuf_iterator<char>());
  if (have == key) return dir.string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  make(dir.string());
  if (::testing::Test::HasFatalFailure()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw std::runtime_error(name + ": making the shared fixture failed");
  }
  std::ofstream(made) << key;
  return dir.string();
}

static std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int run_command(const std::string& command, std::string* out, std::string* err) {
  std::string dir = temp_dir();
  std::string out_path = dir + "/.cmd_stdout", err_path = dir + "/.cmd_stderr";
  std::string full = "(" + command + ") >'" + out_path + "' 2>'" + err_path + "' </dev/null";
  int status = std::system(full.c_str());
  if (out) *out = slurp(out_path);
  if (err) *err = slurp(err_path);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string cli_path() { return CLAPSEARCH_CLI_PATH; }

// The CLI a test starts runs OpenMP with the policy it would set for itself (src/cli/main.cpp,
// ensure_openmp_wait_policy), given here so that it starts once instead of re-executing itself
// to set it (each start loads ~150 shared libraries, 0.2 s of CPU). The script and Python tests
// get the same from CMakeLists.txt (CLAPSEARCH_TEST_OPENMP_ENVIRONMENT); StartCli.* tests the
// CLI's own choice with both unset. A value the caller set is kept.
static const bool openmp_policy_for_the_cli = [] {
  return ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0 && ::setenv("GOMP_SPINCOUNT", "2000", 0) == 0;
}();

std::string cli_command() { return quoted(cli_path()); }

void index_library(const std::string& music, const std::string& db, const std::string& model, const std::string& extra) {
  std::string err;
  const std::string args = "index " + quoted(music) + " --db " + quoted(db) + " --model " + quoted(model);
  if (run_cli(args + (extra.empty() ? "" : " " + extra), nullptr, &err) != 0)
    throw std::runtime_error("clapsearch " + args + " failed: " + err);
}

int run_cli(const std::string& args, std::string* out, std::string* err, const std::string& env) {
  return run_command("HF_HUB_OFFLINE=1 HF_HOME=" + quoted(temp_dir() + "/hf-home") + (env.empty() ? "" : " " + env) + " " +
                         cli_command() + " " + args,
                     out, err);
}

std::string quoted(const std::string& s) {
  std::string q(1, '\'');
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  q += '\'';
  return q;
}

std::string ffmpeg(const std::string& path, const std::string& args) {
  fs::create_directories(fs::path(path).parent_path());
  std::string err;
  const int rc = run_command("ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " '" + path + "'", nullptr, &err);
  if (rc != 0) throw std::runtime_error("ffmpeg failed for " + path + ": " + err);
  return path;
}

Child start_cli(const std::vector<std::string>& args) {
  Child c;
  static int n = 0;
  const std::string stem = temp_dir() + "/child" + std::to_string(n++);
  c.out_path = stem + ".out";
  c.err_path = stem + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, c.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_s = {cli_path()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  c.pid = pid;
  return c;
}

int wait_exit(int pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int served_port(const Child& c) {
  const std::string marker = "listening on http://127.0.0.1:";
  int port = 0;
  wait_until([&] {
    const std::string out = read_file(c.out_path);
    if (const size_t at = out.find(marker); at != std::string::npos) port = std::atoi(out.c_str() + at + marker.size());
    return port != 0;
  });
  return port;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& holds, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (holds()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return holds();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace clap::test
