#!/usr/bin/env bash
# Real-browser test of `clapsearch serve`: makes a small library of encoded files, indexes it with
# the golden tiny model (random weights: only mechanics are tested, never rankings), starts the
# server on a free port and drives its page with Playwright (playwright-core) in Debian's Chromium.
#
# Usage: tests/browser/run.sh BUILD_DIR [page.test.mjs options, e.g. --web-dir src/server/web]
# Needs: node + npm (npm ci from package-lock.json; the npm registry or npm's cache), ffmpeg,
#        /usr/bin/chromium (or $CHROMIUM). Screenshots: BUILD_DIR/test-artifacts/browser/NN-step.png
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
shift
EXTRA=("$@")   # passed on to page.test.mjs, e.g. --web-dir src/server/web
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLI="$BUILD_DIR/clapsearch"
ARTIFACTS="$BUILD_DIR/test-artifacts/browser"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

fail() { echo "browser test: $*" >&2; exit 1; }
[[ -x "$CLI" ]] || fail "no executable $CLI"
[[ -x "$CHROMIUM" ]] || fail "no Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
command -v ffmpeg >/dev/null || fail "ffmpeg not found"
command -v node >/dev/null || fail "node not found"

MODEL="$REPO/tests/data/tiny-unfused"
[[ -f "$MODEL/config.json" ]] || fail "the bundled test model $MODEL is missing (tests/data/README.md)"

