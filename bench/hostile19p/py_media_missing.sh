#!/bin/bash
# Hostile pass 19 (Python): `import clapsearch`, then embedding audio from files and arrays
# (48 kHz: no resampling; 44.1 kHz: resampled through FFmpeg) and load_audio, with one media
# library unloadable (an empty file bound over it in a private mount namespace, as
# tests/start/media_libraries.sh does; root only). Prints each call's outcome.
# Usage: py_media_missing.sh PYTHONPATH MODEL_DIR
set -u
pp=$1 model=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=f=440:d=3" "$tmp/tone.wav"
: > "$tmp/empty.so"
cat > "$tmp/probe.py" <<'P'
import sys, numpy as np
import clapsearch
m = clapsearch.Model(sys.argv[2], threads=1)
wav = sys.argv[1]
for name, call in [("embed_text", lambda: m.embed_text(["x"])),
                   ("embed_audio 48k", lambda: m.embed_audio(np.zeros(48000, np.float32) + .1, sr=48000)),
                   ("embed_audio 44.1k", lambda: m.embed_audio(np.zeros(44100, np.float32) + .1, sr=44100)),
                   ("embed_audio_files", lambda: m.embed_audio_files([wav])),
                   ("load_audio", lambda: clapsearch.load_audio(wav)),
                   ("embed_song", lambda: m.embed_song(wav) if hasattr(m, "embed_song") else None)]:
    try:
        r = call(); print(f"{name:20} ok {getattr(r, 'shape', '')}")
    except BaseException as e:
        print(f"{name:20} {type(e).__module__}.{type(e).__name__}: {str(e)[:300]}")
P
for lib in chromaprint soxr avcodec; do
  path=$(ldconfig -p | grep -oE "/[^ ]*/lib$lib\.so\.[0-9]+" | head -1)
  echo "== lib$lib unloadable ($path)"
  unshare -m bash -c 'mount --bind "$1" "$2" && HF_HUB_OFFLINE=1 PYTHONPATH="$3" /usr/bin/python3 "$4/probe.py" "$4/tone.wav" "$5" 2>&1; echo "exit $?"' \
    _ "$tmp/empty.so" "$path" "$pp" "$tmp" "$model"
done
