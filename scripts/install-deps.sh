#!/usr/bin/env bash
# Installs every Debian package clapsearch needs to build and run; with --tests also what the
# tests need beyond that (Chromium for the web page's browser test, Node.js + npm for
# Playwright and the API document's test, tests/openapi (which needs Node.js 20.19+), installed from
# Debian only when the machine has no node/npm of its own; clang with
# its sanitizer/libFuzzer runtimes and OpenMP for the fuzz targets, scripts/fuzz.sh; mpv, which
# the playlist test has play its M3U files; the PostgreSQL server, which the store tests start;
# man, zsh and fish, which check the generated man page and completion scripts; beets and mpd,
# which the beets plugin's and the MPD radio's tests run; sublime-music, whose Subsonic adapter
# drives the OpenSubsonic server in its test; qemu-user, which runs the binary on
# emulated CPUs without AVX2 or AVX-512).
# Idempotent: packages already present are left alone; safe to run repeatedly.
set -euo pipefail
tests=0
[ "${1:-}" = "--tests" ] && tests=1

PACKAGES=(
  build-essential cmake pkg-config git
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev   # audio decoding, transcoding, cover pictures
  libchromaprint-dev                                                # acoustic fingerprints (duplicates)
  libsoxr-dev                                                       # resampling to the model's rate
  libdnnl-dev libopenblas-dev                                       # GEMM (oneDNN), BLAS for FAISS
  libsqlite3-dev                                                    # index store
  libpq-dev                                                         # index store in PostgreSQL (client library)
  libfaiss-dev                                                      # vector index
  libpcre2-dev                                                      # tokenizer pre-split regex (\p{L}, \p{N})
  nlohmann-json3-dev libcli11-dev                                   # config/JSON, command line
  libcurl4-openssl-dev libssl-dev                                   # hub downloads, sha256
  libcpp-httplib-dev                                                # HTTP server (serve) and test clients
  libcairo2-dev fonts-dejavu-core                                   # map pictures (SVG, PNG) and their text's font
  zlib1g-dev                                                        # history import: a ListenBrainz export zip's deflated members
  libicu-dev                                                        # user names that look alike (Unicode confusables, ICU uspoof)
  libgtest-dev                                                      # tests
  ffmpeg sox                                                        # tests make real encoded files
  python3-dev python3-pybind11 python3-numpy python3-pytest         # the Python package (python/) and its tests
)

if [ "$tests" = 1 ]; then
  PACKAGES+=(chromium)                                              # the web page's test runs in a real browser
  PACKAGES+=(libblas3)                                              # the reference BLAS, so a test proves FAISS never uses it
  PACKAGES+=(clang libclang-rt-14-dev libomp-14-dev)                # fuzz targets: libFuzzer, ASan, UBSan; OpenMP for clang
  PACKAGES+=(lld curl)                                              # wasm-ld for the Navidrome plugin (clapsearch.ndp); curl for its test host
  PACKAGES+=(mpv)                                                   # a real player must open every entry of the M3U playlists
  PACKAGES+=(postgresql)                                            # the PostgreSQL store's tests start a real server (initdb, pg_ctl)
  PACKAGES+=(man-db groff-base zsh fish)                            # the generated man page renders; zsh and fish accept their completions
  PACKAGES+=(qemu-user)                                             # the x86-64 binary under emulated older CPUs (tests/isa/emulated.sh)
  PACKAGES+=(beets mpd)                                             # the beets plugin runs in the real beet; radio --mpd drives a real MPD
  PACKAGES+=(sublime-music)                                         # a real Subsonic desktop app's adapter drives /rest/
  PACKAGES+=(iproute2)                                              # the IPv6 /64 lockout tests add addresses in a network namespace
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == *"install ok installed"* ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
