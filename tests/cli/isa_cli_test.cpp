// CLAPSEARCH_ISA through the real CLI (core/isa.h): every kernel set this CPU has gives the same
// embeddings within the engine's tolerances, each one bit-identical across runs, threads and
// batches; --version and doctor show the chosen set and why; an unknown value or one above the
// CPU's is an error before the command runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/isa.h"
#include "support/golden.h"

namespace clap {
namespace {

using json = nlohmann::json;

std::string model_dir() { return test::case_dir("tiny-unfused"); }

int cli(const std::string& env, const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err, env);
}

std::string ok(const std::string& env, const std::string& args) {
  std::string out, err;
  EXPECT_EQ(cli(env, args, &out, &err), 0) << env << " " << args << "\n" << err;
  return out;
}

std::vector<IsaLevel> levels_here() {
  std::vector<IsaLevel> levels;
  for (IsaLevel l : {IsaLevel::Baseline, IsaLevel::Avx2, IsaLevel::Avx512})
    if (static_cast<int>(l) <= static_cast<int>(cpu_isa_level())) levels.push_back(l);
  return levels;
}

std::string env_of(IsaLevel l) { return std::string("CLAPSEARCH_ISA=") + isa_level_name(l); }

struct Difference {
  double max_abs = 0, cosine = 1;
};
Difference difference(const std::vector<float>& a, const std::vector<float>& b) {
  Difference d;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(double(a[i]) - b[i]));
    ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  }
  d.cosine = ab / std::sqrt(aa * bb);
  return d;
}

class IsaCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir() + "/isa");
    test::ffmpeg(*dir_ + "/chord.mp3", "-f lavfi -i \"sine=f=220:d=12:sample_rate=48000\" -b:a 128k");
    test::ffmpeg(*dir_ + "/noise.wav", "-f lavfi -i \"anoisesrc=seed=11:d=8:c=pink:r=32000:a=0.3\"");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string dir() { return *dir_; }

 private:
  static std::string* dir_;
};
std::string* IsaCli::dir_ = nullptr;

TEST_F(IsaCli, UnknownKernelSetIsAnErrorNamingTheVariable) {
  std::string out, err;
  EXPECT_EQ(cli("CLAPSEARCH_ISA=sse9", "--version", &out, &err), 2);
  EXPECT_NE(err.find("CLAPSEARCH_ISA=sse9 is not a kernel set"), std::string::npos) << err;
  EXPECT_NE(err.find(std::string("this CPU has ") + isa_level_name(cpu_isa_level())), std::string::npos) << err;
  EXPECT_EQ(out, "");
}

// Hostile pass 12, H12C-1: the variable's value was printed raw (an escape sequence in it reached
// the terminal); it is shown as every other error shows what it was given: an echoed value's
// control characters as \xNN (R13C-1's shared control_escaped; it was '?' before).
TEST_F(IsaCli, AnUnknownValueIsShownWithoutItsControlCharacters) {
  std::string out, err;
  EXPECT_EQ(cli("CLAPSEARCH_ISA=\"$(printf 'a\\033[2Jb')\"", "--version", &out, &err), 2);
  EXPECT_NE(err.find("CLAPSEARCH_ISA=a\\x1b[2Jb is not a kernel set"), std::string::npos) << err;
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << err;
}

// R12C-3: a value of 100,000 characters was echoed whole; the message shows its start and its size.
TEST_F(IsaCli, AHugeUnknownValueIsShownInPart) {
  std::string out, err;
  EXPECT_EQ(cli("CLAPSEARCH_ISA=\"$(printf 'x%.0s' $(seq 100000))\"", "--version", &out, &err), 2);
  EXPECT_NE(err.find("(100000 bytes) is not a kernel set"), std::string::npos) << err.substr(0, 400);
  EXPECT_LT(err.size(), 1000u) << err.substr(0, 400);
}

