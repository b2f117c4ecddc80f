// Hostile pass 21 (integrations): the Navidrome plugin (clapsearch.ndp, as Navidrome loads it
// through Extism) under configuration values not tried before: empty and blank, huge (1 MB),
// not a URL, http:// with no host, [::1], userinfo (user:pass@, an @ in the password, an empty
// user), a port out of range, percent-encoding, a unicode host, a token of 1 MB and with a NUL.
// Each call's outcome is printed: an answer, or the plugin's error; a trap or a hang is a defect.
// The host's HTTP (curl) logs every URL the plugin asked for, so a credential put into a URL
// or sent elsewhere shows.
//
//   node navidrome_odd_config.mjs EXTISM_MOD_JS clapsearch.ndp SERVE_URL
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';

const [extismPath, ndpPath, serveUrl] = process.argv.slice(2);
const createPlugin = (await import(pathToFileURL(extismPath).href)).default;

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
const manifest = JSON.parse(ndp.get('manifest.json').toString('utf8'));
const requiredHosts = manifest.permissions.http.requiredHosts;

const sent = [];
function httpSend(request) {
  sent.push(request);
  let url;
  try {
    url = new URL(request.url);  // Go's url.Parse is stricter than WHATWG in places; both logged
  } catch (e) {
    return { error: `invalid URL: ${e.message}` };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!requiredHosts.includes(host)) return { error: `host "${url.host}" is not allowed` };
  const args = ['-s', '-S', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10'];
  for (const [k, v] of Object.entries(request.headers || {})) args.push('-H', `${k}: ${v}`);
  args.push(request.url);
  const r = spawnSync('curl', args, { maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: `GET "${request.url.slice(0, 200)}": ${r.stderr.toString().trim()}` };
  const out = r.stdout, nl = out.lastIndexOf(10);
  const result = { statusCode: Number(out.subarray(nl + 1).toString()), headers: { 'Content-Type': 'application/json' } };
  if (nl > 0) result.body = out.subarray(0, nl).toString('base64');
  return { result };
}

async function run(name, config) {
  const plugin = await createPlugin(
    { wasm: [{ data: ndp.get('plugin.wasm'), name: 'main' }], config, allowedHosts: requiredHosts },
    { useWasi: true, config, functions: { 'extism:host/user': {
      http_send(context, offset) {
        let response;
        try { response = httpSend(JSON.parse(context.read(offset).text()).request); } catch (e) { response = { error: String(e.message || e) }; }
        return context.store(JSON.stringify(response));
      } } } });
  const before = sent.length;
  let outcome;
  try {
    const out = await plugin.call('nd_get_sonic_similar_tracks', JSON.stringify({ song: { name: 'Plain Song', artist: 'Plain' }, count: 2 }));
    outcome = `answer: ${out ? out.text().slice(0, 160) : '(none)'}`;
  } catch (e) {
    outcome = `error: ${String(e.message || e).slice(0, 300)}`;
  }
  const urls = sent.slice(before).map((r) => `${r.url.slice(0, 120)}${r.url.length > 120 ? `...(${r.url.length})` : ''} auth=${(r.headers || {}).Authorization ? 'yes' : 'no'}`);
  console.log(`- ${name}\n    ${outcome.replace(/\n/g, '\\n')}\n    sent: ${urls.join(' | ') || 'nothing'}`);
  await plugin.close();
}

const u = new URL(serveUrl);
const port = u.port;
const cases = [
  ['empty baseUrl', { baseUrl: '' }],
  ['blank baseUrl', { baseUrl: '   \t ' }],
  ['no config at all', {}],
  ['1 MB baseUrl', { baseUrl: `http://127.0.0.1:${port}/` + 'a'.repeat(1 << 20) }],
  ['not a URL', { baseUrl: 'clapsearch' }],
  ['http:// only', { baseUrl: 'http://' }],
  ['http:/// only', { baseUrl: 'http:///' }],
  ['http://:port (no host)', { baseUrl: `http://:${port}` }],
  ['[::1]', { baseUrl: `http://[::1]:${port}` }],
  ['[::1] no brackets', { baseUrl: `http://::1:${port}` }],
  ['userinfo user:pass@', { baseUrl: `http://user:secret@127.0.0.1:${port}` }],
  ['userinfo with @ in password', { baseUrl: `http://user:p@ss@127.0.0.1:${port}` }],
  ['userinfo fools the host check', { baseUrl: `http://127.0.0.1:${port}@192.0.2.1:8411` }],
  ['userinfo localhost@evil', { baseUrl: `http://localhost@example.com` }],
  ['empty userinfo @', { baseUrl: `http://@127.0.0.1:${port}` }],
  ['backslash host trick', { baseUrl: `http://127.0.0.1:${port}\\@example.com` }],
  ['port 99999', { baseUrl: 'http://127.0.0.1:99999' }],
  ['port 0', { baseUrl: 'http://127.0.0.1:0' }],
  ['percent-encoded path', { baseUrl: `http://127.0.0.1:${port}/%2e%2e/%00` }],
  ['bad percent-encoding', { baseUrl: `http://127.0.0.1:${port}/%zz` }],
  ['unicode host', { baseUrl: `http://ｌｏｃａｌｈｏｓｔ:${port}` }],
  ['decimal IP 2130706433', { baseUrl: `http://2130706433:${port}` }],
  ['https to an http server', { baseUrl: `https://127.0.0.1:${port}` }],
  ['token of 1 MB', { baseUrl: serveUrl, token: 't'.repeat(1 << 20) }],
  ['token with a NUL', { baseUrl: serveUrl, token: 'abc\u0000def' }],
  ['token non-ASCII', { baseUrl: serveUrl, token: 'päss' }],
  ['baseUrl with a NUL', { baseUrl: `http://127.0.0.1:${port}\u0000@example.com` }],
  ['unknown keys only', { base_url: serveUrl, BaseUrl: serveUrl }],
];
for (const [name, config] of cases) await run(name, config);
