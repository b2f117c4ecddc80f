#!/bin/bash
# The cost of a start's libraries alone: an empty main() linked (--no-as-needed) with the CLI's
# libraries (main's DT_NEEDED), with them minus FFmpeg/Chromaprint/libsoxr, with those alone.
#   start_cost.sh SCRATCH_DIR
set -eu
cd "$1"
echo 'int main() { return 0; }' > empty.cpp
ALL="-lcpp-httplib -lcairo -lz -licui18n -licuuc -lavformat -lavcodec -lavutil -lswresample -lswscale -lchromaprint -lsoxr -lopenblas -lsqlite3 -lpq -lcurl -lpcre2-8 -lgomp -lcrypto -ldnnl -lmpdclient"
NOFF=$(echo $ALL | sed 's/-lav[a-z]*//g; s/-lswresample//; s/-lswscale//; s/-lchromaprint//; s/-lsoxr//')
g++ -O2 empty.cpp -o with_all -Wl,--no-as-needed $ALL
g++ -O2 empty.cpp -o without_media -Wl,--no-as-needed $NOFF
g++ -O2 empty.cpp -o only_media -Wl,--no-as-needed -lavformat -lavcodec -lavutil -lswresample -lswscale -lchromaprint -lsoxr
for p in with_all without_media only_media; do
  echo "== $p: $(ldd ./$p | wc -l) objects"
  perf stat -r 20 -x, -e task-clock ./$p 2>&1 >/dev/null | tail -1
  LD_DEBUG=statistics ./$p 2>&1 | grep -E 'total startup time|number of relocations:|relative relocations'
done
