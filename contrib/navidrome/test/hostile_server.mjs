// A server that answers the plugin's /api/sonic/ requests as a broken or hostile one might:
// the first path segment of the plugin's baseUrl picks the answer. It runs as its own process
// because host.mjs's http_send blocks node's event loop (curl through spawnSync).
//
// node hostile_server.mjs  -> prints "listening on http://127.0.0.1:PORT"
import { createServer } from 'node:http';

function entry(i, title) {
  return { id: `t${i}`, title: title ?? `Song ${i} ${'x'.repeat(900)}`, artist: 'A', album: 'B', duration: 10, durationMs: 10000 };
}

const answers = {
  // About 6 MB of answer: under Navidrome's 10 MiB body limit, over the plugin's old 4 MB heap.
  huge: () => [200, JSON.stringify({ sonicMatch: Array.from({ length: 6000 }, (_, i) => ({ entry: entry(i), similarity: 0.5 })) })],
  // Over 10 MiB: Navidrome's http_send cuts the body (host.mjs does the same).
  overlimit: () => [200, JSON.stringify({ sonicMatch: Array.from({ length: 12000 }, (_, i) => ({ entry: entry(i), similarity: 0.5 })) })],
  // Fields of the wrong type, a similarity missing, an entry that is not an object.
  badtypes: () => [200, '{"sonicMatch":[{"entry":{"title":"A","duration":"ten","durationMs":null,"isrc":"X"},"similarity":"high"},' +
                        '{"entry":5,"similarity":0.5},{"entry":{"title":"C"}},{"entry":{"title":"D"},"similarity":-},' +
                        '{"entry":{"title":"E"},"similarity":1e}]}'],
  // Not JSON at all, and a proxy's HTML error page.
  notjson: () => [200, 'sonicMatch: none'],
  html: () => [502, '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>'],
  // Titles that are not UTF-8 and hold control characters.
  bytes: () => [200, Buffer.concat([Buffer.from('{"sonicMatch":[{"entry":{"title":"caf'), Buffer.from([0xe9, 0xff]),
                                    Buffer.from('\\u0007\\n"},"similarity":0.25}]}')])],
  // Hostile pass 12: raw control characters inside a string (JSON allows none), entries that are
  // not objects before a song, numbers no Go field holds (1e400; 1.5e3 for an int).
  rawctl: () => [200, '{"sonicMatch":[{"entry":{"title":"a\nb\tc\u0001","artist":"x\ry"},"similarity":0.5}]}'],
  nullfirst: () => [200, `{"sonicMatch":[null,1,"s",[],{"entry":${JSON.stringify(entry(0, 'after'))},"similarity":0.5}]}`],
  bignum: () => [200, '{"sonicMatch":[{"entry":{"title":"n","duration":1e400,"durationMs":1.5e3},"similarity":1e999}]}'],
  // Hostile pass 13: count ignored, 40,000 short songs (4 MB) for the 5 asked.
  manysmall: () => [200, JSON.stringify({ sonicMatch: Array.from({ length: 40000 }, (_, i) => ({ entry: { title: `s${i}` }, similarity: 0.5 })) })],
  // The request's query as the answer's title: what the plugin sent, decoded.
  echo: (url) => [200, JSON.stringify({ sonicMatch: [{ entry: entry(0, url.search), similarity: 0.5 }] })],
};

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const mode = url.pathname.split('/')[1];
  // A server that hangs: it reads the request and never answers (a clapsearch serve stopped
  // with SIGSTOP, or stuck behind a dead disk).
  if (mode === 'hang') return;
  const make = answers[mode];
  const [status, body] = make ? make(url) : [404, '{"error":"unknown mode"}'];
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
