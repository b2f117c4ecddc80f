#!/usr/bin/env bash
# Installs the Debian package into a clean Debian 12 (debootstrap, in a folder) with apt-get,
# as a user's machine would, and runs it there: --version, index and search with the tiny
# test model, serve with a request to /api/status. Proves the package's dependencies are
# complete (nothing found only because the build machine has the -dev packages).
#   scripts/package-test.sh build-package/clapsearch_0.1.0_amd64.deb [ROOT]   (as root)
# Needs root, debootstrap and a Debian mirror (MIRROR=..., default deb.debian.org). ROOT (default
# /var/tmp/clapsearch-package-test) is made once and reused; delete it to start afresh.
set -euo pipefail
deb="$(realpath "$1")"
root="${2:-/var/tmp/clapsearch-package-test}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
here="$(cd "$(dirname "$0")/.." && pwd)"
model="${MODEL:-$here/tests/data/tiny-unfused}"  # MODEL=folder: another small model
[ -d "$model" ] || { echo "package-test: $model is missing (the tiny test model)"; exit 1; }

if [ ! -x "$root/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
cleanup() {
  for m in proc dev sys; do umount -l "$root/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mkdir -p "$root/tmp/pkg" "$root/tmp/music"
cp "$deb" "$root/tmp/pkg/"
rm -rf "$root/tmp/model" && cp -r "$model" "$root/tmp/model"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "/tmp/pkg/$(basename "$deb")" curl ffmpeg

in_root clapsearch --version
in_root man -w clapsearch >/dev/null 2>&1 || echo "package-test: (man-db not in the minimal system; the page is $(in_root ls /usr/share/man/man1/clapsearch.1.gz))"
# Two short tones as the music.
in_root ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=12" /tmp/music/a.flac
in_root ffmpeg -loglevel error -y -f lavfi -i "sine=f=880:d=12" /tmp/music/b.wav
in_root clapsearch index /tmp/music --db /tmp/library.db --model /tmp/model
in_root clapsearch search "a high tone" --db /tmp/library.db -k 2
in_root sh -c 'clapsearch serve --db /tmp/library.db --port 18411 --quiet & pid=$!
  ok=1
  for i in $(seq 1 100); do curl -fsS http://127.0.0.1:18411/api/status 2>/dev/null && { ok=0; break; }; sleep 0.2; done
  echo; kill $pid; wait $pid 2>/dev/null; exit $ok' || { echo "package-test: the server never answered"; exit 1; }
echo "package-test: OK"
