#!/usr/bin/env bash
# Progressive indexing measured (docs/performance.md#progressive-indexing): makes a corpus of
# song-length files of varied sections with ffmpeg, indexes it with the first pass only and in
# full (one-shot), times both, and measures how many of the top-10 results of the first-pass
# index agree with the full index's: text search (a fixed list of queries) and query by example
# (`similar` for every track). Usage: bench/progressive.sh CLAPSEARCH MODEL [FILES] [WORKDIR]
set -euo pipefail
cli="$1"; model="$2"; files="${3:-48}"; work="${4:-$(mktemp -d /tmp/clapsearch-progressive-XXXXXX)}"
music="$work/music"
mkdir -p "$music"
# Each file: 4-9 sections of 15-45 s, each a tone, chord, noise colour or pulsed tone (seeded),
# made by sox (fast enough on a busy 2-core machine) and stored as 16-bit FLAC, 44.1 kHz stereo.
python3 - "$music" "$files" <<'PY'
import os, random, subprocess, sys
music, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(37)
for i in range(n):
    sections = []
    for s in range(rng.randint(4, 9)):
        d = rng.randint(15, 45)
        kind = rng.choice(["sine", "chord", "noise", "pulse"])
        f = rng.choice([110, 147, 196, 220, 262, 330, 392, 440, 523, 660, 880, 1320])
        if kind == "sine":
            synth = f"synth {d} sine {f}"
        elif kind == "chord":
            synth = f"synth {d} sine {f} sine {f * 5 / 4:g} sine {f * 3 / 2:g} remix 1,2,3 gain -8"
        elif kind == "noise":
            synth = f"synth {d} {rng.choice(['pinknoise', 'brownnoise', 'whitenoise'])} gain -10"
        else:
            synth = f"synth {d} square {f} tremolo {rng.choice([1, 2, 3, 4])} 90 gain -12"
        sections.append(synth)
    out = f"{music}/song{i:03d}.flac"
    if os.path.exists(out):
        continue
    inputs = [f"|sox -n -r 44100 -c 1 -p {s}" for s in sections]
    subprocess.run(["sox", *inputs, "-b", "16", "-c", "2", out], check=True)
PY
audio=$(du -sh "$music" | cut -f1)
echo "== corpus: $files files ($audio) in $music"
first="$work/first.db"; full="$work/full.db"
rm -f "$first"* "$full"* "$work"/agree-*.txt
echo "== first pass only (index --passes 1)"
"$cli" index "$music" --db "$first" --model "$model" --passes 1 --json -q > "$work/first.json"
echo "== one-shot full index (index --first-pass 0)"
"$cli" index "$music" --db "$full" --model "$model" --first-pass 0 --json -q > "$work/full.json"
"$cli" status --db "$first" --json > "$work/first-status.json"
queries=("a pure sine tone" "white noise" "a major chord" "deep bass" "high pitched whistle" "pulsing beat"
         "soft ambient pad" "rain" "an electric guitar" "a piano melody" "rhythmic drums" "a choir")
for q in "${queries[@]}"; do
  "$cli" search "$q" --db "$first" --model "$model" -k 10 --json > "$work/first-search.json.tmp"
  "$cli" search "$q" --db "$full" --model "$model" -k 10 --json > "$work/full-search.json.tmp"
  python3 - "$work" "$q" <<'PY'
import json, sys
w, q = sys.argv[1], sys.argv[2]
a = [r["path"] for r in json.load(open(f"{w}/first-search.json.tmp"))]
b = [r["path"] for r in json.load(open(f"{w}/full-search.json.tmp"))]
with open(f"{w}/agree-text.txt", "a") as f:
    f.write(f"{len(set(a) & set(b))} {len(b)}\n")
PY
done
for f in "$music"/*.flac; do
  "$cli" similar "$f" --db "$first" -k 10 --json > "$work/first-similar.json.tmp"
  "$cli" similar "$f" --db "$full" -k 10 --json > "$work/full-similar.json.tmp"
  python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
a = [r["path"] for r in json.load(open(f"{w}/first-similar.json.tmp"))]
b = [r["path"] for r in json.load(open(f"{w}/full-similar.json.tmp"))]
with open(f"{w}/agree-similar.txt", "a") as f:
    f.write(f"{len(set(a) & set(b))} {len(b)}\n")
PY
done
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
first, full, st = (json.load(open(f"{w}/{n}.json")) for n in ("first", "full", "first-status"))
def agree(name):
    rows = [tuple(map(int, l.split())) for l in open(f"{w}/agree-{name}.txt")]
    return sum(a for a, _ in rows) / max(1, sum(b for _, b in rows)), len(rows)
t, nt = agree("text"); s, ns = agree("similar")
cov = st["coverage"]
print(f"first pass: {first['wall_seconds']:.1f} s wall ({first['model_seconds']:.1f} s model, {first['decode_seconds']:.1f} s decode CPU), "
      f"{first['embedded_windows']} windows embedded; coverage {cov['windows']}/{cov['window_total']}")
print(f"full index: {full['wall_seconds']:.1f} s wall ({full['model_seconds']:.1f} s model, {full['decode_seconds']:.1f} s decode CPU), "
      f"{full['embedded_windows']} windows embedded; {full['audio_seconds']:.0f} s of audio in {full['indexed']} tracks")
print(f"top-10 agreement of the first-pass index with the full index: text {t:.3f} ({nt} queries), "
      f"query by example (similar) {s:.3f} ({ns} tracks)")
PY
rm -f "$work"/*.tmp "$work"/agree-*.txt
