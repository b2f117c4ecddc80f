// How often the CLI starts, and the OpenMP wait policy a command runs with (src/cli/main.cpp,
// ensure_openmp_wait_policy). With OMP_DISPLAY_ENV set, libgomp prints its settings once per
// start of the process image, as it reads them: its blocks count the starts and show the policy.
#include <gtest/gtest.h>

#include <string>

#include "support/golden.h"

namespace clap {
namespace {

constexpr const char* kBegin = "OPENMP DISPLAY ENVIRONMENT BEGIN";

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// `clapsearch ARGS` as a user starts it: without the OpenMP policy every test is given
// (CMakeLists.txt: CLAPSEARCH_TEST_OPENMP_ENVIRONMENT), with `env` ("NAME=value ...") set.
int run_as_user(const std::string& args, std::string* err, const std::string& env) {
  std::string out;
  return test::run_command("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT HF_HUB_OFFLINE=1 " + env + " " + test::cli_command() + " " + args,
                           &out, err);
}

// The settings block of the last start (the one that ran the command).
std::string last_block(const std::string& err) {
  const size_t at = err.rfind(kBegin);
  return at == std::string::npos ? "" : err.substr(at);
}

// Each start loads ~150 shared libraries (about 0.2 s here, more on a loaded machine): --help,
// --version and a usage error, which run no OpenMP, started a second time to set its wait
// policy all the same.
TEST(StartCli, HelpVersionAndAUsageErrorStartOnce) {
  for (const auto& [args, status] : std::vector<std::pair<std::string, int>>{
           {"--version", 0}, {"--help", 0}, {"search --help", 0}, {"user add --help", 0},
           {"search --no-such-option x", 2}, {"nosuchcommand", 2}, {"search -k 1x quiet", 2}}) {
    std::string err;
    EXPECT_EQ(run_as_user(args, &err, "OMP_DISPLAY_ENV=true"), status) << args << "\n" << err;
    EXPECT_EQ(occurrences(err, kBegin), 1u) << args << "\n" << err;
  }
}

// A command that runs reads OMP_WAIT_POLICY=PASSIVE and GOMP_SPINCOUNT=2000 when the user set
// neither (docs/performance.md: spinning OpenMP threads collapse throughput under load); what
// the user set is kept, and then the CLI starts once.
TEST(StartCli, ACommandRunsOpenMpPassiveWithAShortSpinUnlessTheUserChose) {
  const std::string status = "status --db " + test::quoted(test::temp_dir() + "/none.db");  // runs: no index there
  std::string err;
  EXPECT_EQ(run_as_user(status, &err, "OMP_DISPLAY_ENV=verbose"), 1) << err;
  EXPECT_NE(last_block(err).find("OMP_WAIT_POLICY = 'PASSIVE'"), std::string::npos) << err;
  EXPECT_NE(last_block(err).find("GOMP_SPINCOUNT = '2000'"), std::string::npos) << err;
  EXPECT_NE(err.find("none.db"), std::string::npos) << err;  // and the command ran

  EXPECT_EQ(run_as_user(status, &err, "OMP_DISPLAY_ENV=verbose GOMP_SPINCOUNT=500"), 1) << err;
  EXPECT_NE(last_block(err).find("OMP_WAIT_POLICY = 'PASSIVE'"), std::string::npos) << err;
  EXPECT_NE(last_block(err).find("GOMP_SPINCOUNT = '500'"), std::string::npos) << err;

  EXPECT_EQ(run_as_user(status, &err, "OMP_DISPLAY_ENV=verbose OMP_WAIT_POLICY=ACTIVE"), 1) << err;
  EXPECT_EQ(occurrences(err, kBegin), 1u) << err;
  EXPECT_NE(err.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << err;
  EXPECT_EQ(err.find("GOMP_SPINCOUNT = '2000'"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap
