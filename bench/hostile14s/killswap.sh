#!/bin/sh
# Hostile pass 14 (server): pass 13's twoswap.sh with the held server SIGKILLed instead of continued (a
# holder of the old file killed while the other server waits for it): the copy must be opened then and
# kept intact. Usage: killswap.sh CLAPSEARCH LIB_DB PORT1 PORT2 WORKDIR
RESUME=KILL exec sh "$(dirname "$0")/../hostile13s/twoswap.sh" "$@"
