#!/bin/bash
# How many processes (and clapsearch starts) each test starts, and their CPU, by process
# accounting in a PID namespace of its own (so other users' processes are not counted) with an
# overlay over the build's source tree (so a build that is not ours is only read).
#   measure_starts.sh SOURCE_TREE_WITH_BUILD LIST_OF_TESTS OUT_DIR     (as root)
# SOURCE_TREE_WITH_BUILD/build is the ctest tree; LIST_OF_TESTS one ctest name a line. Two lanes
# run at once (one from each end of the list). Then: attribute.py OUT_DIR COST_DATA.
set -u
tree="$(readlink -f "$1")"; list="$(readlink -f "$2")"; out="$(readlink -f "$3")"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out/ovl/upper" "$out/ovl/work" "$out/logs" "$out/claimed"
: > "$out/acct.dat"
tac "$list" > "$out/list-reversed.txt"
exec unshare -m -p --fork --mount-proc bash -c '
  mount -t overlay overlay -o lowerdir="$1",upperdir="$3/ovl/upper",workdir="$3/ovl/work" "$1" || exit 1
  accton "$3/acct.dat" || exit 1
  bash "$4/lane.sh" "$1/build" "$2" "$3" laneA.txt &
  bash "$4/lane.sh" "$1/build" "$3/list-reversed.txt" "$3" laneB.txt &
  wait
  accton off' _ "$tree" "$list" "$out" "$here"
