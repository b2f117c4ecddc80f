#!/bin/bash
# Hostile pass 14: the secret-file reader (--password-file, --token-file; core/secret_file.h) given
# files, devices, pipes, FIFOs and standard input of every kind, through `user add`.
# Use: C=<binary> W=<work dir with lib.db> p14_secret.sh   (the FIFO cases take 2 minutes each)
set -u
cd "$W" || exit 1
cp lib.db s.db
n=0
t() {  # name, command...
  n=$((n+1)); local name=$1; shift
  local s; s=$(date +%s)
  out=$(timeout 200 "$@" 2>&1); rc=$?
  echo "== $name rc=$rc t=$(( $(date +%s) - s ))s $(printf '%s' "$out" | head -c 300 | tr '\n' '|')"
}
u() { echo "u$n"; }
t regular bash -c "printf 'pw12345678\n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t crlf bash -c "printf 'pw12345678\r\n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t two-cr bash -c "printf 'pw12345678\r\r\n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t spaces bash -c "printf '    \n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t empty bash -c ": > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t nul bash -c "printf 'ab\0cd\n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t blank-first bash -c "printf '\npw12345678\n' > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t 10MB bash -c "head -c 10000000 /dev/zero | tr '\0' a > pw; \$0 user add $(u) --password-file pw --db s.db" "$C"
t dev-zero "$C" user add "$(u)" --password-file /dev/zero --db s.db
t dev-null "$C" user add "$(u)" --password-file /dev/null --db s.db
t dev-tty setsid "$C" user add "$(u)" --password-file /dev/tty --db s.db
t folder "$C" user add "$(u)" --password-file /tmp --db s.db
t loop bash -c "ln -sfn lp1 lp2; ln -sfn lp2 lp1; \$0 user add $(u) --password-file lp1 --db s.db" "$C"
t socket bash -c "rm -f sock; python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")'; \$0 user add $(u) --password-file sock --db s.db" "$C"
t dev-stdin-pipe bash -c "echo pw12345678 | \$0 user add $(u) --password-file /dev/stdin --db s.db" "$C"
t dev-stdin-null bash -c "\$0 user add $(u) --password-file /dev/stdin --db s.db < /dev/null" "$C"
t procsub bash -c "\$0 user add $(u) --password-file <(echo pw12345678) --db s.db" "$C"
t procsub-false bash -c "\$0 user add $(u) --password-file <(false) --db s.db" "$C"
t fifo-late bash -c "rm -f f; mkfifo f; (sleep 2; echo pw12345678 > f) & \$0 user add $(u) --password-file f --db s.db" "$C"
t fifo-closes bash -c "rm -f f; mkfifo f; (sleep 1; : > f) & \$0 user add $(u) --password-file f --db s.db" "$C"
t fifo-part-close bash -c "rm -f f; mkfifo f; (sleep 1; printf pw123 > f) & \$0 user add $(u) --password-file f --db s.db" "$C"
t fifo-never bash -c "rm -f f; mkfifo f; \$0 user add $(u) --password-file f --db s.db" "$C"
t fifo-part-stall bash -c "rm -f f; mkfifo f; (printf pw1; sleep 180) > f & \$0 user add $(u) --password-file f --db s.db; kill %1" "$C"
t stdin-stall bash -c "sleep 180 | \$0 user add $(u) --db s.db" "$C"
t stdin-part-stall bash -c "(printf half; sleep 180) | \$0 user add $(u) --db s.db" "$C"
t token-stdin-stall bash -c "sleep 180 | \$0 serve --db s.db --token-file - --port 0" "$C"
t token-stdin-empty bash -c "printf '' | \$0 serve --db s.db --token-file - --port 0" "$C"
t name-esc bash -c "\$0 user add $(u) --password-file \$'nope\xff\x1b[2J' --db s.db" "$C"
echo "cases: $n"
