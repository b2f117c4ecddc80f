// Hostile pass 11 (server): OpenSubsonic answers over a hostile library (markup and `../` in tags,
// an album named "../../etc", untagged files, 30 copies of one song, a user with 10,000
// playlists) validated against the spec's schemas that tests/subsonic uses (schemas.mjs, ajv
// from its node_modules: `npm ci` there first). Prints each answer that does not follow the spec.
// Usage: node bench/hostile11s/conform.mjs URL USER PASSWORD
import Ajv from "../../tests/subsonic/node_modules/ajv/dist/ajv.js";
import addFormats from "../../tests/subsonic/node_modules/ajv-formats/dist/index.js";
import { endpoint, failure, ref, arrayOf } from "../../tests/subsonic/schemas.mjs";
const [url, user, password] = process.argv.slice(2);
const ajv = new (Ajv.default ?? Ajv)({ allErrors: true, strict: false });
(addFormats.default ?? addFormats)(ajv);
let n = 0, bad = 0;
async function get(name, params = {}) {
  const q = new URLSearchParams({ u: user, p: password, v: "1.16.1", c: "h11", f: "json" });
  for (const [k, v] of Object.entries(params)) for (const one of [].concat(v)) q.append(k, one);
  const r = await fetch(`${url}/rest/${name}?${q}`);
  return JSON.parse(await r.text());
}
async function check(name, params, members) {
  const body = await get(name, params);
  const failed = body["subsonic-response"]?.status === "failed";
  const v = ajv.compile(failed ? failure : endpoint(members));
  n++;
  if (!v(body)) bad++, console.log(`NOT SPEC ${name} ${JSON.stringify(params)}: ${ajv.errorsText(v.errors).slice(0, 300)}`);
  return body["subsonic-response"];
}
const tracks = (await (await fetch(`${url}/api/tracks?limit=1000`)).json()).tracks.map((t) => String(t.track_id));
const artists = (await check("getArtists", {}, { artists: ref("ArtistsID3") })).artists.index.flatMap((i) => i.artist);
const indexes = (await check("getIndexes", {}, { indexes: ref("Indexes") })).indexes.index.flatMap((i) => i.artist);
const albums = (await check("getAlbumList2", { type: "alphabeticalByName", size: 500 }, { albumList2: ref("AlbumList2") })).albumList2.album;
for (const id of tracks) {
  await check("getSong", { id }, { song: ref("Child") });
  await check("getSimilarSongs", { id, count: 5 }, { similarSongs: ref("SimilarSongs") });
  await check("getSimilarSongs2", { id, count: 5 }, { similarSongs2: ref("SimilarSongs2") });
  await check("getSonicSimilarTracks", { id, count: 5 }, { sonicMatch: arrayOf("SonicMatch") });
  await check("getLyricsBySongId", { id }, { lyricsList: ref("LyricsList") });
}
for (const a of artists) {
  await check("getArtist", { id: a.id }, { artist: ref("ArtistWithAlbumsID3") });
  await check("getArtistInfo2", { id: a.id }, { artistInfo2: ref("ArtistInfo2") });
  await check("getTopSongs", { artist: a.name, count: 50 }, { topSongs: ref("TopSongs") });
  await check("getSimilarSongs2", { id: a.id, count: 10 }, { similarSongs2: ref("SimilarSongs2") });
  await check("search3", { query: a.name }, { searchResult3: ref("SearchResult3") });
}
for (const f of indexes) {
  await check("getMusicDirectory", { id: f.id }, { directory: ref("Directory") });
  await check("getSimilarSongs", { id: f.id, count: 10 }, { similarSongs: ref("SimilarSongs") });
  await check("getArtistInfo", { id: f.id }, { artistInfo: ref("ArtistInfo") });
}
for (const a of albums) {
  await check("getAlbum", { id: a.id }, { album: ref("AlbumID3WithSongs") });
  await check("getAlbumInfo2", { id: a.id }, { albumInfo: ref("AlbumInfo") });
  await check("getSimilarSongs", { id: a.id, count: 10 }, { similarSongs: ref("SimilarSongs") });
}
for (const type of ["random", "newest", "highest", "frequent", "recent", "alphabeticalByName", "alphabeticalByArtist", "starred"])
  await check("getAlbumList", { type, size: 500 }, { albumList: ref("AlbumList") });
for (const [name, params, members] of [
  ["getGenres", {}, { genres: ref("Genres") }], ["getSongsByGenre", { genre: "Jazz;Pop" }, { songsByGenre: ref("Songs") }],
  ["getSongsByGenre", { genre: "'-alert(4)-'" }, { songsByGenre: ref("Songs") }], ["getRandomSongs", { size: 500 }, { randomSongs: ref("Songs") }],
  ["search2", { query: "" }, { searchResult2: ref("SearchResult2") }], ["search3", { query: "", songCount: 500 }, { searchResult3: ref("SearchResult3") }],
  ["search3", { query: "<script>" }, { searchResult3: ref("SearchResult3") }], ["getMusicFolders", {}, { musicFolders: ref("MusicFolders") }],
  ["getScanStatus", {}, { scanStatus: ref("ScanStatus") }], ["getUser", { username: user }, { user: ref("User") }],
  ["getOpenSubsonicExtensions", {}, { openSubsonicExtensions: arrayOf("OpenSubsonicExtension") }],
  ["findSonicPath", { startSongId: tracks[0], endSongId: tracks[tracks.length - 1], count: 10 }, { sonicMatch: arrayOf("SonicMatch") }],
  ["getLyrics", { artist: "<img src=x onerror=alert(2)>", title: "<script>alert(1)</script>" }, { lyrics: ref("Lyrics") }],
]) await check(name, params, members);
console.log(`${n} answers validated, ${bad} not as the spec says`);
