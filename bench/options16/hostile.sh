#!/usr/bin/env bash
# Hostile look at option parsing (issue 53, helper options16): every case is one command line,
# run against the binary given; prints the exit status, the time and the first lines of stderr
# (control characters made visible with cat -v). Nothing needs an index: the --db named does
# not exist, so a command line that parses fails with 1 on the missing index.
# Usage: bench/options16/hostile.sh path/to/clapsearch > out.txt
set -u
BIN=${1:?usage: hostile.sh CLAPSEARCH}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DB="$T/none.db"
BIG=$(head -c 131000 /dev/zero | tr '\0' a)  # near MAX_ARG_STRLEN (128 KiB)
n=0
run() {  # run LABEL ARGS...
  local label=$1; shift
  n=$((n + 1))
  local start end rc
  start=$(date +%s%N)
  timeout 20 "$BIN" "$@" >"$T/out" 2>"$T/err" </dev/null
  rc=$?
  end=$(date +%s%N)
  printf '## %d %s\nrc=%d ms=%d stdout=%dB stderr=%dB\n' "$n" "$label" "$rc" $(((end - start) / 1000000)) \
    "$(wc -c <"$T/out")" "$(wc -c <"$T/err")"
  head -c 600 "$T/err" | cat -v | head -4
  echo
}

# Repeated options
run "repeated -k" search -k 1 -k 2 x --db "$DB"
run "repeated --db" search x --db a --db "$DB"
run "repeated switch" search x --json --json --db "$DB"
run "repeated serve --port" serve --port 1 --port 2 --db "$DB"
run "repeated --text (repeatable)" radio --text a --text b --once --db "$DB"
# --opt= empty
run "--top=" search --top= x --db "$DB"
run "--db=" search x --db=
run "serve --host=" serve --host= --db "$DB"
run "radio --mpd=" radio --mpd= --once --db "$DB"
run "--diversity=" search x --diversity= --db "$DB"
run "--user= (history)" history --user= --db "$DB"
run "--exclude-rule=" --exclude-rule= search x --db "$DB"
run "--config-file=" --config-file= search x --db "$DB"
run "-k=" search -k= x --db "$DB"
run "--=5" search --=5 x --db "$DB"
run "---top 5" search ---top 5 x --db "$DB"
run "--top=5=6" search --top=5=6 x --db "$DB"
# -- handling
run "search -- --top (query that looks like an option)" search --db "$DB" -- --top
run "search -- -k 5" search --db "$DB" -- -k 5
run "-- before the command" -- search x --db "$DB"
run "index -- --folder" index --db "$DB" -- --folder
run "status -- x" status --db "$DB" -- x
run "user -- add" user -- add bob --db "$DB"
run "lone -" search - --db "$DB"
# Negative numbers as values
run "-k -1" search -k -1 x --db "$DB"
run "--diversity -0.5" search x --diversity -0.5 --db "$DB"
run "--diversity=-0.5" search x --diversity=-0.5 --db "$DB"
run "similar -1 (track id)" similar -1 --db "$DB"
run "search -5 (query)" search -5 --db "$DB"
run "serve --port -1" serve --port -1 --db "$DB"
run "index --threads -1" index x --threads -1 --db "$DB"
run "radio --min-queue -3" radio --min-queue -3 --once --db "$DB"
run "--silence-db -60 (negative in range)" index "$T" --silence-db -60 --db "$DB"
run "--seed -0 (unsigned)" finetune --out "$T/o" --seed -0 --db "$DB"
# 2^63, 2^64 and 1e400
run "-k 2^63" search -k 9223372036854775808 x --db "$DB"
run "-k 2^63-1" search -k 9223372036854775807 x --db "$DB"
run "-k -2^63-1" search -k -9223372036854775809 x --db "$DB"
run "serve --port 2^63" serve --port 9223372036854775808 --db "$DB"
run "index --threads 2^64" index x --threads 18446744073709551616 --db "$DB"
run "finetune --seed 2^64-1" finetune --out "$T/o" --seed 18446744073709551615 --db "$DB"
run "finetune --seed 2^64" finetune --out "$T/o" --seed 18446744073709551616 --db "$DB"
run "--high 1e400" search x --high 1e400 --db "$DB"
run "-k 1e400" search -k 1e400 x --db "$DB"
run "--window 1e400" index x --window 1e400 --db "$DB"
run "--hop -1e400" index x --hop -1e400 --db "$DB"
run "--diversity 1e-400" search x --diversity 1e-400 --db "$DB"
run "--max-upload-mb 1e3" serve --max-upload-mb 1e3 --db "$DB"
run "--half-life 2^63 (float)" taste --half-life 9223372036854775808 --db "$DB"
# Non-UTF-8 and control characters echoed
run "unknown option, ESC" search $'--\e[31mred' x --db "$DB"
run "unknown option, 0xff" search $'--top\xff' x --db "$DB"
run "unknown option, newline" search $'--to\np' x --db "$DB"
run "unknown command, ESC" $'ser\e[2Jch' x
run "unknown command, 0xff" $'serch\xff' x
run "unknown command, newline" $'ind\nex'
run "unexpected word, ESC" status $'\e]0;pwned\a'
run "number value, ESC" search -k $'\e[2J' x --db "$DB"
run "number value, 0xff" search x --high $'0.5\xff' --db "$DB"
run "choice value, ESC" search x --aggregate $'\e[31mmax' --db "$DB"
run "switch value, ESC" search x $'--json=\e[31m' --db "$DB"
run "switch value, newline" search x $'--json=a\nb' --db "$DB"
run "--db with newline" search x --db $'a\nb'
run "serve --host ESC" serve --host $'\e[31mx' --db "$DB"
run "--user ESC" history --user $'\e[31mann' --db "$DB"
run "settings file name ESC" --config-file $'\e[31m.toml' search x --db "$DB"
# Huge words
run "unknown option 128 KiB" search "--$BIG" x --db "$DB"
run "unknown command 128 KiB" "$BIG"
run "unexpected word 128 KiB" status "$BIG"
run "switch value 128 KiB" search x "--json=$BIG" --db "$DB"
run "number 128 KiB" search -k "$BIG" x --db "$DB"
run "one-dash word" serve -port 80 --db "$DB"
run "empty command word" ''
run "lone - as command" -
