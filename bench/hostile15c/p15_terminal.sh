#!/bin/bash
# Hostile pass 15: strings an index holds (meta's model id and revision, an embedding set's model,
# tags, file names) and strings given (file names, option names) with ESC, BEL, CR, DEL and C1
# controls, through every command that shows them: no control character may reach the terminal
# (H15C-4: status's model line).
# Use: C=<binary> W=<work dir with lib/ and M/> p15_terminal.sh
set -u
cd "$W" || exit 1
rm -rf p15t && mkdir -p p15t/esc && cd p15t || exit 1
E=$'\e'
ffmpeg -loglevel error -i ../lib/t1.flac -metadata title="T${E}[2J${E}]0;pwned${E}\\x" -metadata artist=$'A\rB\x07' \
  -metadata genre=$'G\xc2\x9b2J' esc/$'n\e[31mred\x7f.flac'
ffmpeg -loglevel error -i ../lib/t2.flac esc/$'line\nbreak.flac'
"$C" index esc --db esc.db --model ../M -q 2>&1 | grep -c "$E" | sed 's/^/index lines with ESC: /'
sqlite3 esc.db "UPDATE meta SET value = '/m' || char(27) || '[2J' || char(7) WHERE key = 'model_id';
                UPDATE meta SET value = 'r' || char(27) || ']0;t' || char(7) WHERE key = 'model_revision'" 2>/dev/null
cp esc.db esc2.db && sqlite3 esc2.db "UPDATE meta SET value = '$PWD/../M' WHERE key = 'model_id';
                                      UPDATE meta SET value = 'local' WHERE key = 'model_revision'"
n=0
for db in esc.db esc2.db; do
  for c in "status" "status --check" "status --errors" "status --json" "models" "search piano" "similar 1" "duplicates" \
           "playlist --seed 1" "matrix --all" "overlaps" "search ${E}[2J" "search x --${E}[2Jtop 3" "search x --top=${E}[2J"; do
    n=$((n+1))
    # shellcheck disable=SC2086
    out=$(timeout 60 "$C" $c --db "$db" 2>&1); rc=$?
    k=$(printf '%s' "$out" | grep -c "$E\|"$'\x07'"\|"$'\r'"\|"$'\xc2\x9b')
    echo "== [$db] $c rc=$rc lines-with-controls=$k"
  done
done
echo "cases: $n"
