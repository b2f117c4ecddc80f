// A test host for clapsearch.ndp that loads it as Navidrome does: the zip's manifest.json and
// plugin.wasm, an Extism plugin with WASI, the configuration as string values, and Navidrome's
// http_send host function (extism:host/user, JSON in and out, bodies in base64, 4xx/5xx as
// results, {"error"} for refused hosts and network failures, the manifest's requiredHosts
// enforced). It makes a library of real tagged files with ffmpeg, indexes it with the real
// clapsearch, runs a real `clapsearch serve` on loopback and checks each export's answer, then
// the error cases (unknown song, bad token, server down, a host the manifest does not allow).
//
// node host.mjs CLAPSEARCH_BINARY MODEL_DIR clapsearch.ndp
import createPlugin from '@extism/extism';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import assert from 'node:assert/strict';

const [binary, modelDir, ndpPath] = process.argv.slice(2);
if (!binary || !modelDir || !ndpPath) {
  console.error('usage: node host.mjs CLAPSEARCH_BINARY MODEL_DIR clapsearch.ndp');
  process.exit(2);
}

// --- the .ndp: a zip with manifest.json and plugin.wasm at its root (stored or deflated) ---------
function unzip(bytes) {
  const files = new Map();
  let eocd = bytes.length - 22;
  while (eocd >= 0 && bytes.readUInt32LE(eocd) !== 0x06054b50) --eocd;
  assert.ok(eocd >= 0, 'not a zip file');
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; ++i) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50);
    const method = bytes.readUInt16LE(at + 10);
    const size = bytes.readUInt32LE(at + 20);
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
assert.ok(ndp.has('manifest.json') && ndp.has('plugin.wasm'), 'the .ndp holds manifest.json and plugin.wasm at its root');
const manifest = JSON.parse(ndp.get('manifest.json').toString('utf8'));
for (const key of ['name', 'author', 'version']) assert.ok(typeof manifest[key] === 'string' && manifest[key], `manifest ${key}`);
const requiredHosts = manifest.permissions?.http?.requiredHosts ?? [];

// --- Navidrome's http_send ------------------------------------------------------------------------
function hostAllowed(host) {
  host = host.replace(/^\[|\]$/g, '');
  return requiredHosts.some((p) => p === '*' || p === host || (p.startsWith('*.') && host.endsWith(p.slice(1))));
}

