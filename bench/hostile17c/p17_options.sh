#!/bin/sh
# Hostile pass 17: odd argv against one binary. Usage: p17_options.sh CLAPSEARCH WORKDIR
# Each case: exit status, wall seconds, and the first line of stderr (cut at 160 bytes). A crash
# (status >= 128), a status 0 on a missing index, or more than one error line is the finding.
set -u
B=$1 W=$2
mkdir -p "$W" && cd "$W" || exit 1
DB="--db $W/none.db"
case_() { # LABEL ARGS...
  label=$1; shift
  start=$(date +%s.%N)
  "$B" "$@" > out.txt 2> err.txt
  rc=$?
  end=$(date +%s.%N)
  printf '%-28s rc=%-3s %5.2fs lines=%s | %s\n' "$label" "$rc" "$(echo "$end - $start" | bc)" \
    "$(grep -c 'error' err.txt)" "$(head -1 err.txt | cut -c1-160)"
}
big=$(head -c 100000 /dev/zero | tr '\0' x)
case_ "empty word"            search "" $DB
case_ "two empty words"       search "" "" $DB
case_ "dash"                  search - $DB
case_ "dash dash alone"       search $DB --
case_ "--=5"                  search x --=5 $DB
case_ "-=5"                   search x -=5 $DB
case_ "-k=5"                  search x -k=5 $DB
case_ "-k="                   search x -k= $DB
case_ "-k"                    search x -k $DB
case_ "---x"                  search x ---x $DB
case_ "---top=5"              search x ---top=5 $DB
case_ "em dash top"           search —top 5 piano $DB
case_ "en dash en dash top=5" search piano ––top=5 $DB
case_ "minus sign k"          search piano −k 5 $DB
case_ "fullwidth db"          index music －－db x.db
case_ "em dash non-option"    search —piano $DB
case_ "-- em dash top"        search $DB -- —top
case_ "100 KB --name"         search x "--$big" $DB
case_ "100 KB --top=value"    search x "--top=$big" $DB
case_ "100 KB -k value"       search x "-k$big" $DB
case_ "100 KB em dash name"   search x "—$big" $DB
set -- search x
i=0; while [ $i -lt 10000 ]; do set -- "$@" -k 5; i=$((i+1)); done
case_ "-k 5 x10000"           "$@" $DB
set -- playlist
i=0; while [ $i -lt 10000 ]; do set -- "$@" --seed 1; i=$((i+1)); done
case_ "--seed 1 x10000"       "$@" $DB
set -- search
i=0; while [ $i -lt 10000 ]; do set -- "$@" --tpo; i=$((i+1)); done
case_ "--tpo x10000"          "$@" $DB
set -- search
i=0; while [ $i -lt 10000 ]; do set -- "$@" —top; i=$((i+1)); done
case_ "—top x10000"           "$@" $DB
case_ "user add -k=5"         user add bob -k=5 $DB
case_ "status --json=5"       status --json=5 $DB