TEST_F(IsaCli, AKernelSetAboveTheCpusIsAnError) {
  if (cpu_isa_level() == IsaLevel::Avx512) GTEST_SKIP() << "this CPU has every kernel set";
  std::string out, err;
  EXPECT_EQ(cli("CLAPSEARCH_ISA=avx512", "--version", &out, &err), 2);
  EXPECT_NE(err.find("CLAPSEARCH_ISA=avx512 asks for more than this CPU has"), std::string::npos) << err;
  EXPECT_NE(err.find(std::string("its best kernel set is ") + isa_level_name(cpu_isa_level())), std::string::npos)
      << err;
}

// AVX-VNNI is an extension within avx2: avx2-vnni allows the int8 kernel to use it, avx2 runs
// plain AVX2 (what Haswell-Skylake and Zen 2/3 run), and avx2-vnni without AVX-VNNI is an error.
TEST_F(IsaCli, Avx2VnniAllowsAvxVnniAndAvx2RunsPlainAvx2) {
  if (cpu_isa_level() < IsaLevel::Avx2) GTEST_SKIP() << "no AVX2 on this CPU";
  EXPECT_NE(ok("CLAPSEARCH_ISA=avx2", "--version").find("int8 avx2-int8"), std::string::npos);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avxvnni")) {
    const std::string version = ok("CLAPSEARCH_ISA=avx2-vnni", "--version");
    EXPECT_NE(version.find("kernel set: avx2 (CLAPSEARCH_ISA=avx2-vnni"), std::string::npos) << version;
    EXPECT_NE(version.find("int8 avx2-vnni-int8"), std::string::npos) << version;
    return;
  }
#endif
  std::string out, err;
  EXPECT_EQ(cli("CLAPSEARCH_ISA=avx2-vnni", "--version", &out, &err), 2);
  EXPECT_NE(err.find("CLAPSEARCH_ISA=avx2-vnni asks for AVX-VNNI, which this CPU does not have"), std::string::npos)
      << err;
}

// AMX's int8 tiles run within avx512 where the CPU, the OS and Linux's permission allow them;
// a lower kernel set leaves them (the bits are the same either way: tests/tensor/gemm_test.cpp).
TEST_F(IsaCli, VersionNamesTheAmxInt8KernelWhereTheCpuHasIt) {
  if (!cpu_has_amx_int8()) GTEST_SKIP() << "no AMX int8 here";
  const std::string version = ok("", "--version");
  EXPECT_NE(version.find("int8 avx512-amx-int8"), std::string::npos) << version;
  EXPECT_NE(version.find(" amx-int8"), std::string::npos) << version;  // in the cpu: line
  EXPECT_EQ(ok("CLAPSEARCH_ISA=avx2", "--version").find("-amx-"), std::string::npos);
}

// The same for AMX-BF16's tiles (their sums are their own: bf16's figures on such CPUs are
// stated in docs/performance.md); --version and doctor name the kernel, a lower set leaves it.
TEST_F(IsaCli, VersionAndDoctorNameTheAmxBf16KernelWhereTheCpuHasIt) {
  if (!cpu_has_amx_bf16()) GTEST_SKIP() << "no AMX-BF16 here";
  const std::string version = ok("", "--version");
  EXPECT_NE(version.find("bf16 avx512-amx-bf16"), std::string::npos) << version;
  EXPECT_NE(version.find(" amx-bf16"), std::string::npos) << version;  // in the cpu: line
  EXPECT_EQ(json::parse(ok("", "doctor --json --model " + test::quoted(model_dir())))["kernels"]["bf16"],
            "avx512-amx-bf16");
  EXPECT_NE(ok("CLAPSEARCH_ISA=avx2", "--version").find("bf16 avx2-bf16"), std::string::npos);
}

