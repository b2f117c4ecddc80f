#!/usr/bin/env bash
# The OpenSubsonic API (/rest/) driven by the real npm `subsonic-api` client, unchanged, with
# every JSON answer validated against schemas written from the spec (schemas.mjs). Starts a real
# `clapsearch serve` on loopback over a small tagged library indexed with the golden tiny model
# (random weights: similarity answers are checked for their semantics and shapes, never for
# which songs sound alike), with one user (password and API key) made by `clapsearch user`, then
# runs every *.test.mjs here against it (or only those named).
#
# With --postgres the index is a PostgreSQL database on a real server this script starts (initdb
# into a temporary folder, loopback only, stopped at the end), as tests/support/postgres_server.h
# does for the C++ tests: the same tests, the other store.
#
# Usage: tests/subsonic/run.sh BUILD_DIR [--postgres] [TEST.test.mjs ...]
# Needs: node 18 or later + npm (npm ci from package-lock.json), ffmpeg, ffprobe; with --postgres
# Debian's `postgresql` package (/usr/lib/postgresql/*/bin).
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [--postgres] [TEST.test.mjs ...]" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd)
shift
POSTGRES=0
if [[ ${1:-} == --postgres ]]; then POSTGRES=1; shift; fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLI="$BUILD_DIR/clapsearch"

fail() { echo "subsonic test: $*" >&2; exit 1; }
[[ -x "$CLI" ]] || fail "no executable $CLI"
command -v ffmpeg >/dev/null || fail "ffmpeg not found"
command -v node >/dev/null || fail "node not found"
MODEL="$REPO/tests/data/tiny-unfused"
[[ -f "$MODEL/config.json" ]] || fail "the bundled test model $MODEL is missing (tests/data/README.md)"

