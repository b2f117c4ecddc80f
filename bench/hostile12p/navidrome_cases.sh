#!/usr/bin/env bash
# Hostile pass 12: clapsearch.ndp in the Extism test host (contrib/navidrome/test/host.mjs's
# loader and http_send, its first 125 lines) against answers a hostile server gives that pass 11
# did not send: raw control characters and bad escapes inside strings, entries that are not
# objects first, numbers Go cannot hold, a duplicate sonicMatch key, 200,000 nested brackets in
# an entry, a 9 MB title. Each plugin output must be JSON (Navidrome unmarshals it) or an error.
# usage: navidrome_cases.sh clapsearch.ndp   (run from the repository root; needs node_modules there)
set -euo pipefail
NDP=$(realpath "$1")
T=contrib/navidrome/test
# The answer server's port comes through a file of this run's own, read only once the server has
# written its whole line: the fixed /tmp/h12-nd-port of an earlier run was read before this one's
# server listened, and under load 5 s was not enough (rough edge R13P-5: every case "cannot reach").
PORTFILE=$(mktemp)
SRV=
trap 'rm -f $T/h12_cases.mjs "$PORTFILE"; [[ -n $SRV ]] && kill $SRV 2>/dev/null || true' EXIT
node -e '
const { createServer } = require("node:http");
const e = (t) => ({ title: t, artist: "A", album: "B", duration: 10, durationMs: 10000 });
const j = (o) => JSON.stringify(o);
const answers = {
  rawctl: "{\"sonicMatch\":[{\"entry\":{\"title\":\"a\nb\tc\u0001\"},\"similarity\":0.5}]}",
  badescape: "{\"sonicMatch\":[{\"entry\":{\"title\":\"a\\\\xZZ \\\\u12\"},\"similarity\":0.5}]}",
  nullfirst: "{\"sonicMatch\":[null,1,\"s\",{\"entry\":" + j(e("after")) + ",\"similarity\":0.5}]}",
  bignum: "{\"sonicMatch\":[{\"entry\":{\"title\":\"n\",\"duration\":1e400,\"durationMs\":1.5e3},\"similarity\":1e999}]}",
  dupkey: "{\"sonicMatch\":[],\"sonicMatch\":[{\"entry\":" + j(e("second")) + ",\"similarity\":0.5}]}",
  nested: "{\"sonicMatch\":[{\"entry\":{\"title\":\"deep\",\"x\":" + "[".repeat(200000) + "]".repeat(200000) + "},\"similarity\":0.5}]}",
  bigtitle: j({ sonicMatch: [{ entry: e("t".repeat(9 << 20)), similarity: 0.5 }] }),
  negzero: "{\"sonicMatch\":[{\"entry\":{\"title\":\"z\",\"duration\":-0,\"durationMs\":-1},\"similarity\":-0.0}]}",
};
const s = createServer((req, res) => { const m = new URL(req.url, "http://x").pathname.split("/")[1]; res.writeHead(200, {"Content-Type": "application/json"}); res.end(answers[m] ?? "{}"); });
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
' > "$PORTFILE" & SRV=$!
PORT=
for _ in $(seq 600); do  # up to 60 s
  PORT=$(sed -n '1{/^[0-9][0-9]*$/p}' "$PORTFILE" 2>/dev/null; true)
  if [[ -n $PORT && $(tail -c1 "$PORTFILE" | wc -l) -eq 1 ]]; then break; fi  # the whole line
  PORT=
  kill -0 $SRV 2>/dev/null || { echo "the answer server exited before it listened" >&2; exit 1; }
  sleep 0.1
done
[[ -n $PORT ]] || { echo "the answer server wrote no port within 60 s" >&2; exit 1; }
{ sed -n 1,125p $T/host.mjs | sed 's#^const \[binary, modelDir, ndpPath\] = process.argv.slice(2);#const ndpPath = process.argv[2]; const binary = 1, modelDir = 1;#'
cat <<JS
const port = process.argv[3];
const seed = { name: 'x', artist: 'A', durationMs: 1000 };
for (const mode of ['rawctl', 'badescape', 'nullfirst', 'bignum', 'dupkey', 'nested', 'bigtitle', 'negzero']) {
  const plugin = await loadPlugin({ baseUrl: 'http://127.0.0.1:' + port + '/' + mode });
  let line;
  try {
    const out = await plugin.call('nd_get_sonic_similar_tracks', JSON.stringify({ song: seed, count: 5 }));
    const text = out ? out.text() : '';
    try { const got = JSON.parse(text); line = 'JSON ' + JSON.stringify(got).slice(0, 160); }
    catch (e) { line = 'NOT JSON (' + e.message.slice(0, 60) + '): ' + JSON.stringify(text.slice(0, 120)); }
  } catch (e) { line = 'ERROR ' + String(e.message || e).slice(0, 160); }
  console.log(mode + ': ' + line);
  await plugin.close();
}
JS
} > $T/h12_cases.mjs
(cd $T && node h12_cases.mjs "$NDP" "$PORT")
