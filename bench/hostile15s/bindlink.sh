#!/bin/sh
# Hostile pass 15 (server): pass 14's hardlink.sh with the second name a bind mount of the index file
# (as root): one link, two names, so a refusal that looks only at files with several links lets two
# servers keep two write-ahead logs of one file. Usage: bindlink.sh CLAPSEARCH LIB_DB PORT1 PORT2 WORKDIR
LINK=bind exec sh "$(dirname "$0")/../hostile14s/hardlink.sh" "$@"
