#!/usr/bin/env bash
# No instruction above baseline x86-64 (SSE2) outside the run-time-dispatched kernels.
#
# The binary runs on any x86-64 CPU only if every AVX/AVX2/FMA/F16C/AVX-512 instruction (and
# every SSE3..SSE4.2, POPCNT, BMI, MOVBE one) sits in a function that the dispatch (core/isa.h)
# calls only after checking the CPU has it. Rule: such instructions may appear only in functions
# whose own name (the last component of the demangled name, before its parameters and template
# arguments) contains "avx2", "avx512", "vnni" or "_isa_" (the naming convention of the
# dispatched kernels: strip_avx2, tile_i8_vnni, gelu_erf_isa_avx2, ...), including the OpenMP
# regions outlined from them ("[clone ._omp_fn.N]": they inherit the function's target).
# tzcnt is not flagged: it is encoded as rep bsf and runs as bsf on older CPUs (GCC emits it for
# ctz on any target, e.g. in Debian's libfaiss.a); lzcnt is (it would run as bsr: another result).
# Everything else must be baseline: one stray inline function compiled with a target attribute,
# or a -mavx2 flag, and the binary stops with SIGILL on a Nehalem or a qemu64.
#
# Usage: check_baseline.sh FILE...  (the clapsearch binary, the Python module: what the project
#        links itself; shared libraries from Debian are not ours to check)
#        check_baseline.sh --self-test  (plants a violation in a small program: must be caught)
set -euo pipefail

# Register or mnemonic patterns (AT&T syntax, objdump -d) of instructions above SSE2.
# VEX/EVEX: every AVX* mnemonic starts with "v" (vmovups, vfmadd231ps, vpdpbusd, vzeroupper,
# vcvtph2ps); the only baseline mnemonics starting with "v" are verr/verw (not generated).
# ymm/zmm registers and %k mask registers are AVX/AVX-512 by definition. AMX's tile instructions
# (ldtilecfg, tileloadd, tdpbusd, ...) are named in the list too: they use no vector register.
above='(%[yz]mm[0-9]|%k[0-7]\b)'
mnemonic='^(v[a-z0-9]+|addsubp[sd]|hadd[ps][sd]|hsubp[sd]|lddqu|movddup|movs[hl]dup|fisttp[a-z]*|pshufb|palignr|phaddw|phaddd|phaddsw|phsubw|phsubd|phsubsw|pmaddubsw|pmulhrsw|psign[bwd]|pabs[bwd]|pblendvb|pblendw|blendp[sd]|blendvp[sd]|dpp[sd]|insertps|extractps|pinsr[bdq]|pextr[bdq]|pmovsx[a-z]+|pmovzx[a-z]+|pmuldq|pmulld|pmin[su][bwd]|pmax[su][bwd]|ptest|round[ps][sd]|packusdw|pcmpeqq|movntdqa|mpsadbw|phminposuw|pcmpgtq|pcmp[ei]str[im]|crc32[a-z]*|popcnt[a-z]*|lzcnt[a-z]*|andn[lq]?|bextr[lq]?|blsi[lq]?|blsmsk[lq]?|blsr[lq]?|bzhi[lq]?|mulx[lq]?|pdep[lq]?|pext[lq]?|rorx[lq]?|sarx[lq]?|shlx[lq]?|shrx[lq]?|movbe[a-z]*|ldtilecfg|sttilecfg|tileloadd[a-z0-9]*|tilestored|tilezero|tilerelease|tdp[a-z0-9]+)$'
allowed_name='(avx2|avx512|vnni|_isa_)'

verr_ok='^(verr|verw)$'

check() {
  local file=$1
  objdump -d --no-show-raw-insn -C "$file" | awk -v above="$above" -v mnemonic="$mnemonic" -v allowed="$allowed_name" \
      -v verr_ok="$verr_ok" -v file="$file" '
    # Function headers: "0000000000401000 <clap::f(int) [clone ._omp_fn.0]>:"
    /^[0-9a-f]+ <.*>:$/ {
      sym = $0; sub(/^[0-9a-f]+ </, "", sym); sub(/>:$/, "", sym)
      name = sym
      gsub(/ \[clone [^]]*\]/, "", name)
      gsub(/\(anonymous namespace\)/, "anonymous", name)
      # Drop the parameter list and template arguments (outermost), then the qualifiers.
      depth = 0; base = ""
      for (i = 1; i <= length(name); ++i) {
        ch = substr(name, i, 1)
        if (ch == "(" && depth == 0) break
        if (ch == "<") { ++depth; continue }
        if (ch == ">") { --depth; continue }
        if (depth == 0) base = base ch
      }
      n = split(base, parts, "::"); base = parts[n]
      sub(/^.* /, "", base)  # a return type before the qualified name ("void clap::f<1>(...)")
      ok = (base ~ allowed)
      next
    }
    /^ +[0-9a-f]+:\t/ {
      if (ok) next
      split($0, f, "\t"); insn = f[2]
      m = insn; sub(/[ \t].*$/, "", m)
      if (m ~ verr_ok) next
      if (m ~ mnemonic || insn ~ above) {
        if (!(sym in seen)) { seen[sym] = 1; ++functions; printf "%s: %s: %s\n", file, sym, insn }
        ++count
      }
    }
    END {
      if (count) { printf "%s: %d instruction(s) above baseline x86-64 in %d function(s) outside the dispatched kernels (first of each above)\n", file, count, functions; exit 1 }
    }'
}

if [[ ${1:-} == --self-test ]]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  cat > "$dir/planted.cpp" <<'CPP'
#include <immintrin.h>
// Allowed: a dispatched kernel by name.
__attribute__((target("avx2,fma"))) float sum_avx2(const float* x) {
  __m256 v = _mm256_loadu_ps(x);
  v = _mm256_fmadd_ps(v, v, v);
  float out[8];
  _mm256_storeu_ps(out, v);
  return out[0] + out[7];
}
// The planted violation: AVX2 in a function the convention does not name as a kernel.
__attribute__((target("avx2"))) int planted_helper(const int* x) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  v = _mm256_add_epi32(v, v);
  return _mm256_extract_epi32(v, 3);
}
int main(int argc, char**) { return argc > 5 ? planted_helper(&argc) + static_cast<int>(sum_avx2(nullptr)) : 0; }
CPP
  c++ -O2 -o "$dir/planted" "$dir/planted.cpp"
  if out=$(check "$dir/planted" 2>&1); then
    echo "self-test FAILED: the planted violation was not caught"; exit 1
  fi
  grep -q 'planted_helper' <<<"$out" || { echo "self-test FAILED: wrong report: $out"; exit 1; }
  if grep -q 'sum_avx2' <<<"$out"; then echo "self-test FAILED: the allowed kernel was reported: $out"; exit 1; fi
  echo "self-test ok: caught"; echo "$out"
  exit 0
fi

[[ $# -ge 1 ]] || { echo "usage: $0 FILE... | --self-test" >&2; exit 2; }
status=0
for f in "$@"; do
  if check "$f"; then echo "$f: baseline outside the dispatched kernels"; else status=1; fi
done
exit $status
