#!/bin/bash
# lane.sh BUILD LIST OUT_DIR LANE_FILE: each test of LIST not yet claimed by the other lane, run
# alone by ctest; "ctest_pid name start end rc" appended to OUT_DIR/LANE_FILE.
build=$1; list=$2; out=$3; lane=$4
while read -r t; do
  key="$(printf '%s' "$t" | md5sum | cut -c1-12)"
  mkdir "$out/claimed/$key" 2>/dev/null || continue
  re=$(printf '%s' "$t" | sed 's/[][\.*^$()+?{}|/"]/\\&/g')
  s=$(date +%s.%N)
  ctest --test-dir "$build" -R "^${re}\$" --output-on-failure > "$out/logs/$key.log" 2>&1 &
  p=$!; wait $p; rc=$?
  echo "$p $t $s $(date +%s.%N) $rc" >> "$out/$lane"
done < "$list"