TEST_F(IsaCli, VersionAndDoctorShowTheChosenKernelSetAndWhy) {
  const std::string best = isa_level_name(cpu_isa_level());
  EXPECT_NE(ok("", "--version").find("kernel set: " + best + " (the CPU's best (CLAPSEARCH_ISA not set))"),
            std::string::npos);
  const std::string version = ok("CLAPSEARCH_ISA=baseline", "--version");
  EXPECT_NE(version.find("kernel set: baseline (CLAPSEARCH_ISA=baseline (the CPU has " + best + "))"),
            std::string::npos)
      << version;
  EXPECT_NE(version.find("kernels: fp32 generic, bf16 generic-"), std::string::npos) << version;
  const json doctor = json::parse(ok("CLAPSEARCH_ISA=baseline", "doctor --json --model " + test::quoted(model_dir())));
  EXPECT_EQ(doctor["kernel_set"]["level"], "baseline");
  EXPECT_EQ(doctor["kernel_set"]["cpu_best"], best);
  EXPECT_EQ(doctor["kernels"]["int8"], "generic-int8");
  // Which precision to pick: at the baseline neither bf16 nor int8 has instructions of its own.
  const std::string baseline_advice = doctor["precision_advice"];
  EXPECT_EQ(baseline_advice.find("fp32 is the fastest here"), 0u) << baseline_advice;
  EXPECT_NE(baseline_advice.find("bf16 has no bfloat16 instruction here"), std::string::npos) << baseline_advice;
  if (cpu_isa_level() >= IsaLevel::Avx2) {  // AVX2's int8 kernel (vpmaddwd) beats fp32; bf16 widens to fp32
    const std::string text = ok("CLAPSEARCH_ISA=avx2", "doctor --model " + test::quoted(model_dir()));
    EXPECT_NE(text.find("precisions   int8 is the fastest here; bf16 has no bfloat16 instruction here"),
              std::string::npos)
        << text;
  }
}

// fp32: the engine's tolerances (tests/data/README.md: max|Δ| ≤ 1e-4, cosine ≥ 0.99999). bf16
// and int8 round their inputs, and a 1e-8 difference in the fp32 code around the GEMMs can flip
// a rounding: the precisions' own bounds of fp32 (cosine 0.9999 bf16, 0.999 int8, docs/commands.md).
TEST_F(IsaCli, EveryKernelSetGivesTheSameEmbeddingsWithinTolerancesAndEachIsDeterministic) {
  const std::string args = "embed --model " + test::quoted(model_dir()) + " --audio " + test::quoted(dir() + "/chord.mp3") +
                           " --audio " + test::quoted(dir() + "/noise.wav") + " --text \"warm guitar\"";
  const std::map<std::string, double> min_cosine{{"fp32", 0.99999}, {"bf16", 0.9999}, {"int8", 0.999}};
  for (const auto& [precision, bound] : min_cosine) {
    std::vector<std::vector<json>> per_level;
    for (IsaLevel level : levels_here()) {
      const std::string with = args + " --precision " + precision;
      const std::string out = ok(env_of(level), with);
      EXPECT_EQ(out, ok(env_of(level), with + " --threads 1 --batch 1")) << isa_level_name(level) << " " << precision;
      per_level.push_back(test::json_lines(out));
      ASSERT_EQ(per_level.back().size(), 3u);
    }
    for (size_t l = 1; l < per_level.size(); ++l)
      for (size_t i = 0; i < 3; ++i) {
        const Difference d = difference(per_level[0][i]["embedding"].get<std::vector<float>>(),
                                        per_level[l][i]["embedding"].get<std::vector<float>>());
        std::printf("%s %s vs %s input %zu: max|d| %.3g cosine %.9f\n", precision.c_str(),
                    isa_level_name(levels_here()[0]), isa_level_name(levels_here()[l]), i, d.max_abs, d.cosine);
        EXPECT_GE(d.cosine, bound) << precision << " " << i;
        if (precision == "fp32") {
          EXPECT_LE(d.max_abs, 1e-4) << i;
        }
      }
  }
}

}  // namespace
}  // namespace clap
