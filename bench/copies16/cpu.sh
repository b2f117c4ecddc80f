#!/bin/sh
# copies16's CPU measurement: each command RUNS times by one binary, `/usr/bin/time` of the whole
# process (wall/user/sys s), then what it listed. Usage: cpu.sh CLAPSEARCH WORKDIR [RUNS]
# (the libraries of mklib.sh in WORKDIR).
set -u
B=$1 W=$2 RUNS=${3:-3}
cd "$W"
run() { # LABEL ARGS...: times, then the answer's size
  label=$1; shift
  times=""
  for i in $(seq 1 "$RUNS"); do
    /usr/bin/time -o time.txt -f '%e/%U/%S' "$B" "$@" > out.txt 2> err.txt
    times="$times $(tail -1 time.txt)"
  done
  printf '%s |%s | %s\n' "$label" "$times" "$(summary "$@")"
}
summary() { # what the last run listed
  case "$1" in
    duplicates) python3 -c "
import json; d=json.load(open('out.txt')); g=d['groups'] if isinstance(d, dict) else d
print(len(g), 'groups:', [len(x['tracks']) for x in g])" ;;
    *) python3 -c "
import json, os; d=json.load(open('out.txt')); r=d['results'] if isinstance(d, dict) else d
print(len(r), 'listed:', ' '.join(os.path.relpath(x['path'], '$W').split('/', 1)[1] for x in r))" ;;
  esac
}
run "kinds duplicates" duplicates --db kinds.db --json
run "kinds similar K64/c5 k1000 d0.5" similar --db kinds.db kinds/K64/c5.mp3 -k 1000 --diversity 0.5 --json
run "kinds like K64/c5 k1000 d0.5 --exclude-self" like --db kinds.db --track kinds/K64/c5.mp3 -k 1000 --diversity 0.5 --exclude-self --json
run "kinds like K64/c5 k1000 d0.5" like --db kinds.db --track kinds/K64/c5.mp3 -k 1000 --diversity 0.5 --json
run "crowd duplicates" duplicates --db crowd.db --json
run "crowd like A/s1 k10 d0.5 --exclude-self" like --db crowd.db --track crowd/A/s1.flac -k 10 --diversity 0.5 --exclude-self --json
run "crowd like A/s1 k10 d0.5" like --db crowd.db --track crowd/A/s1.flac -k 10 --diversity 0.5 --json
run "crowd like A/s1 k1000 d0.5 --exclude-self" like --db crowd.db --track crowd/A/s1.flac -k 1000 --diversity 0.5 --exclude-self --json
run "crowd similar A/s1 k10 d0.5" similar --db crowd.db crowd/A/s1.flac -k 10 --diversity 0.5 --json
run "re duplicates" duplicates --db re.db --json
