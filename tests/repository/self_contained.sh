#!/usr/bin/env bash
# A clone of the repository is all anyone needs: no tracked file may refer to a folder beside
# the clone or to a path of the machine it was written on (the fixtures live in tests/data).
# Binary files are searched too: an index in the fuzz corpus once held such a model path.
set -uo pipefail
repo="${1:?usage: self_contained.sh REPO}"
cd "$repo" || exit 1
# The patterns are assembled so that this file does not match itself.
sibling='\.\./'"shared"
machine='/'"work/|/"'root/'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files() { git ls-files -z; }
else  # an unpacked source tarball
  files() { find . -path ./build -prune -o -path './build-*' -prune -o -path '*/node_modules' -prune -o -type f -print0; }
fi
hits=$(files | xargs -0 grep -a -n -E -e "$sibling" -e "$machine" -- 2>/dev/null | cut -c1-200)
if [[ -n "$hits" ]]; then
  echo "files that refer to paths outside the clone:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "no tracked file refers to a path outside the clone"
