#include "core/isa.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace clap {
namespace {

constexpr const char* kVariable = "CLAPSEARCH_ISA";

struct Choice {
  IsaLevel level = IsaLevel::Baseline;
  std::string error;  // non-empty: the variable is invalid (level is then the CPU's best)
  std::string value;  // the variable's value ("" when unset)
  bool set = false;
};

Choice decide() {
  Choice c;
  const IsaLevel cpu = cpu_isa_level();
  c.level = cpu;
  const char* env = std::getenv(kVariable);
  if (env == nullptr || *env == '\0') return c;
  c.set = true;
  c.value = env;
  IsaLevel wanted;
  if (c.value == "avx512")
    wanted = IsaLevel::Avx512;
  else if (c.value == "avx2")
    wanted = IsaLevel::Avx2;
  else if (c.value == "baseline")
    wanted = IsaLevel::Baseline;
  else {
    c.error = std::string(kVariable) + "=" + c.value + " is not a kernel set (avx512, avx2 or baseline; this CPU has " +
              isa_level_name(cpu) + ")";
    return c;
  }
  if (static_cast<int>(wanted) > static_cast<int>(cpu)) {
    c.error = std::string(kVariable) + "=" + c.value + " asks for more than this CPU has (its best kernel set is " +
              isa_level_name(cpu) + "); unset it or choose " + isa_level_name(cpu) +
              (cpu == IsaLevel::Baseline ? "" : " or lower");
    return c;
  }
  c.level = wanted;
  return c;
}

const Choice& choice() {
  static const Choice c = decide();
  return c;
}

}  // namespace

const char* isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::Avx512: return "avx512";
    case IsaLevel::Avx2: return "avx2";
    default: return "baseline";
  }
}

IsaLevel cpu_isa_level() {
#if defined(__x86_64__)
  static const IsaLevel level = __builtin_cpu_supports("avx512f")                                    ? IsaLevel::Avx512
                                : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? IsaLevel::Avx2
                                                                                                    : IsaLevel::Baseline;
  return level;
#else
  return IsaLevel::Baseline;
#endif
}

IsaLevel isa_level() {
  const Choice& c = choice();
  if (!c.error.empty()) throw Error(c.error);
  return c.level;
}

std::string isa_environment_error() { return choice().error; }

std::string isa_level_reason() {
  const Choice& c = choice();
  const std::string cpu = isa_level_name(cpu_isa_level());
  if (!c.error.empty()) return c.error;
  if (!c.set) return "the CPU's best (" + std::string(kVariable) + " not set)";
  return std::string(kVariable) + "=" + c.value + " (the CPU has " + cpu + ")";
}

}  // namespace clap
