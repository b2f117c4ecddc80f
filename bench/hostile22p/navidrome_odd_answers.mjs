// Hostile pass 22 (integrations): the Navidrome plugin (clapsearch.ndp, loaded as Navidrome loads
// it through Extism, with hostile pass 21's host: curl for http_send, Navidrome's allowed hosts)
// against navidrome_odd_answers.py, a server giving answers not tried before (deep nesting, a key
// twice, empty and 204 and 302 answers, \u0000, a 9 MB title, 10^6 escapes, 100,000 keys, a BOM,
// trailing garbage, sonicMatch of other types, odd similarities). Each call's outcome is printed;
// a trap, a hang or a wrong song is a defect.
//
//   node navidrome_odd_answers.mjs EXTISM_MOD_JS clapsearch.ndp SERVER_URL
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';

const [extismPath, ndpPath, serverUrl] = process.argv.slice(2);
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
    outcome = `answer: ${out ? out.text().slice(0, process.env.FULL ? 100000 : 160) : '(none)'}`;
  } catch (e) {
    outcome = `error: ${String(e.message || e).slice(0, 300)}`;
  }
  const urls = sent.slice(before).map((r) => `${r.url.slice(0, 120)}${r.url.length > 120 ? `...(${r.url.length})` : ''} auth=${(r.headers || {}).Authorization ? 'yes' : 'no'}`);
  console.log(`- ${name}\n    ${outcome.replace(/\n/g, '\\n')}\n    sent: ${urls.join(' | ') || 'nothing'}`);
  await plugin.close();
}


const modes = process.env.ONLY ? process.env.ONLY.split(',') : ['ok', 'deepentry', 'deeptop', 'deepunclosed', 'dupkey', 'empty200', 's204', 'redirect', 'nulescape', 'bigtitle',
  'escapes', 'manykeys', 'bom', 'trailing', 'toparray', 'matchnull', 'matchobject', 'matchstring', 'oddsim'];
for (const mode of modes) {
  const t0 = Date.now();
  await run(mode, { baseUrl: `${serverUrl}/${mode}` });
  console.log(`    ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
