#!/usr/bin/env bash
# The Debian package depends on the libraries the program loads when a command first needs them
# (FFmpeg, Chromaprint, libsoxr: src/audio/ffmpeg_library.h). They are not in its DT_NEEDED, so
# dpkg-shlibdeps does not see them; cmake/install.cmake adds them to the package's Depends.
# Checked from outside that code: the libraries `clapsearch --version` opens (the dynamic
# loader's account) are found with dpkg -S, and each package must be in the Depends CPack
# gets (CPACK_DEBIAN_PACKAGE_DEPENDS of BUILD/CPackConfig.cmake). (CTest: Package.DependsOnTheLibrariesItLoads.)
#   loaded_depends.sh BUILD_DIR
set -uo pipefail
build="$1"
command -v dpkg >/dev/null || { echo "no dpkg: not a Debian system"; exit 77; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/libs" "$build/clapsearch" --version >/dev/null 2>&1
# "calling init: /lib/x86_64-linux-gnu/libavformat.so.59" for each object initialised
mapfile -t loaded < <(cat "$tmp"/libs.* | sed -n 's/.*calling init: \(.*\)$/\1/p' |
                      grep -E '/lib(avformat|avcodec|avutil|swresample|swscale|chromaprint|soxr)\.so' | sort -u)
[ ${#loaded[@]} -ge 7 ] || { echo "FAIL: clapsearch --version loaded ${#loaded[@]} of the 7 media libraries: ${loaded[*]}"; exit 1; }
depends="$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_DEPENDS "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")"
bad=0
for lib in "${loaded[@]}"; do
  package="$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1)"
  [ -n "$package" ] || { echo "FAIL: no package holds $lib"; bad=1; continue; }
  if ! grep -qE "(^|, )$package( |,|$)" <<<"$depends"; then
    echo "FAIL: the package does not depend on $package ($lib); Depends: ${depends:-(none beyond shlibdeps)}"
    bad=1
  fi
done
[ "$bad" = 0 ] && echo "ok: the package depends on ${#loaded[@]} libraries the program loads: $depends"
exit "$bad"
