#!/usr/bin/env bash
# The Debian package for arm64 (docs/platforms.md), cross-built on a Debian 12 x86-64 machine:
#   1. scripts/build-arm64.sh builds the arm64 binary (and its man page and completions, made
#      by the binary itself under qemu) in build-arm64/;
#   2. the package's Depends are worked out as dpkg-shlibdeps would: each shared library the
#      binary needs (its DT_NEEDED entries), looked up in the shlibs files of the arm64 packages
#      the sysroot was made from;
#   3. CPack writes build-arm64/clapsearch_<version>_arm64.deb;
#   4. checks: the package says arm64, its binary is an aarch64 executable that runs
#      (`--version` under qemu-aarch64), and apt resolves its Depends on an empty Debian 12 arm64
#      system (a simulated install: nothing is installed or downloaded).
# On a native arm64 machine none of this is needed: `bash scripts/package.sh`, as on x86-64.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CLAPSEARCH_ARM64_BUILD_DIR:-$root/build-arm64}"
sysroot="${CLAPSEARCH_ARM64_SYSROOT:-$root/.cache/arm64-sysroot}"

if [ "${CLAPSEARCH_ARM64_SKIP_BUILD:-0}" != 1 ]; then
  CLAPSEARCH_BUILD_TARGET=clapsearch bash "$root/scripts/build-arm64.sh"
  cmake --build "$build" --target clapsearch_docs
fi
shlibs="$sysroot/.clapsearch-shlibs/shlibs"
[ -s "$shlibs" ] || { echo "package-arm64: $shlibs is missing (delete $sysroot and run scripts/build-arm64.sh again)" >&2; exit 1; }

# ---- Depends from DT_NEEDED and the shlibs files ----------------------------------------------
# A soname libNAME.so.VERSION (or libNAME-VERSION.so) is the shlibs line "NAME VERSION deps".
depends=()
missing=()
while read -r soname; do
  if [[ $soname =~ ^(.+)\.so\.(.+)$ ]]; then name="${BASH_REMATCH[1]}" version="${BASH_REMATCH[2]}"
  elif [[ $soname =~ ^(.+)-([0-9][^-]*)\.so$ ]]; then name="${BASH_REMATCH[1]}" version="${BASH_REMATCH[2]}"
  else missing+=("$soname"); continue
  fi
  # (Lines with a type first, "udeb: ...", are for the installer's packages: skipped.)
  dep="$(awk -v n="$name" -v v="$version" '$1 == n && $2 == v { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$shlibs")"
  if [ -z "$dep" ]; then missing+=("$soname"); else depends+=("$dep"); fi
done < <(aarch64-linux-gnu-readelf -d "$build/clapsearch" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
          # and the libraries it loads when it first decodes (src/audio/ffmpeg_library.h)
          cat "$build/loaded-sonames.txt")
if [ ${#missing[@]} -gt 0 ]; then
  echo "package-arm64: no shlibs entry for ${missing[*]} (a library outside the sysroot's packages?)" >&2
  exit 1
fi
# One entry per package: the same package may be named by several sonames (libavutil ...).
depends_line="$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, - | sed 's/,/, /g')"
echo "package-arm64: Depends: $depends_line"

# ---- the package ------------------------------------------------------------------------------
# CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack would otherwise build every target (the tests too)
# first; what the package holds was built above.
cmake -S "$root" -B "$build" -DCLAPSEARCH_DEB_DEPENDS="$depends_line" -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
(cd "$build" && cpack -G DEB >/dev/null)
deb="$(ls -t "$build"/clapsearch_*_arm64.deb | head -1)"
echo "package-arm64: $deb"

# ---- checks -----------------------------------------------------------------------------------
arch="$(dpkg-deb -f "$deb" Architecture)"
[ "$arch" = arm64 ] || { echo "package-arm64: FAIL: Architecture is $arch" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/unpacked"
file -b "$work/unpacked/usr/bin/clapsearch" | grep -q "ARM aarch64" || { echo "package-arm64: FAIL: usr/bin/clapsearch is $(file -b "$work/unpacked/usr/bin/clapsearch")" >&2; exit 1; }
for f in usr/share/man/man1/clapsearch.1.gz usr/share/bash-completion/completions/clapsearch usr/lib/systemd/system/clapsearch.service etc/clapsearch/clapsearch.toml; do
  [ -e "$work/unpacked/$f" ] || { echo "package-arm64: FAIL: $f is not in the package" >&2; exit 1; }
done
"$build/qemu-run" "$work/unpacked/usr/bin/clapsearch" --version | head -1
# apt, as for an empty arm64 system (the sysroot's method): an empty dpkg status, arm64 only,
# simulate. Every Depends must resolve to Debian 12's arm64 packages.
: >"$work/status"
if ! apt-get -o "Dir::State::status=$work/status" -o APT::Architecture=arm64 -o "APT::Architectures::=arm64" \
       -o Debug::NoLocking=1 install -s -qq "$deb" >"$work/apt.log" 2>&1; then
  cat "$work/apt.log" >&2
  echo "package-arm64: FAIL: apt cannot resolve the package's Depends on arm64" >&2
  exit 1
fi
echo "package-arm64: ok (apt resolves $(grep -c '^Inst ' "$work/apt.log") packages for an empty arm64 system)"