function httpSend(request) {
  let url;
  try {
    url = new URL(request.url);
  } catch (e) {
    return { error: `invalid URL: ${e.message}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { error: `invalid URL scheme "${url.protocol.slice(0, -1)}": must be http or https` };
  if (!hostAllowed(url.hostname)) return { error: `host "${url.host}" is not allowed` };
  const args = ['-s', '-S', '-X', (request.method || 'GET').toUpperCase(), '-o', '-', '-w', '\n%{http_code}',
                '--max-time', String((request.timeoutMs || 10000) / 1000)];
  for (const [k, v] of Object.entries(request.headers || {})) args.push('-H', `${k}: ${v}`);
  if (request.body) args.push('--data-binary', '@-');
  args.push(request.url);
  const r = spawnSync('curl', args, { input: request.body ? Buffer.from(request.body, 'base64') : undefined, maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: `${request.method || 'GET'} "${request.url}": ${r.stderr.toString().trim()}` };
  const out = r.stdout;
  const nl = out.lastIndexOf(10);
  const statusCode = Number(out.subarray(nl + 1).toString());
  const body = out.subarray(0, Math.min(nl, 10 << 20));  // Navidrome cuts a body at 10 MiB, silently
  const result = { statusCode, headers: { 'Content-Type': 'application/json' } };
  if (body.length) result.body = body.toString('base64');
  return { result };
}

const sent = [];
async function loadPlugin(config) {
  // Navidrome passes every config value as a string.
  const strings = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return createPlugin(
    { wasm: [{ data: ndp.get('plugin.wasm'), name: 'main' }], config: strings, allowedHosts: requiredHosts },
    {
      useWasi: true,
      config: strings,  // this SDK reads the configuration from the options, not the manifest
      functions: {
        'extism:host/user': {
          http_send(context, offset) {
            let response;
            try {
              const request = JSON.parse(context.read(offset).text()).request;
              sent.push(request);
              response = httpSend(request);
            } catch (e) {
              response = { error: String(e.message || e) };
            }
            return context.store(JSON.stringify(response));
          },
        },
      },
    },
  );
}

async function call(plugin, fn, input) {
  const out = await plugin.call(fn, JSON.stringify(input));
  return out ? JSON.parse(out.text()) : null;
}

async function callError(plugin, fn, input) {
  try {
    await plugin.call(fn, JSON.stringify(input));
  } catch (e) {
    return String(e.message || e);
  }
  assert.fail(`${fn} should have failed`);
}

// --- a library of real tagged files, indexed, served ------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'clapsearch-ndp-'));
const music = join(dir, 'music');
const db = join(dir, 'library.db');
const QUEEN_MBID = 'b1a9c0e9-d987-4042-ae91-78d6a3267d69';
function encode(rel, source, tags) {
  const path = join(music, rel);
  mkdirSync(dirname(path), { recursive: true });
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source, ...meta, path]);
  assert.equal(r.status, 0, r.stderr.toString());
}
encode('Queen/Night/bohemian.flac', 'sine=f=440:d=20',
       { artist: 'Queen', title: 'Bohemian Rhapsody (Remastered 2011)', album: 'A Night at the Opera', MUSICBRAINZ_TRACKID: QUEEN_MBID, ISRC: 'GBUM71029604' });
encode('Queen/Live/bohemian.mp3', 'sine=f=460:d=22', { artist: 'Queen', title: 'Bohemian Rhapsody (Live)', album: 'Live' });
encode('ru/kino.ogg', 'anoisesrc=color=pink:d=16:seed=3', { artist: 'Кино', title: 'Группа крови' });
encode('jp/yoasobi.flac', 'aevalsrc=sin(2*PI*(200+400*t)*t):d=12', { artist: 'YOASOBI', title: '夜に駆ける', ISRC: 'JPP302000001' });
encode('other/adele.mp3', 'anoisesrc=color=brown:d=14:seed=5', { artist: 'Adele', title: 'Hello' });
const indexed = spawnSync(binary, ['index', music, '--db', db, '--model', modelDir, '-q']);
assert.equal(indexed.status, 0, indexed.stderr.toString());

function serve(extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['serve', '--db', db, '--port', '0', '-q', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(/listening on (http:\/\/\S+?)\/?\s/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

let failures = 0;
async function check(name, body) {
  try {
    await body();
    console.log(`ok - ${name}`);
  } catch (e) {
    ++failures;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
  }
}

const open = await serve([]);
const tokened = await serve(['--token', 'a-long-secret']);
try {
  // Navidrome's SongRef as v0.63 sends it: no path, durationMs and artists[].
  const seed = { id: 'mf-1', name: 'Bohemian Rhapsody', mbid: QUEEN_MBID, artist: 'Queen', album: 'A Night at the Opera', duration: 20, durationMs: 20000 };
  const plugin = await loadPlugin({ baseUrl: open.url });

  await check('nd_get_sonic_similar_tracks: matches with every identifier, the seed left out, count honoured', async () => {
    const got = await call(plugin, 'nd_get_sonic_similar_tracks', { song: seed, count: 3 });
    assert.equal(got.matches.length, 3);
    let last = 2;
    for (const m of got.matches) {
      assert.ok(typeof m.song.name === 'string' && m.song.name);
      for (const key of ['mbid', 'isrc', 'artist', 'album', 'duration', 'durationMs']) assert.ok(key in m.song, key);
      // A SongRef made from clapsearch's entry (an OpenSubsonic Child): strings and numbers, not the Child's arrays.
      assert.equal(typeof m.song.isrc, 'string');
      assert.equal(typeof m.song.mbid, 'string');
      assert.ok(Number.isInteger(m.song.durationMs) && m.song.durationMs > 0, JSON.stringify(m.song));
      assert.notEqual(m.song.mbid, QUEEN_MBID);
      assert.ok(m.similarity >= 0 && m.similarity <= 1 && m.similarity <= last);
      last = m.similarity;
    }
    assert.ok(sent.at(-1).url.startsWith(`${open.url}/api/sonic/getSonicSimilarTracks?`));
  });

  await check('nd_get_sonic_similar_tracks: a v0.62 SongRef (duration, no durationMs) and artists[] only', async () => {
    const got = await call(plugin, 'nd_get_sonic_similar_tracks',
                           { song: { name: 'Группа крови', artists: [{ name: 'Кино', role: 'artist' }], duration: 16 }, count: 10 });
    assert.equal(got.matches.length, 4);
    assert.ok(!got.matches.some((m) => m.song.name === 'Группа крови'));
  });

  await check('nd_find_sonic_path: from the start song to the end song', async () => {
    const got = await call(plugin, 'nd_find_sonic_path',
                           { startSong: seed, endSong: { name: '夜に駆ける', artist: 'YOASOBI', isrc: 'JPP302000001', durationMs: 12000 }, count: 4 });
    assert.equal(got.matches.length, 4);
    assert.equal(got.matches[0].song.mbid, QUEEN_MBID);
    assert.equal(got.matches[0].song.name, 'Bohemian Rhapsody (Remastered 2011)');
    assert.equal(got.matches[0].song.path, 'Queen/Night/bohemian.flac');
    assert.equal(got.matches[0].song.durationMs, 20000);
    assert.equal(got.matches[3].song.isrc, 'JPP302000001');
  });

  await check('nd_get_similar_songs_by_track: songs for Instant Mix', async () => {
    const got = await call(plugin, 'nd_get_similar_songs_by_track', { id: 'mf-9', name: 'Hello', artist: 'Adele', count: 2 });
    assert.equal(got.songs.length, 2);
    assert.ok(got.songs.every((s) => s.name && s.name !== 'Hello'));
  });

  await check('nd_get_similar_songs_by_artist and _by_album: songs like theirs, theirs left out', async () => {
    let got = await call(plugin, 'nd_get_similar_songs_by_artist', { id: 'ar-1', name: 'Queen', count: 10 });
    assert.equal(got.songs.length, 3);  // 5 tracks, 2 of them Queen's
    assert.ok(got.songs.every((s) => s.artist !== 'Queen'));
    got = await call(plugin, 'nd_get_similar_songs_by_album', { id: 'al-1', name: 'A Night at the Opera', artist: 'Queen', count: 2 });
    assert.equal(got.songs.length, 2);
    assert.ok(got.songs.every((s) => s.album !== 'A Night at the Opera'));
    got = await call(plugin, 'nd_get_similar_songs_by_artist', { id: 'ar-9', name: 'Nobody', count: 10 });
    assert.deepEqual(got, { songs: [] });
  });

  await check('unknown song: an error for the sonic calls, no data for Instant Mix, no trap', async () => {
    const err = await callError(plugin, 'nd_get_sonic_similar_tracks', { song: { name: 'Nothing Like It', artist: 'Nobody' }, count: 5 });
    assert.match(err, /clapsearch: HTTP 404: unknown song/);
    const none = await call(plugin, 'nd_get_similar_songs_by_track', { id: 'x', name: 'Nothing Like It', artist: 'Nobody', count: 5 });
    assert.deepEqual(none, { songs: [] });
  });

  await check('a name with a NUL character (\\u0000) is not cut there: no other song is taken for it', async () => {
    const err = await callError(plugin, 'nd_get_sonic_similar_tracks', { song: { name: 'Hello\u0000 (Live)', artist: 'Adele' }, count: 2 });
    assert.match(err, /HTTP 404: unknown song/);
    assert.ok(!sent.at(-1).url.endsWith('title=Hello'), sent.at(-1).url);
    const none = await call(plugin, 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello\u0000 (Live)', artist: 'Adele', count: 2 });
    assert.deepEqual(none, { songs: [] });
  });

  await check('hostile pass 8: lone surrogates in a name and counts out of range: an error or no songs, no trap', async () => {
    for (const name of ['\uD800A', '\uDC00', 'Nothing\uD83D Like It', '\uD83D\uDE00 (Live)']) {
      const err = await callError(plugin, 'nd_get_sonic_similar_tracks', { song: { name, artist: 'Adele' }, count: 2 });
      assert.match(err, /clapsearch: HTTP 4\d\d/, name);
      const none = await call(plugin, 'nd_get_similar_songs_by_track', { id: 'x', name, artist: 'Adele', count: 2 });
      assert.deepEqual(none, { songs: [] }, name);
    }
    for (const count of [1e400, -5, 'abc', 1e18, 0]) {
      try {
        const out = await call(plugin, 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello', artist: 'Adele', count });
        assert.ok(Array.isArray(out.songs), JSON.stringify(out));
      } catch (e) {
        assert.match(String(e.message || e), /clapsearch: HTTP 4\d\d/, String(count));
      }
    }
  });

  await check('token: refused without it, answered with it', async () => {
    const without = await loadPlugin({ baseUrl: tokened.url });
    assert.match(await callError(without, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /HTTP 401: unauthorized/);
    const bad = await loadPlugin({ baseUrl: tokened.url, token: 'wrong' });
    assert.match(await callError(bad, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /HTTP 401/);
    const good = await loadPlugin({ baseUrl: tokened.url, token: 'a-long-secret' });
    assert.equal((await call(good, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 })).matches.length, 1);
    assert.equal(sent.at(-1).headers.Authorization, 'Bearer a-long-secret');
  });

  await check('server down, a host the manifest does not allow: errors, no trap', async () => {
    const down = await loadPlugin({ baseUrl: 'http://127.0.0.1:9' });
    assert.match(await callError(down, 'nd_find_sonic_path', { startSong: seed, endSong: seed, count: 3 }), /cannot reach clapsearch serve/);
    const elsewhere = await loadPlugin({ baseUrl: 'http://192.0.2.1:8411' });
    assert.match(await callError(elsewhere, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /is not allowed/);
  });

  await check('no configuration: the manifest\'s default baseUrl (Navidrome does not fill defaults in); ::1 is not allowed', async () => {
    const fallback = manifest.config.schema.properties.baseUrl.default;
    const unset = await loadPlugin({});
    const before = sent.length;
    const err = await unset.call('nd_get_sonic_similar_tracks', JSON.stringify({ song: seed, count: 1 }))
      .then(() => '', (e) => String(e.message || e));
    assert.doesNotMatch(err, /baseUrl/);
    assert.equal(sent.length, before + 1);
    assert.ok(sent.at(-1).url.startsWith(`${fallback}/api/sonic/getSonicSimilarTracks?`),
              `no request to the default ${fallback}: ${JSON.stringify(sent.at(-1))}`);
    assert.ok(!requiredHosts.includes('::1'), 'the manifest allows ::1, where serve does not listen');
    const v6 = await loadPlugin({ baseUrl: open.url.replace('127.0.0.1', '[::1]') });
    assert.match(await callError(v6, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /is not allowed/);
  });

  await check('hostile pass 11: a baseUrl pasted with spaces or a line break around it is used trimmed', async () => {
    for (const baseUrl of [` ${open.url} `, `${open.url}/\n`, `\t${open.url}\r\n`]) {
      const padded = await loadPlugin({ baseUrl });
      assert.equal((await call(padded, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 })).matches.length, 1, JSON.stringify(baseUrl));
      assert.ok(sent.at(-1).url.startsWith(`${open.url}/api/sonic/getSonicSimilarTracks?`), sent.at(-1).url);
      await padded.close();
    }
  });

  await check('a token with a line break: refused by the plugin, not sent as a header', async () => {
    const before = sent.length;
    const broken = await loadPlugin({ baseUrl: tokened.url, token: 'a-long-secret\r\nX-Injected: 1' });
    assert.match(await callError(broken, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /control character/);
    assert.equal(sent.length, before);
  });
  await check('hostile pass 16: a token pasted with spaces or a line break around it is used trimmed, as baseUrl is', async () => {
    // The line break after a pasted token was refused as a control character ("set it again"),
    // a space before it sent "Bearer  a-long-secret" (401), where the baseUrl beside it is trimmed.
    for (const token of ['a-long-secret\n', ' a-long-secret', '\ta-long-secret\r\n']) {
      const padded = await loadPlugin({ baseUrl: tokened.url, token });
      assert.equal((await call(padded, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 })).matches.length, 1, JSON.stringify(token));
      assert.equal(sent.at(-1).headers.Authorization, 'Bearer a-long-secret');
      await padded.close();
    }
  });

  await check('hostile pass 16: a baseUrl with a query, a fragment, no http://, a control character: refused naming baseUrl, nothing sent', async () => {
    // A query or a fragment took the route into it (`http://host/?x/api/sonic/…`: serve's start
    // page or another route answered); `127.0.0.1:8411` failed as an unreadable URL naming no
    // setting; a NUL cut the address there and the rest was dropped unseen.
    const port = new URL(open.url).port;
    const cases = [[`${open.url}/?x=1`, /holds a query or a fragment/], [`${open.url}#top`, /holds a query or a fragment/],
                   [`127.0.0.1:${port}`, /is not an http:\/\/ or https:\/\/ address: write it whole, e\.g\. http:\/\/127\.0\.0\.1:8411/],
                   [`localhost:${port}`, /is not an http:\/\/ or https:\/\/ address/], [`ftp://127.0.0.1:${port}`, /is not an http:\/\/ or https:\/\/ address/],
                   [`${open.url}\u0000/x`, /holds a control character/], [`${open.url}/a b`, /holds a space/],
                   // Hostile pass 21: no host (sent as `http:/api/…`, read as the host "api"), a port
                   // out of range, a backslash (a slash to one URL parser, part of the user to another).
                   ['http://', /names no host/], ['http:///', /names no host/], [`http://:${port}`, /names no host/],
                   [`http://user:pw@:${port}/`, /names no host/], [`http://::1:${port}`, /names no host/], [`http://[]:${port}`, /names no host/],
                   [`http://[::1:${port}`, /has a \[ with no \]/], ['http://127.0.0.1:99999', /has a port that is not a number from 1 to 65535/],
                   ['http://127.0.0.1:0', /has a port/], ['http://127.0.0.1:', /has a port/], ['http://127.0.0.1:84x1', /has a port/],
                   [`http://[::1]x:${port}`, /something after its host/],
                   [`${open.url}\\@example.com`, /holds a backslash/],
                   [open.url.replace('http://', 'http://user:p@ss@'), /has an @ inside its user:password@: write that @ as %40/]];
    for (const [baseUrl, message] of cases) {
      const before = sent.length;
      const plugin = await loadPlugin({ baseUrl });
      const err = await callError(plugin, 'nd_get_similar_songs_by_artist', { id: 'ar-1', name: 'Queen', count: 2 });
      assert.match(err, /clapsearch: the plugin's baseUrl '/, JSON.stringify(baseUrl));
      assert.match(err, message, JSON.stringify(baseUrl));
      assert.equal(sent.length, before, `a request was sent for ${JSON.stringify(baseUrl)}`);
      await plugin.close();
    }
    // What stays allowed: upper-case HTTP://, localhost, a path (serve behind a proxy), slashes after it.
    // Hostile pass 21: and a user:password@ (a proxy's) and an empty one, with or without a port.
    for (const baseUrl of [open.url.replace('http://', 'HTTP://'), open.url.replace('127.0.0.1', 'localhost'), `${open.url}//`,
                           open.url.replace('http://', 'http://user:p%40ss@'), open.url.replace('http://', 'http://@')]) {
      const plugin = await loadPlugin({ baseUrl });
      assert.equal((await call(plugin, 'nd_get_sonic_similar_tracks', { song: seed, count: 1 })).matches.length, 1, baseUrl);
      await plugin.close();
    }
  });

  // Issue 53 (hostile pass 7 left the plugin out): answers a broken or hostile server might give.
  const hostile = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL('./hostile_server.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => {
      const m = String(d).match(/listening on (http:\/\/\S+)/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`hostile_server exited ${code}`)));
  });
  try {
    const loaded = [];
    const at = async (mode) => {
      const plugin = await loadPlugin({ baseUrl: `${hostile.url}/${mode}` });
      loaded.push(plugin);
      return plugin;
    };
    await check('a 6 MB answer (6000 songs) is reshaped whole (the old fixed 4 MB heap read it from address 0)', async () => {
      const got = await call(await at('huge'), 'nd_get_sonic_similar_tracks', { song: seed, count: 6000 });
      assert.equal(got.matches.length, 6000);
      assert.equal(got.matches[5999].song.name.slice(0, 10), 'Song 5999 ');
    });
    await check('an answer over Navidrome\'s 10 MiB body limit: an error saying so, no half answer', async () => {
      const err = await callError(await at('overlimit'), 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello', count: 12000 });
      assert.match(err, /cut at Navidrome's 10 MiB limit: ask for fewer songs/);
    });
    await check('an answer over 10 MiB for 5 songs asked: the server sent too much (asking for fewer would not help)', async () => {
      const err = await callError(await at('overlimit'), 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello', count: 5 });
      assert.match(err, /the server sent too much: its answer reached Navidrome's 10 MiB limit, although 5 songs were asked for/);
      assert.doesNotMatch(err, /ask for fewer/);
    });
    await check('fields of the wrong type: a valid answer, similarity a number (0 when it is none)', async () => {
      const got = await call(await at('badtypes'), 'nd_get_sonic_similar_tracks', { song: seed, count: 5 });
      assert.equal(got.matches.length, 5);
      assert.deepEqual(got.matches.map((m) => m.similarity), [0, 0.5, 0, 0, 0]);
      assert.deepEqual(got.matches.map((m) => m.song.name), ['A', '', 'C', 'D', 'E']);
      assert.equal(got.matches[0].song.duration, 0);
      assert.equal(got.matches[0].song.durationMs, 0);
    });
    await check('not JSON, a proxy\'s HTML page: errors naming what answered', async () => {
      assert.match(await callError(await at('notjson'), 'nd_get_sonic_similar_tracks', { song: seed, count: 1 }), /no sonicMatch/);
      const err = await callError(await at('html'), 'nd_get_sonic_similar_tracks', { song: seed, count: 1 });
      assert.match(err, /HTTP 502: not clapsearch's answer: <html>\?\?<head><title>502 Bad Gateway/);
    });
    await check('titles that are not UTF-8 and hold control characters: passed on as JSON Navidrome reads', async () => {
      const plugin = await at('bytes');
      const out = await plugin.call('nd_get_sonic_similar_tracks', JSON.stringify({ song: seed, count: 1 }));
      const got = JSON.parse(out.text());
      assert.equal(got.matches[0].song.name.slice(0, 3), 'caf');
      assert.ok(got.matches[0].song.name.endsWith('\u0007\n'));
    });
    await check('hostile pass 12: control characters, non-objects and numbers Go cannot hold: still JSON Navidrome reads', async () => {
      // Copied as they came, the raw line break made the whole output unreadable (JSON.parse and
      // Go's unmarshal refuse it); a null before a song dropped every song after it; 1e400 and
      // 1.5e3 (durationMs is an int) failed Go's unmarshal of the whole answer.
      const raw = await (await at('rawctl')).call('nd_get_sonic_similar_tracks', JSON.stringify({ song: seed, count: 1 }));
      const got = JSON.parse(raw.text());
      assert.equal(got.matches[0].song.name, 'a\nb\tc\u0001');
      assert.equal(got.matches[0].song.artist, 'x\ry');
      const after = await call(await at('nullfirst'), 'nd_get_sonic_similar_tracks', { song: seed, count: 5 });
      assert.deepEqual(after.matches.map((m) => m.song.name), ['after']);
      const big = await call(await at('bignum'), 'nd_get_sonic_similar_tracks', { song: seed, count: 1 });
      assert.deepEqual([big.matches[0].song.duration, big.matches[0].song.durationMs, big.matches[0].similarity], [0, 0, 0]);
    });
    await check('hostile pass 13: a server that ignores count: count songs given, as Navidrome takes every one', async () => {
      // 40,000 songs for 5: the similar-songs calls gave Navidrome all of them (an Instant Mix of
      // 40,000), the sonic call ran out of the plugin's memory writing them.
      const names = ['s0', 's1', 's2', 's3', 's4'];
      const sonic = await call(await at('manysmall'), 'nd_get_sonic_similar_tracks', { song: seed, count: 5 });
      assert.deepEqual(sonic.matches.map((m) => m.song.name), names);
      const mix = await call(await at('manysmall'), 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello', count: 5 });
      assert.deepEqual(mix.songs.map((s) => s.name), names);
      const path = await call(await at('manysmall'), 'nd_find_sonic_path', { startSong: seed, endSong: seed, count: 3 });
      assert.equal(path.matches.length, 3);
    });
    await check('hostile pass 14 (R14P-2): a count that is not a whole number above 0, with a server that ignores count: still bounded', async () => {
      // 0, -1 and "5" bounded nothing: Navidrome was handed all 40,000 songs, or the sonic call
      // ran out of the plugin's memory. 0 gives none (serve answers 0 with an empty list); what
      // is no whole number gives serve's default for the route (10; 25 for a path).
      const plugin = await at('manysmall');
      for (const count of [0, -1, '5', 2.5, null, undefined]) {
        const expected = count === 0 ? 0 : 10;
        const label = `count ${JSON.stringify(count)}`;
        assert.equal((await call(plugin, 'nd_get_sonic_similar_tracks', { song: seed, count })).matches.length, expected, label);
        assert.equal((await call(plugin, 'nd_get_similar_songs_by_track', { id: 'x', name: 'Hello', count })).songs.length, expected, label);
        assert.equal((await call(plugin, 'nd_get_similar_songs_by_artist', { id: 'a', name: 'Queen', count })).songs.length, expected, label);
        assert.equal((await call(plugin, 'nd_find_sonic_path', { startSong: seed, endSong: seed, count })).matches.length,
                     count === 0 ? 0 : 25, label);
      }
      // What serve is sent: the whole number as it is, nothing else (serve then uses its default).
      const echo = await at('echo');
      for (const [count, sent] of [[7, '7'], [-1, null], ['5', null], [2.5, null]]) {
        const got = await call(echo, 'nd_get_sonic_similar_tracks', { song: seed, count });
        assert.equal(new URLSearchParams(got.matches[0].song.name).get('count'), sent, JSON.stringify(count));
      }
    });
    await check('hostile pass 16: a baseUrl with a path (serve behind a proxy at /clapsearch/) keeps it', async () => {
      const plugin = await loadPlugin({ baseUrl: `${hostile.url}/echo/` });
      loaded.push(plugin);
      const got = await call(plugin, 'nd_get_sonic_similar_tracks', { song: seed, count: 2 });
      assert.ok(sent.at(-1).url.startsWith(`${hostile.url}/echo/api/sonic/getSonicSimilarTracks?`), sent.at(-1).url);
      assert.equal(new URLSearchParams(got.matches[0].song.name).get('count'), '2');
    });
    await check('odd characters and half surrogate pairs in names reach clapsearch as UTF-8, each escaped', async () => {
      const got = await call(await at('echo'), 'nd_get_sonic_similar_tracks',
                             { song: { name: 'A&count=999#x+y /?', artist: '\ud800lone \udc00too', album: 'ok\ud83c\udfb5' }, count: 'many' });
      const query = new URLSearchParams(got.matches[0].song.name);
      assert.equal(query.get('title'), 'A&count=999#x+y /?');
      assert.equal(query.get('artist'), '\ufffdlone \ufffdtoo');
      assert.equal(query.get('album'), 'ok\u{1f3b5}');
      assert.equal(query.get('count'), null, 'a count that is no number is not sent');
    });
    await check('hostile pass 9: a server that never answers: the call ends with an error before Navidrome\'s 30 s cut', async () => {
      // Every request the plugin sent asks http_send for a deadline under Navidrome's 30 s per call.
      assert.ok(sent.length > 0 && sent.every((r) => r.timeoutMs > 0 && r.timeoutMs <= 25000), JSON.stringify(sent.map((r) => r.timeoutMs)));
      const started = Date.now();
      const err = await callError(await at('hang'), 'nd_get_sonic_similar_tracks', { song: seed, count: 3 });
      const took = Date.now() - started;
      assert.match(err, /cannot reach clapsearch serve: .*(timed out|Timeout)/i);
      assert.ok(took < 30000, `the call took ${took} ms: Navidrome would have cut it`);
    });
    for (const plugin of loaded) await plugin.close();
  } finally {
    hostile.child.kill();
  }
} finally {
  open.child.kill();
  tokened.child.kill();
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} failed` : 'all passed');
process.exit(failures ? 1 : 0);
