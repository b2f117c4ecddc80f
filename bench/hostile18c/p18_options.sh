#!/bin/bash
# Hostile pass 18: the command line's words after pass 17's look-alike dash check (H17C-1/2) and
# R15C-3 (a switch given a value): every Unicode dash and minus before an option's name, before
# and after `--`, in quoted query words; `-k=5`, `--=5`, `--top==5`, bundles, repeats; every
# switch given `=5`, `=`, `=-1`, `=00`, `=yes`. Each case prints its exit and the first line of
# stderr. No index is needed for most (a missing one gives exit 1 "no index here": the words were
# taken as the command's and it ran).
# Use: C=<clapsearch binary> D=<scratch dir> p18_options.sh
set -u
db="$D/none.db"
run() { local label=$1; shift; out=$("$C" "$@" 2>&1 >/dev/null); echo "$label rc=$? | $(printf '%s' "$out" | head -1 | cut -c1-220)"; }
n=0
for d in $'\u2010' $'\u2011' $'\u2012' $'\u2013' $'\u2014' $'\u2015' $'\u2212' $'\ufe58' $'\ufe63' $'\uff0d' $'\u00ad'; do
  cp=$(printf '%s' "$d" | iconv -f utf-8 -t utf-32be | xxd -p)
  n=$((n+1)); run "search ${cp}${cp}top" search "${d}${d}top" 5 piano --db "$db"
  n=$((n+1)); run "search ${cp}top" search "${d}top" 5 piano --db "$db"
  n=$((n+1)); run "search ${cp}k" search "${d}k" 5 piano --db "$db"
  n=$((n+1)); run "search -- ${cp}top (a word)" search --db "$db" -- "${d}top" piano
  n=$((n+1)); run "search ${cp}intro (a word)" search "${d}intro" --db "$db"
  n=$((n+1)); run "index ${cp}${cp}db" index /nonexistent "${d}${d}db" "$db"
  n=$((n+1)); run "user add ${cp}${cp}admin" user add ann "${d}${d}admin" --db "$db"
done
# combining forms: a '-' followed by a combining mark (U+0338), and U+2E3A/2E3B (two/three-em dashes)
n=$((n+1)); run "search -\u0338-top" search $'-\u0338-top' 5 x --db "$db"
n=$((n+1)); run "search \u2e3atop" search $'\u2e3atop' 5 x --db "$db"
n=$((n+1)); run "search \u2e3btop" search $'\u2e3btop' 5 x --db "$db"
for a in "-k=5" "--=5" "--top==5" "-vk5" "-qk5" "-k5 -k6" "--top 5 --top 6" "--json --json" "-vv"; do
  n=$((n+1)); run "search '$a'" search x $a --db "$db"
done
for v in "=5" "=" "=-1" "=2" "=00" "=01" "=+1" "=yes" "=no" "=TRUE" "=0" "=1" "=on" "=maybe"; do
  n=$((n+1)); run "status --json$v" status "--json$v" --db "$db"
  n=$((n+1)); run "index -q$v" index /nonexistent "-q$v" --db "$db"
  n=$((n+1)); run "search --collapse-duplicates$v" search x "--collapse-duplicates$v" --db "$db"
done
echo "cases: $n"
