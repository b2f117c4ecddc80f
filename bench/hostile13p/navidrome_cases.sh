#!/usr/bin/env bash
# Hostile pass 13: clapsearch.ndp in the Extism test host (contrib/navidrome/test/host.mjs's
# loader and http_send, its first 125 lines) against answers pass 12 and hostile_server.mjs did
# not send: a slow drip, an empty 200 and a 204, a byte-order mark, sonicMatch of the wrong kind,
# a top-level array, 200,000 nested arrays at the list's level, 100,000 and 40,000 entries for a count of 5,
# 8 MB of whitespace first, NUL and lone-surrogate escapes, NaN and Infinity, an escaped key
# spelling sonicMatch, a 9 MB key, duplicate entry keys, a title that is an object, gzip bytes.
# Each plugin output must be JSON Navidrome reads (at most count songs) or an error.
# usage: navidrome_cases.sh clapsearch.ndp   (run from the repository root; needs node_modules there;
# ONLY=MODE runs one answer, COUNT=JSON the count given to the plugin, 5 by default)
set -euo pipefail
NDP=$(realpath "$1")
T=contrib/navidrome/test
PORTFILE=$(mktemp)
trap 'rm -f $T/h13_cases.mjs $PORTFILE; kill $SRV 2>/dev/null || true' EXIT
node -e '
const { createServer } = require("node:http");
const zlib = require("node:zlib");
const e = (t) => ({ id: "x", title: t, artist: "A", album: "B", duration: 10, durationMs: 10000 });
const j = (o) => JSON.stringify(o);
const one = j({ sonicMatch: [{ entry: e("ok"), similarity: 0.5 }] });
const answers = {
  empty200: "", bom: "\ufeff" + one, matchobj: "{\"sonicMatch\":{\"entry\":" + j(e("o")) + "}}", matchstr: "{\"sonicMatch\":\"x\"}",
  toparray: "[" + one + "]", deeplist: "{\"sonicMatch\":" + "[".repeat(200000) + "]".repeat(200000) + "}",
  many: j({ sonicMatch: Array.from({ length: 100000 }, (_, i) => ({ entry: e("s" + i), similarity: 0.5 })) }),
  many40k: j({ sonicMatch: Array.from({ length: 40000 }, (_, i) => ({ entry: e("s" + i), similarity: 0.5 })) }),
  spaces: " ".repeat(8 << 20) + one,
  nulesc: "{\"sonicMatch\":[{\"entry\":{\"title\":\"a\\u0000b\",\"artist\":\"\\ud800\"},\"similarity\":0.5}]}",
  nan: "{\"sonicMatch\":[{\"entry\":{\"title\":\"n\",\"duration\":NaN},\"similarity\":Infinity}]}",
  esckey: "{\"sonic\\u004datch\":[{\"entry\":" + j(e("escaped key")) + ",\"similarity\":0.5}]}",
  bigkey: "{\"" + "k".repeat(9 << 20) + "\":1," + one.slice(1),
  dupentry: "{\"sonicMatch\":[{\"entry\":" + j(e("first")) + ",\"entry\":" + j(e("second")) + ",\"similarity\":0.5}]}",
  objtitle: "{\"sonicMatch\":[{\"entry\":{\"title\":{\"a\":[1,2]},\"artist\":[\"x\"]},\"similarity\":0.5}]}",
  trailing: one + "garbage after the answer",
  truncated: one.slice(0, one.length - 3),
};
const s = createServer((req, res) => {
  const m = new URL(req.url, "http://x").pathname.split("/")[1];
  if (m === "nocontent") { res.writeHead(204); return res.end(); }
  if (m === "gzip") { res.writeHead(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}); return res.end(zlib.gzipSync(one)); }
  if (m === "drip") {  // a valid answer, a byte every 50 ms: about 25 s in all, past the plugin-s 20 s
    res.writeHead(200, {"Content-Type": "application/json"}); let i = 0;
    const t = setInterval(() => { if (i >= 500) { clearInterval(t); return res.end(); } res.write(i < one.length ? one[i] : " "); i++; }, 50);
    return;
  }
  res.writeHead(200, {"Content-Type": "application/json"}); res.end(answers[m] ?? "{}");
});
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
' > "$PORTFILE" & SRV=$!
for _ in $(seq 100); do [[ -s "$PORTFILE" ]] && break; sleep 0.1; done
PORT=$(cat "$PORTFILE")
{ sed -n 1,125p $T/host.mjs | sed 's#^const \[binary, modelDir, ndpPath\] = process.argv.slice(2);#const ndpPath = process.argv[2]; const binary = 1, modelDir = 1;#'
cat <<JS
const port = process.argv[3];
const seed = { name: 'x', artist: 'A', durationMs: 1000 };
const count = process.env.COUNT ? JSON.parse(process.env.COUNT) : 5;  // hostile pass 14: other counts
const modes = process.env.ONLY ? [process.env.ONLY] : ['drip', 'empty200', 'nocontent', 'bom', 'matchobj', 'matchstr', 'toparray', 'deeplist', 'many', 'many40k', 'spaces', 'nulesc',
               'nan', 'esckey', 'bigkey', 'dupentry', 'objtitle', 'trailing', 'truncated', 'gzip'];
for (const mode of modes) {
  for (const [fn, input] of [['nd_get_sonic_similar_tracks', { song: seed, count }],
                             ['nd_get_similar_songs_by_track', { id: 'x', name: 'x', artist: 'A', count }]]) {
    const plugin = await loadPlugin({ baseUrl: 'http://127.0.0.1:' + port + '/' + mode });
    let line;
    const t0 = Date.now();
    try {
      const out = await plugin.call(fn, JSON.stringify(input));
      const text = out ? out.text() : '';
      try {
        const got = JSON.parse(text);
        const list = got.matches ?? got.songs ?? [];
        line = 'JSON ' + list.length + ' item(s)' + (list.length > count ? ' MORE THAN count' : '') + ' ' + JSON.stringify(got).slice(0, 140);
      } catch (e) { line = 'NOT JSON (' + e.message.slice(0, 60) + '): ' + JSON.stringify(text.slice(0, 120)); }
    } catch (e) { line = 'ERROR ' + String(e.message || e).slice(0, 220); }
    console.log(mode + ' ' + fn.replace('nd_get_', '') + ' (' + Math.round((Date.now() - t0) / 1000) + ' s): ' + line);
    await plugin.close();
  }
}
JS
} > $T/h13_cases.mjs
(cd $T && node h13_cases.mjs "$NDP" "$PORT" 2>&1 | grep -v -e ExperimentalWarning -e trace-warnings)
