// Hostile pass 16: npm subsonic-api 3.3.1 used as its README says (new SubsonicAPI({url, auth}),
// then the methods) against `clapsearch serve` on 127.0.0.1:PORT over make_lib.sh's fixture:
// names that are not UTF-8 (pink caf\xe9.ogg) and hold control characters, users that are not
// there (unknown, empty, a NUL, a line break, 10 KB), the apiKey form of auth the README shows,
// and a copy of the index put back under serve (docs/operations.md, Backup) between two calls.
// Copy into tests/subsonic (its node_modules) and run there:  node FILE PORT DB
import { SubsonicAPI } from 'subsonic-api';
import { copyFileSync, renameSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const [port, db] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}`;
const as = (username, password) => new SubsonicAPI({ url, auth: { username, password } });
const api = as('u', 'pw-123456');
async function c(name, f) {
  let line;
  try {
    const r = await f();
    line = JSON.stringify(r, (k, v) => (k === 'openSubsonic' || k === 'serverVersion' || k === 'type' ? undefined : v)).slice(0, 260);
  } catch (e) {
    line = 'THROWS ' + String(e.message || e).slice(0, 200);
  }
  console.log(name + ': ' + line);
}

const found = await api.search3({ query: '', songCount: 50 });
const songs = found.searchResult3.song;
const latin = songs.find((s) => s.path && s.path.startsWith('pink'));
console.log(`songs ${songs.length}; the Latin-1 file: ${JSON.stringify(latin && { path: latin.path, title: latin.title })}`);
if (latin) {
  await c('getSong of the Latin-1 file', async () => (await api.getSong({ id: latin.id })).song.path);
  await c('stream of the Latin-1 file (bytes)', async () => (await (await api.stream({ id: latin.id })).arrayBuffer()).byteLength);
  await c('search3 for "caf"', async () => (await api.search3({ query: 'caf' })).searchResult3);
  await c('star + getStarred2 of the Latin-1 file', async () => { await api.star({ id: latin.id }); return (await api.getStarred2()).starred2.song?.map((s) => s.path); });
  await c('createPlaylist with it, name with controls', async () => await api.createPlaylist({ name: 'mix\u0007\u001b[2J\tone', songId: latin.id }));
  await c('getPlaylists', async () => (await api.getPlaylists()).playlists.playlist?.map((p) => p.name));
}
const pings = [];
for (const [label, username, password] of [['unknown user', 'nobody', 'x'], ['empty user', '', 'x'], ['user with NUL', 'u\u0000', 'pw-123456'],
  ['user with a line break', 'u\nX-Evil: 1', 'pw-123456'], ['user of 10 KB', 'u'.repeat(10000), 'x'], ['password of 10 KB', 'u', 'p'.repeat(10000)],
  ['user with an escape', 'u\u001b[2J', 'pw-123456']]) {
  await c(`ping as ${label}`, async () => (await as(username, password).ping()).status);
}
await c('apiKey auth (README form) with a made-up key', async () => (await new SubsonicAPI({ url, auth: { apiKey: 'made-up' } }).ping()).status);
await c('createUser of a name with a line break (admin call as u)', async () => (await api.createUser({ username: 'x\ny', password: 'p', email: 'a@b' })).status);

// A copy put back under serve: stars made after the copy was taken are the copy's loss (the
// copy is the user's choice); what is asked is that serve answers from the copy at once, and
// that a star acknowledged after the copy is put back is in the file.
const before = (await api.getStarred2()).starred2.song?.length ?? 0;
execFileSync('sqlite3', [db, `.backup '${db}.copy'`]);
await api.star({ id: songs[0].id });
await api.star({ id: songs[1].id });
renameSync(`${db}.copy`, db);
await c('getStarred2 right after the copy is put back (the copy had ' + before + ')', async () => { const r = await api.getStarred2(); return r.starred2 ? r.starred2.song?.length ?? 0 : r; });
await c('getStarred2 again', async () => { const r = await api.getStarred2(); return r.starred2 ? r.starred2.song?.length ?? 0 : r; });
await c('star after the copy is put back', async () => await api.star({ id: songs[2].id }));
console.log('in the file at the name: ' + execFileSync('sqlite3', [db, 'select count(*) from stars']).toString().trim() + ' stars');
