// Hostile pass 13: npm subsonic-api 3.3.1 (tests/subsonic's lockfile) used as its README says,
// against serve on 127.0.0.1:PORT (copy into tests/subsonic and run there: node FILE PORT, after
// `npm ci`; a user u with the password pw-123456): what pass 12 left (H12P-9, a request line over 8 KB) now, and
// new: getPlaylist of an id of 10 KB, a search3 with NUL, scrobble of a submission in the future,
// an unknown method, setRating out of range, star of 3,000 ids by POST.
import { SubsonicAPI } from 'subsonic-api';
const port = process.argv[2];
const api = new SubsonicAPI({ url: `http://127.0.0.1:${port}`, auth: { username: 'u', password: 'pw-123456' } });
const post = new SubsonicAPI({ url: `http://127.0.0.1:${port}`, auth: { username: 'u', password: 'pw-123456' }, post: true });
async function c(name, f) {
  let line;
  try { const r = await f(); line = JSON.stringify(r).slice(0, 220); } catch (e) { line = 'THROWS ' + String(e.message || e).slice(0, 200); }
  console.log(name + ': ' + line);
}
const songs = (await api.search3({ query: '', songCount: 20 })).searchResult3.song.map((s) => s.id);
const ids = Array.from({ length: 1500 }, (_, i) => songs[i % songs.length]);
await c('createPlaylist of 1,500 ids by GET (H12P-9)', () => api.createPlaylist({ name: 'big', songId: ids }));
await c('createPlaylist of 1,500 ids by POST', async () => { const r = await post.createPlaylist({ name: 'bigpost', songId: ids }); return [r.status, r.playlist?.songCount]; });
await c('search3 10 KB by GET (H12P-9)', () => api.search3({ query: 'x'.repeat(10000) }));
await c('getPlaylist id of 10 KB', () => api.getPlaylist({ id: '9'.repeat(10000) }));
await c('search3 with a NUL', () => api.search3({ query: 'a\u0000b' }));
await c('scrobble time far in the future', () => api.scrobble({ id: songs[0], time: 9e15 }));
await c('scrobble time negative', () => api.scrobble({ id: songs[0], time: -5 }));
await c('setRating 6', () => api.setRating({ id: songs[0], rating: 6 }));
await c('setRating -1', () => api.setRating({ id: songs[0], rating: -1 }));
await c('star of 3,000 ids by POST', async () => { const r = await post.star({ id: Array.from({ length: 3000 }, (_, i) => songs[i % songs.length]) }); return r.status; });
await c('getStarred2 after', async () => (await api.getStarred2()).starred2.song?.length);
await c('getSimilarSongs2 count 1e9', async () => (await api.getSimilarSongs2({ id: songs[0], count: 1e9 })).similarSongs2?.song?.length);
await c('getRandomSongs size -5', () => api.getRandomSongs({ size: -5 }));
await c('getLyricsBySongId unknown', () => api.getLyricsBySongId({ id: 'nope' }));
