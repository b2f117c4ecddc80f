#!/usr/bin/env bash
# One gtest test of test_cli, run as ctest runs it, timed from outside: wall seconds and the CPU
# (user + system) of its whole process tree, which a loaded machine moves much less than wall.
# Used for bench/runs/2026-11-28-ci17.md.
#
# Usage: time_test.sh BUILD_DIR before|after TEST_NAME
#   before: the environment ctest gave a gtest test on main (XDG_CACHE_HOME only)
#   after:  with this branch's OpenMP policy (what tests/support/golden.cpp sets) as well
set -euo pipefail
build=$(cd "${1:?usage: time_test.sh BUILD_DIR before|after TEST}" && pwd)
which=${2:?before or after}
name=${3:?test name}
envs=(XDG_CACHE_HOME="$build/tests/xdg-cache")
[[ $which == after ]] && envs+=(OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=2000)
times=$(mktemp)
trap 'rm -f "$times"' EXIT
rc=0
/usr/bin/time -f "%e %U %S" -o "$times" env "${envs[@]}" "$build/tests/test_cli" --gtest_filter="$name" >/dev/null 2>&1 || rc=$?
read -r wall user sys < "$times"
printf "%-70s %-6s rc=%d wall=%7.1f cpu=%7.1f\n" "$name" "$which" "$rc" "$wall" "$(echo "$user + $sys" | bc)"
