#include "core/isa.h"

#include <cstdlib>
#include <cstring>
#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

#include "core/error.h"
#include "core/one_line_text.h"

namespace clap {
namespace {

constexpr const char* kVariable = "CLAPSEARCH_ISA";

struct Choice {
  IsaLevel level = IsaLevel::Baseline;
  std::string error;  // non-empty: the variable is invalid (level is then the CPU's best)
  std::string value;  // the variable's value ("" when unset)
  bool set = false;
  bool avx_vnni = false;  // the Avx2 level may use AVX-VNNI
};


Choice decide() {
  Choice c;
  const IsaLevel cpu = cpu_isa_level();
  c.level = cpu;
  c.avx_vnni = cpu_has_avx_vnni();
  const char* env = std::getenv(kVariable);
  if (env == nullptr || *env == '\0') return c;
  c.set = true;
  c.value = env;
  IsaLevel wanted;
  if (c.value == "avx512")
    wanted = IsaLevel::Avx512;
  else if (c.value == "avx2" || c.value == "avx2-vnni")
    wanted = IsaLevel::Avx2;
  else if (c.value == "baseline")
    wanted = IsaLevel::Baseline;
  else {
    c.error = std::string(kVariable) + "=" + echo_excerpt(c.value) + " is not a kernel set (avx512, avx2-vnni, avx2 or baseline; this CPU has " +
              isa_level_name(cpu) + (cpu_has_avx_vnni() ? " and AVX-VNNI" : "") + ")";
    return c;
  }
  if (static_cast<int>(wanted) > static_cast<int>(cpu)) {
    c.error = std::string(kVariable) + "=" + c.value + " asks for more than this CPU has (its best kernel set is " +
              isa_level_name(cpu) + "); unset it or choose " + isa_level_name(cpu) +
              (cpu == IsaLevel::Baseline ? "" : " or lower");
    return c;
  }
  if (c.value == "avx2-vnni" && !cpu_has_avx_vnni()) {
    c.error = std::string(kVariable) + "=avx2-vnni asks for AVX-VNNI, which this CPU does not have (its best kernel set is " +
              isa_level_name(cpu) + "); choose avx2";
    return c;
  }
  c.level = wanted;
  c.avx_vnni = cpu_has_avx_vnni() && c.value != "avx2";
  return c;
}

const Choice& choice() {
  static const Choice c = decide();
  return c;
}

}  // namespace

// AVX-VNNI is CPUID leaf 7, sub-leaf 1, EAX bit 4, read directly: clang 14 (Debian 12's, which
// builds the fuzz targets) has no "avxvnni" for __builtin_cpu_supports. Its YMM state is AVX2's,
// which __builtin_cpu_supports("avx2") checks the OS saves.
bool cpu_has_avx_vnni() {
#if defined(__x86_64__)
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__builtin_cpu_supports("avx2") || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
    return (eax & (1u << 4)) != 0;
  }();
  return has;
#else
  return false;
#endif
}

// AMX-TILE, AMX-INT8 and AMX-BF16 are CPUID leaf 7, sub-leaf 0, EDX bits 24, 25 and 22; the
// OS must save the tile configuration and data (XCR0 bits 17 and 18); and Linux keeps the 8 KB
// tile state off for a process until it asks (arch_prctl ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA), which it refuses, for example, when a signal stack is too small for it.
// Asked once for the whole process; returns CPUID leaf 7's EDX when tiles are allowed, else 0.
namespace {
unsigned amx_features_allowed() {
#if defined(__x86_64__) && defined(__linux__)
  static const unsigned features = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__builtin_cpu_supports("avx512f") || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0u;
    if (!(edx & (1u << 24))) return 0u;  // AMX-TILE
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));  // OSXSAVE: implied by avx512f above
    if ((xcr0_low & (3u << 17)) != (3u << 17)) return 0u;
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0 ? edx : 0u;
  }();
  return features;
#else
  return 0;
#endif
}
}  // namespace

bool cpu_has_amx_int8() { return (amx_features_allowed() & (1u << 25)) != 0; }
bool cpu_has_amx_bf16() { return (amx_features_allowed() & (1u << 22)) != 0; }

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

bool isa_allows_avx_vnni() {
  (void)isa_level();  // throws when the variable is invalid
  return choice().avx_vnni;
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
