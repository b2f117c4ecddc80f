#!/usr/bin/env bash
# Cross-builds clapsearch and its tests for 64-bit ARM (aarch64) into ./build-arm64 on a Debian 12
# x86-64 machine (docs/platforms.md). Idempotent: installs what is missing, reuses the sysroot.
#
#   - host packages: crossbuild-essential-arm64 (GCC 12 for aarch64 with its libc, libstdc++,
#     libgomp), qemu-user (runs the tests), cmake, pkg-config;
#   - a sysroot of Debian's arm64 packages (the -dev packages of scripts/install-deps.sh and
#     everything they need), downloaded by apt and unpacked with dpkg -x. Not installed into
#     the host: the :arm64 -dev packages cannot sit beside the amd64 ones (apt would remove
#     libpq-dev:amd64, which is not Multi-Arch: same);
#   - build-arm64/qemu-run: runs any arm64 binary of the build under qemu-aarch64 with the
#     sysroot's libraries (also CMake's CMAKE_CROSSCOMPILING_EMULATOR, so the tests are listed
#     and run through it). QEMU_CPU selects the emulated CPU (e.g. cortex-a53, cortex-a76, max).
#
# CLAPSEARCH_ARM64_SYSROOT: where the sysroot goes (default .cache/arm64-sysroot, kept when
# build-arm64 is deleted). CLAPSEARCH_BUILD_TARGET: build only that target. CLAPSEARCH_WERROR=OFF
# allows warnings (default ON, as in the test command). A native arm64 machine needs none of
# this: scripts/build.sh builds there as on x86-64.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CLAPSEARCH_ARM64_BUILD_DIR:-$root/build-arm64}"
sysroot="${CLAPSEARCH_ARM64_SYSROOT:-$root/.cache/arm64-sysroot}"

# The arm64 packages the build links with: scripts/install-deps.sh's -dev packages, without
# the Python bindings (CLAPSEARCH_PYTHON is off in the cross build: no arm64 interpreter here).
TARGET_PACKAGES=(
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev libchromaprint-dev libsoxr-dev
  libdnnl-dev libopenblas-dev libsqlite3-dev libpq-dev libfaiss-dev libpcre2-dev
  nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  libcairo2-dev libicu-dev libgtest-dev
)
HOST_PACKAGES=(crossbuild-essential-arm64 qemu-user cmake pkg-config ccache)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# ---- host packages and the arm64 package lists ----------------------------------------------
updated=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "build-arm64: adding the arm64 architecture to apt (package lists only; nothing arm64 is installed)"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  updated=1
fi
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == *"install ok installed"* ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-arm64: installing ${missing[*]}"
  [ "$updated" = 1 ] || $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! apt-cache show libdnnl-dev:arm64 >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi

# ---- the sysroot --------------------------------------------------------------------------
# Rebuilt when the package list changes (the stamp holds it).
stamp="$sysroot/.clapsearch-packages"
want="${TARGET_PACKAGES[*]} (with shlibs)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "build-arm64: making the arm64 sysroot in $sysroot"
  rm -rf "$sysroot"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/debs/partial" "$sysroot"
  : >"$work/status"
  # The whole dependency closure for an empty arm64 system: apt with an empty dpkg status and
  # arm64 as its only architecture, download only (nothing touches the host's dpkg database).
  apt_opts=(-o "Dir::State::status=$work/status" -o APT::Architecture=arm64 -o "APT::Architectures::=arm64"
            -o "Dir::Cache::archives=$work/debs" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" install -y -qq --download-only --no-install-recommends "${TARGET_PACKAGES[@]}" >/dev/null
  # Each package's shlibs file (its control area: soname -> the Depends a user of it needs),
  # kept for scripts/package-arm64.sh, which cannot ask dpkg-shlibdeps (it reads the host's
  # dpkg database, which has no arm64 packages).
  mkdir -p "$sysroot/.clapsearch-shlibs"
  for deb in "$work"/debs/*.deb; do
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./shlibs 2>/dev/null >>"$sysroot/.clapsearch-shlibs/shlibs" || true
  done
  for deb in "$work"/debs/*.deb; do
    case "$(basename "$deb")" in
      # The C library comes from the cross toolchain (/usr/aarch64-linux-gnu); the sysroot's
      # libc.so linker script would name /lib/aarch64-linux-gnu/libc.so.6 and override it.
      libc6_*|libc6-dev_*|libc-dev-bin_*|linux-libc-dev_*) continue ;;
    esac
    dpkg -x "$deb" "$sysroot"
  done
  # Repairs (dpkg -x runs no maintainer scripts):
  # absolute symbolic links point into the host's / : re-pointed into the sysroot.
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    case "$target" in /*) ln -sfn "$sysroot$target" "$link" ;; esac
  done < <(find "$sysroot" -type l -print0)
  # Debian's FAISS CMake package names /usr/lib/aarch64-linux-gnu/libblas.so and liblapack.so.
  lib="$sysroot/usr/lib/aarch64-linux-gnu"
  faiss_targets="$lib/cmake/faiss/faiss-targets.cmake"
  if [ -f "$faiss_targets" ]; then
    sed -i "s#\"/usr/lib/aarch64-linux-gnu/#\"$lib/#g; s#;/usr/lib/aarch64-linux-gnu/#;$lib/#g" "$faiss_targets"
  fi
  echo "$want" >"$stamp"
  rm -rf "$work"
  trap - EXIT
fi
# libblas, liblapack and libopenblas are update-alternatives links, which dpkg -x does not make:
# all pointed at OpenBLAS (pthread build), as on the amd64 side (CMakeLists.txt pins OpenBLAS).
lib="$sysroot/usr/lib/aarch64-linux-gnu"
for so in "$lib"/openblas-pthread/lib*.so*; do
  [ -e "$so" ] && ln -sfn "openblas-pthread/$(basename "$so")" "$lib/$(basename "$so")"
done

# ---- qemu-run -----------------------------------------------------------------------------
mkdir -p "$build"
cat >"$build/qemu-run.new" <<EOF
#!/usr/bin/env bash
# Runs an arm64 binary of this build under qemu-aarch64 (made by scripts/build-arm64.sh).
# QEMU_CPU picks the emulated CPU (default: qemu's, "max"); e.g. QEMU_CPU=cortex-a53 qemu-run ./clapsearch doctor
set -euo pipefail
sysroot="$sysroot"
lib="\$sysroot/usr/lib/aarch64-linux-gnu"
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export LD_LIBRARY_PATH="\$lib:\$lib/openblas-pthread:\$lib/blas:\$lib/lapack:\$sysroot/lib/aarch64-linux-gnu\${CLAPSEARCH_QEMU_LD_LIBRARY_PATH:+:\$CLAPSEARCH_QEMU_LD_LIBRARY_PATH}"
# clapsearch re-executes itself to set its OpenMP wait policy when it is unset; that second
# image would run outside the emulator's control of the CPU model. Setting the policy here
# skips the re-exec (and spinning OpenMP threads only waste emulated time).
export OMP_WAIT_POLICY="\${OMP_WAIT_POLICY:-PASSIVE}" GOMP_SPINCOUNT="\${GOMP_SPINCOUNT:-2000}"
exec qemu-aarch64 \${QEMU_CPU:+-cpu "\$QEMU_CPU"} "\$@"
EOF
chmod +x "$build/qemu-run.new"
mv "$build/qemu-run.new" "$build/qemu-run"

# ---- configure and build ------------------------------------------------------------------
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" -DCLAPSEARCH_ARM64_SYSROOT="$sysroot" \
  -DCMAKE_CROSSCOMPILING_EMULATOR="$build/qemu-run" \
  -DCLAPSEARCH_WERROR="${CLAPSEARCH_WERROR:-ON}" -DCLAPSEARCH_PYTHON=OFF -DCLAPSEARCH_NAVIDROME_PLUGIN=OFF \
  ${CLAPSEARCH_GOLDEN:+-DCLAPSEARCH_GOLDEN_DIR="$CLAPSEARCH_GOLDEN"} "${launcher[@]}" >/dev/null
jobs="${CLAPSEARCH_JOBS:-$(nproc)}"
cmake --build "$build" -j"$jobs" ${CLAPSEARCH_BUILD_TARGET:+--target "$CLAPSEARCH_BUILD_TARGET"}
echo "build-arm64: $build/clapsearch (run with $build/qemu-run $build/clapsearch ...)"
