// Hostile pass 16: the Navidrome plugin's configuration values and counts, as Navidrome passes
// them (strings), against contrib/navidrome/test/hostile_server.mjs's "echo" mode (the request's
// query comes back as the first song's title) and a real `clapsearch serve` when one is given.
// Prints one line a case: what was sent (the URL) and what came back (songs or the error).
//
// cd contrib/navidrome/test && npm ci   (once: @extism/extism from the lockfile)
// node bench/hostile16p/navidrome_config.mjs clapsearch.ndp [SERVE_URL]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

const here = new URL('../../contrib/navidrome/test/', import.meta.url);
const { default: createPlugin } = await import(new URL('node_modules/@extism/extism/dist/esm/mod.js', here));
const [ndpPath, serveUrl] = process.argv.slice(2);

function unzip(bytes) {
  const files = new Map();
  let eocd = bytes.length - 22;
  while (eocd >= 0 && bytes.readUInt32LE(eocd) !== 0x06054b50) --eocd;
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; ++i) {
    const method = bytes.readUInt16LE(at + 10), size = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28), extra = bytes.readUInt16LE(at + 30), comment = bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const dataAt = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const data = bytes.subarray(dataAt, dataAt + size);
    files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + extra + comment;
  }
  return files;
}
const ndp = unzip(readFileSync(ndpPath));
const requiredHosts = JSON.parse(ndp.get('manifest.json')).permissions.http.requiredHosts;

// http_send as host.mjs gives it (curl; requiredHosts enforced on the URL's host name).
const sent = [];
function httpSend(request) {
  sent.push(request);
  let url;
  try {
    url = new URL(request.url);
  } catch (e) {
    return { error: `invalid URL: ${e.message}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `invalid URL scheme "${url.protocol}"` };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!requiredHosts.includes(host)) return { error: `host "${url.host}" is not allowed` };
  const args = ['-s', '-S', '-o', '-', '-w', '\n%{http_code}', '--max-time', '5'];
  for (const [k, v] of Object.entries(request.headers || {})) args.push('-H', `${k}: ${v}`);
  args.push(request.url);
  const r = spawnSync('curl', args, { maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: `GET "${request.url}": ${r.stderr.toString().trim()}` };
  const out = r.stdout;
  const nl = out.lastIndexOf(10);
  return { result: { statusCode: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl).toString('base64') } };
}

async function load(config) {
  return createPlugin({ wasm: [{ data: ndp.get('plugin.wasm') }], config }, {
    useWasi: true, config,
    functions: { 'extism:host/user': { http_send(ctx, off) { return ctx.store(JSON.stringify(httpSend(JSON.parse(ctx.read(off).text()).request))); } } },
  });
}

async function run(label, config, fn, inputText) {
  const plugin = await load(config);
  const before = sent.length;
  let outcome;
  try {
    const out = await plugin.call(fn, inputText);
    const got = out ? JSON.parse(out.text()) : null;
    const list = got ? (got.matches ?? got.songs) : null;
    outcome = list ? `${list.length} songs` + (list[0] ? ` first=${JSON.stringify((list[0].song ?? list[0]).name).slice(0, 90)}` : '') : 'no output';
  } catch (e) {
    outcome = `ERROR ${String(e.message || e).slice(0, 200)}`;
  }
  await plugin.close();
  const url = sent.length > before ? sent.at(-1).url : '(nothing sent)';
  console.log(`${label}\n    sent: ${url.slice(0, 160)}\n    got:  ${outcome}`);
}

const hostile = await new Promise((resolve) => {
  const child = spawn(process.execPath, [new URL('hostile_server.mjs', here).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (d) => { const m = String(d).match(/listening on (http:\/\/\S+)/); if (m) resolve({ child, url: m[1] }); });
});
const port = new URL(hostile.url).port;
const song = '{"song":{"name":"Hello","artist":"Adele"},"count":3}';
try {
  console.log('# baseUrl values (echo: the query sent comes back as the title)');
  const bases = [
    ['a path', `${hostile.url}/echo`], ['a path and a trailing slash', `${hostile.url}/echo/`],
    ['two trailing slashes', `${hostile.url}/echo//`], ['upper-case scheme', `HTTP://127.0.0.1:${port}/echo`],
    ['localhost', `http://localhost:${port}/echo`], ['userinfo', `http://bob:secret@127.0.0.1:${port}/echo`],
    ['a query in baseUrl', `${hostile.url}/echo?x=1`], ['a fragment in baseUrl', `${hostile.url}/echo#top`],
    ['no scheme (host:port)', `127.0.0.1:${port}/echo`], ['no scheme (localhost:port)', `localhost:${port}/echo`],
    ['ftp scheme', `ftp://127.0.0.1:${port}/echo`], ['a space inside', `http://127.0.0.1:${port}/ec ho`],
    ['non-loopback', 'http://192.0.2.1:8411'], ['IPv6 loopback', `http://[::1]:${port}/echo`],
    ['127.1 short form', `http://127.1:${port}/echo`], ['trailing-dot host', `http://localhost.:${port}/echo`],
    ['a NUL inside', `${hostile.url}/echo\u0000x`], ['https to a plain server', `https://127.0.0.1:${port}/echo`],
    ['only spaces', '   '], ['only a slash', '/'],
  ];
  for (const [label, baseUrl] of bases) await run(`baseUrl ${label}: ${JSON.stringify(baseUrl)}`, { baseUrl }, 'nd_get_sonic_similar_tracks', song);
  console.log('# tokens');
  for (const token of ['t\u00e9st', 'a b', 'x'.repeat(10000), '\t', ' lead']) await run(`token ${JSON.stringify(token).slice(0, 30)}`, { baseUrl: `${hostile.url}/echo`, token }, 'nd_get_sonic_similar_tracks', song);
  console.log('# counts, as raw JSON text (echo: what count serve is sent; manysmall: how many songs come back)');
  const counts = ['5', '5.0', '5e0', '"5"', '-0', '007', '-1', '1000', '1001', '99999999999999999999999', 'null', 'true', '{}', '[]', '1e400', '0.0', '4.9999999999999999999', ''];
  for (const c of counts) {
    const input = c === '' ? '{"song":{"name":"Hello","artist":"Adele"}}' : `{"song":{"name":"Hello","artist":"Adele"},"count":${c}}`;
    await run(`count ${c || '(missing)'} echo`, { baseUrl: `${hostile.url}/echo` }, 'nd_get_sonic_similar_tracks', input);
    await run(`count ${c || '(missing)'} manysmall`, { baseUrl: `${hostile.url}/manysmall` }, 'nd_get_similar_songs_by_track', input.replace('{"song":{"name":"Hello","artist":"Adele"}', '{"id":"x","name":"Hello","artist":"Adele"'));
    if (serveUrl) await run(`count ${c || '(missing)'} real serve`, { baseUrl: serveUrl }, 'nd_get_similar_songs_by_track', input.replace('{"song":{"name":"Hello","artist":"Adele"}', '{"id":"x","name":"t1"'));
  }
  console.log('# inputs that are not JSON objects');
  for (const input of ['', 'null', '[]', '"x"', '{', '{"song":null}', '{"song":"Hello"}', '{"count":3}', '\u0000']) {
    await run(`input ${JSON.stringify(input)}`, { baseUrl: `${hostile.url}/echo` }, 'nd_get_sonic_similar_tracks', input);
    await run(`input ${JSON.stringify(input)} (by artist)`, { baseUrl: `${hostile.url}/echo` }, 'nd_get_similar_songs_by_artist', input);
  }
} finally {
  hostile.child.kill();
}
