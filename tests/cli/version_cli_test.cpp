// clapsearch --version: the program, its commit, the build, the CPU's extensions and kernels,
// and every library's version, on stdout with exit 0; a write error is a failure.
#include <gtest/gtest.h>

#include <regex>

#include "support/golden.h"

namespace clap {
namespace {

TEST(Version, NamesCommitBuildCpuKernelsAndLibraries) {
  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " --version", &out, &err), 0) << err;
  EXPECT_TRUE(err.empty()) << err;
  const std::string first = out.substr(0, out.find('\n'));
  EXPECT_TRUE(std::regex_match(first, std::regex(R"(clapsearch \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,40}(-dirty)?|unknown)\))")))
      << first;
  for (const char* key : {"\nbuilt: ", "\ncpu: ", "\nkernels: fp32 ", "\nFFmpeg ", "\nlibsoxr ", "\nSQLite ", "\nlibpq ", "\nFAISS ",
                          "\nBLAS ", "\noneDNN ", "\nCLI11 ", "\nnlohmann-json "})
    EXPECT_NE(out.find(key), std::string::npos) << key << " missing:\n" << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nSQLite +3\.\d+)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nFFmpeg +\S+ \(libavformat \d+\.\d+\.\d+)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\ncpu: (baseline|[a-z0-9 -]+)\n)"))) << out;
}

TEST(Version, AWriteErrorFailsTheRun) {
  std::string out, err;
  EXPECT_EQ(test::run_command(test::cli_command() + " --version >/dev/full", &out, &err), 1) << err;
  EXPECT_NE(err.find("standard output: write failed (No space left on device)"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(test::cli_command() + " --help >/dev/full", &out, &err), 1) << err;
}

}  // namespace
}  // namespace clap