# 1. node_modules from the lockfile, when missing or older than the lockfile.
source "$HERE/../support/npm_install.sh"   # npm_install DIR PACKAGE: npm ci under a lock
npm_install "$HERE" playwright-core || fail "npm ci failed (needs the npm registry or a warm npm cache)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/clapsearch-browser.XXXXXX")
SERVER_PIDS=()
source "$HERE/../support/start_server.sh"   # start_server NAME [options]: sets URL; stop_servers
cleanup() {
  stop_servers
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 2. A small library of real encoded files with tags (so the map's colours have something to show).
MUSIC="$TMP/music"
mkdir -p "$MUSIC/tones" "$MUSIC/noise"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
# track OUT SOURCE TITLE ARTIST ALBUM GENRE [ffmpeg output options...]
track() {
  local out=$1 src=$2 title=$3 artist=$4 album=$5 genre=$6
  shift 6
  ff -f lavfi -i "$src" -metadata "title=$title" -metadata "artist=$artist" -metadata "album=$album" \
    -metadata "genre=$genre" "$@" "$MUSIC/$out"
}
track tones/low-hum.mp3 "sine=f=220:d=22:sample_rate=44100" "Low Hum" "Sine Ensemble" "Tones" "Ambient" -c:a libmp3lame -b:a 96k
track tones/concert-a.flac "sine=f=440:d=16:sample_rate=44100" "Concert A" "Sine Ensemble" "Tones" "Classical" -c:a flac
track tones/high-whistle.ogg "sine=f=880:d=13:sample_rate=48000" "High Whistle" "Sine Ensemble" "Tones" "Ambient" -c:a libvorbis -q:a 3
track tones/siren-song.mp3 "aevalsrc=0.4*sin(2*PI*(300+200*sin(2*PI*0.25*t))*t):d=25:s=44100" "Siren Song" "Wobble Trio" "Sweeps" "Electronic" -c:a libmp3lame -b:a 96k
track noise/pink-rain.flac "anoisesrc=seed=11:color=pink:amplitude=0.3:d=18:r=44100" "Pink Rain" "Noise Collective" "Weather" "Noise" -c:a flac
track noise/brown-thunder.mp3 "anoisesrc=seed=12:color=brown:amplitude=0.4:d=14:r=44100" "Brown Thunder" "Noise Collective" "Weather" "Noise" -c:a libmp3lame -b:a 96k
# Tone then silence: its last windows are silent (no score on the strip).
track tones/quiet-interlude.mp3 "aevalsrc=if(lt(t\\,8)\\,0.3*sin(2*PI*330*t)\\,0):d=22:s=44100" "Quiet Interlude" "Sine Ensemble" "Tones" "Classical" -c:a libmp3lame -b:a 96k
track noise/static-sea.wav "anoisesrc=seed=13:color=white:amplitude=0.2:d=12:r=44100" "Static Sea" "Wobble Trio" "Weather" "Electronic" -af lowpass=f=2000 -c:a pcm_s16le
# Not audio: recorded as an error (the library view lists it; the map leaves it out).
printf 'this is not an mp3\n' >"$MUSIC/noise/broken.mp3"
# The query-by-example clip: 12 s cut out of an indexed file (that track must come back).
CLIP="$TMP/clip-from-siren-song.wav"
ff -ss 6 -t 12 -i "$MUSIC/tones/siren-song.mp3" -ac 1 -ar 44100 "$CLIP"

# 3. Index with the golden tiny model (offline; no hub access).
export HF_HOME="$TMP/hf-home" HF_HUB_OFFLINE=1
DB="$TMP/library.db"
"$CLI" index "$MUSIC" --db "$DB" --model "$MODEL" --quiet || fail "clapsearch index failed"

# For you: users ann (a ListenBrainz history of songs of the library, resolved by artist and
# title, ten days old so the mixes may hold them, and her mixes) and bob (no history yet).
printf 'browser test\n' >"$TMP/password"
for user in ann bob; do
  "$CLI" user add "$user" --db "$DB" --password-file "$TMP/password" >/dev/null || fail "clapsearch user add $user failed"
done
LISTENS="$TMP/ann-listens.jsonl"
: >"$LISTENS"
listened_at=$(($(date +%s) - 10 * 86400))
listen() {   # listen ARTIST TITLE TIMES
  local i
  for ((i = 0; i < $3; i++)); do
    listened_at=$((listened_at - 3600))
    printf '{"listened_at": %d, "track_metadata": {"artist_name": "%s", "track_name": "%s"}}\n' "$listened_at" "$1" "$2" >>"$LISTENS"
  done
}
listen "Sine Ensemble" "Low Hum" 6
listen "Sine Ensemble" "Concert A" 5
listen "Sine Ensemble" "High Whistle" 4
listen "Noise Collective" "Pink Rain" 5
listen "Noise Collective" "Brown Thunder" 4
listen "Wobble Trio" "Static Sea" 3
"$CLI" history import "$LISTENS" --user ann --db "$DB" >/dev/null || fail "clapsearch history import failed"
"$CLI" mix --user ann --size 4 --db "$DB" >/dev/null || fail "clapsearch mix failed"

# A second, small library whose tags are what a careless tagger or an attacker puts there (hostile
# pass 22, H22S-1 and H22S-2): markup, a word of 3,000 letters, control characters, a right-to-left
# override before the artist. The page must show them as text, inside the window, without boxes
# and without reversing what follows.
HOSTILE_MUSIC="$TMP/hostile-music"
mkdir -p "$HOSTILE_MUSIC"
LONG_WORD=$(head -c 3000 /dev/zero | tr '\0' W)
ff -f lavfi -i "sine=f=330:d=12:sample_rate=44100" -metadata "title=$LONG_WORD" -metadata "artist=$(head -c 2000 /dev/zero | tr '\0' A)" \
  -metadata "album=$(head -c 1000 /dev/zero | tr '\0' B)" -metadata "genre=$(head -c 500 /dev/zero | tr '\0' G)" -c:a flac "$HOSTILE_MUSIC/$(head -c 200 /dev/zero | tr '\0' L).flac"
ff -f lavfi -i "sine=f=550:d=12:sample_rate=44100" -metadata $'title=\u202eEvil ctl\x01\x07\x1b[31mred\x7f\u0085' \
  -metadata $'artist=<img src=x onerror="window.__pwned=1">Bob\u2066' -metadata $'album=\u202b<b id=injected>al</b>' \
  -metadata $'genre=gen\x1are' -c:a flac "$HOSTILE_MUSIC/control.flac"
HOSTILE_DB="$TMP/hostile.db"
"$CLI" index "$HOSTILE_MUSIC" --db "$HOSTILE_DB" --model "$MODEL" --quiet || fail "clapsearch index of the hostile tags failed"

# 4. The server on a free port (three times: open, with a token, the hostile tags'); wait for each
# "listening on" line.
TOKEN="browser-test-$RANDOM$RANDOM"
start_server token-server --token "$TOKEN"
TOKEN_URL=$URL
DB_SAVED=$DB DB=$HOSTILE_DB
start_server hostile-server
HOSTILE_URL=$URL DB=$DB_SAVED
start_server server
# 5. The page, in a real browser.
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png
status=0
node "$HERE/page.test.mjs" "$URL" --clip "$CLIP" --clip-track siren-song.mp3 --artifacts "$ARTIFACTS" \
  --token-url "$TOKEN_URL" --token "$TOKEN" --hostile-url "$HOSTILE_URL" --cli "$CLI" --db "$DB" "${EXTRA[@]}" || status=$?
if [[ $status -ne 0 ]]; then
  for name in server token-server hostile-server; do
    echo "--- $name stderr (last 40 lines):" >&2; tail -n 40 "$TMP/$name.err" >&2 || true
  done
fi
exit $status
