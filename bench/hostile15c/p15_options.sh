#!/bin/bash
# Hostile pass 15: the unknown-option wording (R13P-1) as a new user mistypes: near misses,
# abbreviations, --opt=value forms, a flag given a value, another command's option, options before
# the command, short options glued to values, `--` and words after it.
# Use: C=<binary> W=<work dir with lib.db> p15_options.sh
set -u
cd "$W" || exit 1
n=0
for a in "search --tpo 3 x" "search --top=3 --tp=4 x" "search --csv" "search --model-dir x" "search --q x" \
         "search x -k=5" "search x -k" "search x -zz" "search x --he" "search --help=x" "search x --json=maybe" \
         "status --json=maybe" "status --json=" "search --top= x" "search x --top=3=4" "search x --top 3 --top 4" \
         "index --rebuil lib" "status --rebuild" "status --chek" "user ad bob" "user add" \
         "user add --password-fil x bob" "--versio" "statu" "--db lib.db status" "similar -1" "search x --top -5" \
         "search -- --top" "models --activat 2" "history --usr a" "migrate --form a.db --to b.db" "serve --prot 1" \
         "duplicates --jsn" "radio --for-m" "mix --m3 d" "path 1 2 --step 3" "completion zsh --x"; do
  n=$((n+1))
  # shellcheck disable=SC2086
  out=$(timeout 60 "$C" $a --db lib.db 2>&1 </dev/null); rc=$?
  echo "== $a rc=$rc $(printf '%s' "$out" | head -2 | cut -c1-230 | tr '\n' '|')"
done
echo "cases: $n"