source "$HERE/../support/npm_install.sh"   # npm_install DIR PACKAGE: npm ci under a lock
npm_install "$HERE" subsonic-api || fail "npm ci failed (needs the npm registry or a warm npm cache)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/clapsearch-subsonic.XXXXXX")
SERVER_PIDS=()
source "$HERE/../support/start_server.sh"   # start_server NAME [options]: sets URL; stop_servers
source "$HERE/../support/start_postgres.sh"   # start_postgres: sets PG_URL; stop_postgres
cleanup() {
  stop_servers
  stop_postgres
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A small tagged library: two artists, three albums, three formats, a nested folder.
MUSIC="$TMP/music"
mkdir -p "$MUSIC/Sine Ensemble/Tones" "$MUSIC/Sine Ensemble/Overtones" "$MUSIC/Noise Collective/Weather/Disc 2"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
track() {   # track OUT SOURCE TITLE ARTIST ALBUM NUMBER GENRE YEAR [ffmpeg output options...]
  local out=$1 src=$2 title=$3 artist=$4 album=$5 number=$6 genre=$7 year=$8
  shift 8
  ff -f lavfi -i "$src" -metadata "title=$title" -metadata "artist=$artist" -metadata "album=$album" \
    -metadata "track=$number" -metadata "genre=$genre" -metadata "date=$year" "$@" "$MUSIC/$out"
}
track "Sine Ensemble/Tones/01 Concert A.flac" "sine=f=440:d=12:sample_rate=44100" "Concert A" "Sine Ensemble" "Tones" 1 Ambient 2019 -c:a flac
track "Sine Ensemble/Tones/02 High Whistle.mp3" "sine=f=880:d=11:sample_rate=44100" "High Whistle" "Sine Ensemble" "Tones" 2 Ambient 2019 -c:a libmp3lame -b:a 96k
track "Sine Ensemble/Overtones/01 Fifth.ogg" "sine=f=660:d=10:sample_rate=44100" "Fifth" "Sine Ensemble" "Overtones" 1 Drone 2021 -c:a libvorbis -q:a 3
track "Noise Collective/Weather/01 Pink Rain.ogg" "anoisesrc=seed=11:color=pink:amplitude=0.3:d=12:r=44100" "Pink Rain" "Noise Collective" "Weather" 1 Noise 2020 -c:a libvorbis -q:a 3
track "Noise Collective/Weather/Disc 2/02 Brown Thunder.flac" "anoisesrc=seed=12:color=brown:amplitude=0.4:d=10:r=44100" "Brown Thunder" "Noise Collective" "Weather" 2 Noise 2020 -c:a flac

# --- media (media.test.mjs): covers and lyrics on the same five tracks (no track added) ---
# High Whistle gets an embedded 320x240 PNG cover and LRC lyrics in its ID3 tag; Concert A
# (FLAC, no picture of its own) the cover.JPG beside it in Tones/; Fifth unsynced lyrics in a
# Vorbis LYRICS comment; Weather/ a folder.jpg that is a link out of the library (never served).
# Scaled covers are cached under XDG_CACHE_HOME, here the test's own directory.
ff -f lavfi -i "testsrc=size=320x240:d=1" -frames:v 1 "$TMP/cover.png"
ff -f lavfi -i "testsrc=size=400x300:d=1" -frames:v 1 "$MUSIC/Sine Ensemble/Tones/cover.JPG"
ff -f lavfi -i "testsrc=size=64x64:d=1" -frames:v 1 "$TMP/outside.jpg"
ln -s "$TMP/outside.jpg" "$MUSIC/Noise Collective/Weather/folder.jpg"
whistle="$MUSIC/Sine Ensemble/Tones/02 High Whistle.mp3"
ff -i "$whistle" -i "$TMP/cover.png" -map 0 -map 1 -c copy -disposition:v attached_pic -id3v2_version 3 \
  -metadata "lyrics=[ar:Sine Ensemble]
[00:01.00]First line
[00:02.50][00:05.00]Twice sung
[00:04.25]Third line" "$TMP/whistle.mp3" && mv "$TMP/whistle.mp3" "$whistle"
fifth="$MUSIC/Sine Ensemble/Overtones/01 Fifth.ogg"
# Its text has what XML must escape or carry as it is (&, <, quotes, non-ASCII).
ff -i "$fifth" -map 0 -c copy -metadata "LYRICS=A fifth above & <below>
\"the drone\" — déjà vu, 'ünïcode' ☃" "$TMP/fifth.ogg" && mv "$TMP/fifth.ogg" "$fifth"
export XDG_CACHE_HOME="$TMP/cache"
# --- end media ---

export HF_HOME="$TMP/hf-home" HF_HUB_OFFLINE=1
# A PostgreSQL index's password key file is under $XDG_DATA_HOME/clapsearch/keys: the test's own.
export XDG_DATA_HOME="$TMP/data"
DB="$TMP/library.db"
if [[ $POSTGRES -eq 1 ]]; then
  start_postgres
  DB="$PG_URL"
fi
"$CLI" index "$MUSIC" --db "$DB" --model "$MODEL" --quiet || fail "clapsearch index failed"

# One user, as the docs tell a person to make one: the password on standard input, an API key.
SUBSONIC_USER=alice
SUBSONIC_PASSWORD="open sesame $RANDOM"
printf '%s\n' "$SUBSONIC_PASSWORD" | "$CLI" user add "$SUBSONIC_USER" --db "$DB" >/dev/null || fail "clapsearch user add failed"
SUBSONIC_API_KEY=$("$CLI" user key "$SUBSONIC_USER" --db "$DB") || fail "clapsearch user key failed"

# A lockout of an hour, not 60 s: auth.test.mjs checks that a lock survives 10,001 failures under
# other names, which took more than a minute at load 15 and let the lock expire (hostile pass 12,
# R12P-1); the refusal's "try again in N s" shows the setting took.
start_server server --login-lockout 3600
export SUBSONIC_URL=$URL SUBSONIC_USER SUBSONIC_PASSWORD SUBSONIC_API_KEY SUBSONIC_MUSIC=$MUSIC SUBSONIC_DB=$DB SUBSONIC_CLI=$CLI

tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then
  for t in "$HERE"/*.test.mjs; do [[ $(basename "$t") == move.test.mjs ]] || tests+=("$(basename "$t")"); done
  tests+=(move.test.mjs)   # last: it moves files of the library the others read
fi
status=0
for t in "${tests[@]}"; do
  echo "subsonic test: $t$([[ $POSTGRES -eq 1 ]] && echo ' (PostgreSQL)')"
  node "$HERE/$t" || { status=1; echo "subsonic test: FAILED: $t" >&2; }
done
if [[ $status -ne 0 ]]; then
  echo "--- server stderr (last 20 lines):" >&2; tail -n 20 "$TMP/server.err" >&2 || true
fi
exit $status
