#!/usr/bin/env bash
# The REST API against its document: lints src/server/openapi.json (Redocly CLI, rules
# recommended-strict; and the OpenAPI 3.0 meta-schema), then starts a real `clapsearch serve` on
# loopback over a small indexed library (the golden tiny model: random weights, so only shapes
# and statuses are checked, never rankings), requests every route (answers and typical errors,
# 400/401/408/413/414/421/503 on each, 429 on the routes that embed a text) and validates each
# answer's status and body against the document with Ajv: a field the document does not list
# fails (additionalProperties: false).
#
# Usage: tests/openapi/run.sh BUILD_DIR
# Needs: node (20.19 or later) + npm (npm ci from package-lock.json: the npm registry or npm's cache), ffmpeg.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLI="$BUILD_DIR/clapsearch"
DOC="$REPO/src/server/openapi.json"

fail() { echo "openapi test: $*" >&2; exit 1; }
[[ -x "$CLI" ]] || fail "no executable $CLI"
command -v ffmpeg >/dev/null || fail "ffmpeg not found"
command -v node >/dev/null || fail "node not found"
# Redocly CLI 2 runs on Node.js 20.19 or later (Debian 12's own nodejs is 18: use a newer one).
# The answers are validated on any Node.js the test command installs; only the lint step needs
# the newer one, and says so when it cannot run (the meta-schema check below still runs).
lint_node=1
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  lint_node=0
MODEL="$REPO/tests/data/tiny-unfused"
[[ -f "$MODEL/config.json" ]] || fail "the bundled test model $MODEL is missing (tests/data/README.md)"

# 1. node_modules from the lockfile, when missing or older than the lockfile.
source "$HERE/../support/npm_install.sh"   # npm_install DIR PACKAGE: npm ci under a lock
npm_install "$HERE" ajv || fail "npm ci failed (needs the npm registry or a warm npm cache)"

# 2. The document itself.
# (Its output only when it fails: it also prints notices about Node.js versions.) The answers
# are checked either way; the test fails at the end.
lint_status=0
if [[ $lint_node == 0 ]]; then
  echo "openapi test: NOTE: redocly lint skipped: Node.js $(node --version) is older than 20.19, which Redocly CLI needs" >&2
elif "$HERE/node_modules/.bin/redocly" lint --config "$HERE/redocly.yaml" --format stylish "$DOC" >"$BUILD_DIR/openapi-lint.log" 2>&1; then
  echo "openapi test: redocly lint (recommended-strict): no problems"
else
  lint_status=1
  grep -v '^ *║\|^ *╔\|^ *╚' "$BUILD_DIR/openapi-lint.log" >&2
  echo "openapi test: redocly lint found problems in $DOC" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/clapsearch-openapi.XXXXXX")
SERVER_PIDS=()
source "$HERE/../support/start_server.sh"   # start_server NAME [options]: sets URL; stop_servers
cleanup() {
  stop_servers
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 3. A small tagged library: two artists, two albums, four formats, one file that is not audio
#    (an error track: its audio route answers 410).
MUSIC="$TMP/music"
mkdir -p "$MUSIC/tones" "$MUSIC/noise"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
track() {   # track OUT SOURCE TITLE ARTIST ALBUM [ffmpeg output options...]
  local out=$1 src=$2 title=$3 artist=$4 album=$5
  shift 5
  ff -f lavfi -i "$src" -metadata "title=$title" -metadata "artist=$artist" -metadata "album=$album" \
    -metadata "genre=Test" "$@" "$MUSIC/$out"
}
track tones/concert-a.flac "sine=f=440:d=12:sample_rate=44100" "Concert A" "Sine Ensemble" "Tones" -c:a flac
track tones/high-whistle.mp3 "sine=f=880:d=11:sample_rate=44100" "High Whistle" "Sine Ensemble" "Tones" -c:a libmp3lame -b:a 96k
track noise/pink-rain.ogg "anoisesrc=seed=11:color=pink:amplitude=0.3:d=12:r=44100" "Pink Rain" "Noise Collective" "Weather" -c:a libvorbis -q:a 3
track noise/brown-thunder.flac "anoisesrc=seed=12:color=brown:amplitude=0.4:d=10:r=44100" "Brown Thunder" "Noise Collective" "Weather" -c:a flac
printf 'this is not an mp3\n' >"$MUSIC/noise/broken.mp3"
CLIP="$TMP/clip.wav"
ff -ss 2 -t 6 -i "$MUSIC/tones/concert-a.flac" -ac 1 -ar 44100 "$CLIP"
LONG_CLIP="$TMP/long.flac"   # a query that holds the model for a few seconds (the 429 case)
ff -f lavfi -i "sine=f=330:d=240:sample_rate=48000" -c:a flac "$LONG_CLIP"

export HF_HOME="$TMP/hf-home" HF_HUB_OFFLINE=1
DB="$TMP/library.db"
"$CLI" index "$MUSIC" --db "$DB" --model "$MODEL" --quiet || fail "clapsearch index failed"

# A user with a history of two songs and her mixes (the For you routes' answers: taste centres,
# mixes with reasons); the only user, so the routes' default.
printf 'openapi test\n' >"$TMP/password"
"$CLI" user add ann --db "$DB" --password-file "$TMP/password" >/dev/null || fail "clapsearch user add failed"
at=$(($(date +%s) - 10 * 86400))
for i in 1 2 3 4 5 6; do
  printf '{"listened_at": %d, "track_metadata": {"artist_name": "Sine Ensemble", "track_name": "Concert A"}}\n' $((at - i * 3600))
  printf '{"listened_at": %d, "track_metadata": {"artist_name": "Noise Collective", "track_name": "Pink Rain"}}\n' $((at - i * 3600 - 60))
done >"$TMP/listens.jsonl"
"$CLI" history import "$TMP/listens.jsonl" --db "$DB" >/dev/null || fail "clapsearch history import failed"
"$CLI" mix --size 3 --db "$DB" >/dev/null || fail "clapsearch mix failed"

# 4. Three servers on free ports: open (loopback names only), with a token, and a strict one
#    (no queue for the model, a 1 s head deadline) on its own copy of the index, which the test
#    damages to see every route's 503.
TOKEN="openapi-test-$RANDOM$RANDOM"
start_server token-server --token "$TOKEN"
TOKEN_URL=$URL
STRICT_DB="$TMP/strict.db"
cp "$DB" "$STRICT_DB"
for suffix in -wal -shm; do [[ ! -f "$DB$suffix" ]] || cp "$DB$suffix" "$STRICT_DB$suffix"; done
DB="$STRICT_DB" start_server strict-server --queue 0 --head-timeout 1
STRICT_URL=$URL
start_server server
status=0
node "$HERE/openapi.test.mjs" --url "$URL" --token-url "$TOKEN_URL" --strict-url "$STRICT_URL" --strict-db "$STRICT_DB" \
  --token "$TOKEN" --doc "$DOC" --clip "$CLIP" --long-clip "$LONG_CLIP" --not-audio "$MUSIC/noise/broken.mp3" || status=$?
if [[ $status -ne 0 ]]; then
  for name in server token-server strict-server; do
    echo "--- $name stderr (last 20 lines):" >&2; tail -n 20 "$TMP/$name.err" >&2 || true
  done
fi
[[ $lint_status -eq 0 ]] || echo "openapi test: FAILED: redocly lint (above)" >&2
exit $((status | lint_status))
