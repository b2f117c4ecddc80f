// The browse, list and search endpoints (issue 54), through the real client's own methods for
// the semantics and call() for the whole envelope, validated against the spec's schemas: the
// folder view, the ID3 view, every album list type, random songs, songs by genre, search2/3 (a
// phone's offline sync: an empty query paged through every song), top songs, artist and album
// info, the scan (a new file found, a deleted one forgotten), the error codes 10 and 70, one XML
// answer, and ids that stay the same across a re-index, a scan and a server restart.
//
// The library (run.sh): Sine Ensemble - Tones (2019, Ambient: Concert A, High Whistle) and
// Overtones (2021, Drone: Fifth); Noise Collective - Weather (2020, Noise: Pink Rain, and Brown
// Thunder in Disc 2/).
import { spawn, execFileSync } from "node:child_process";
import { unlinkSync } from "node:fs";
import { createInterface } from "node:readline";
import { SubsonicAPI } from "subsonic-api";
import { check, validate, client, raw, call, done, env, xmlOnce, runCli } from "./lib.mjs";
import { ref } from "./schemas.mjs";

const api = client();
const members = {
  getMusicFolders: { musicFolders: ref("MusicFolders") },
  getIndexes: { indexes: ref("Indexes") },
  getMusicDirectory: { directory: ref("Directory") },
  getArtists: { artists: ref("ArtistsID3") },
  getArtist: { artist: ref("ArtistWithAlbumsID3") },
  getAlbum: { album: ref("AlbumID3WithSongs") },
  getSong: { song: ref("Child") },
  getGenres: { genres: ref("Genres") },
  getAlbumList: { albumList: ref("AlbumList") },
  getAlbumList2: { albumList2: ref("AlbumList2") },
  getRandomSongs: { randomSongs: ref("Songs") },
  getSongsByGenre: { songsByGenre: ref("Songs") },
  search2: { searchResult2: ref("SearchResult2") },
  search3: { searchResult3: ref("SearchResult3") },
  getTopSongs: { topSongs: ref("TopSongs") },
  getArtistInfo: { artistInfo: ref("ArtistInfo") },
  getArtistInfo2: { artistInfo2: ref("ArtistInfo2") },
  getAlbumInfo: { albumInfo: ref("AlbumInfo") },
  getAlbumInfo2: { albumInfo: ref("AlbumInfo") },
  getScanStatus: { scanStatus: ref("ScanStatus") },
  startScan: { scanStatus: ref("ScanStatus") },
};

// The whole envelope of NAME with `params`, validated; returns the inner subsonic-response.
async function ok(name, params = {}, on = api) {
  const r = await call(on, `${name}.view`, params);
  validate(`${name} ${JSON.stringify(params)}`, r.body, members[name]);
  return r.body["subsonic-response"];
}
// A failure with the spec's code, its envelope validated.
async function fails(name, params, code) {
  const r = await call(api, `${name}.view`, params);
  validate(`${name} ${JSON.stringify(params)} (failure)`, r.body);
  const got = r.body["subsonic-response"]?.error?.code;
  check(got === code, `${name} ${JSON.stringify(params)} fails with code ${code} (got ${JSON.stringify(r.body).slice(0, 300)})`);
}
const same = (a, b, what) => check(JSON.stringify(a) === JSON.stringify(b), `${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
const titles = (songs) => (songs ?? []).map((s) => s.title);
const names = (albums) => (albums ?? []).map((a) => a.name ?? a.title);

// --- music folders and the folder view
const folders = (await ok("getMusicFolders")).musicFolders.musicFolder;
check(folders.length === 1 && Number.isInteger(folders[0].id) && folders[0].name === "music", `one music folder, an integer id: ${JSON.stringify(folders)}`);
const folderId = folders[0].id;
same((await api.getMusicFolders()).musicFolders.musicFolder, folders, "getMusicFolders through the client");

const indexes = (await ok("getIndexes")).indexes;
same(indexes.index.map((i) => [i.name, i.artist.map((a) => a.name)]), [["N", ["Noise Collective"]], ["S", ["Sine Ensemble"]]], "getIndexes: the top folders by letter");
check(Number.isInteger(indexes.lastModified) && indexes.lastModified > 1e12, `getIndexes lastModified is in milliseconds: ${indexes.lastModified}`);
const unchanged = (await ok("getIndexes", { ifModifiedSince: indexes.lastModified })).indexes;
check(unchanged.index === undefined, `getIndexes with ifModifiedSince = lastModified lists nothing: ${JSON.stringify(unchanged)}`);
same((await api.getIndexes({ musicFolderId: String(folderId) })).indexes.index.length, 2, "getIndexes of the one music folder");
await fails("getIndexes", { musicFolderId: "12345" }, 70);

const sineFolder = indexes.index[1].artist[0].id;
const sineDir = (await ok("getMusicDirectory", { id: sineFolder })).directory;
same(sineDir.child.map((c) => [c.title, c.isDir]), [["Overtones", true], ["Tones", true]], "getMusicDirectory of Sine Ensemble/");
const tonesDir = (await api.getMusicDirectory({ id: sineDir.child[1].id })).directory;
same(titles(tonesDir.child), ["Concert A", "High Whistle"], "getMusicDirectory of Sine Ensemble/Tones through the client");
check(tonesDir.parent === sineFolder, "a folder's parent is the folder above");
await fails("getMusicDirectory", {}, 10);
await fails("getMusicDirectory", { id: "fo-0000000000000000" }, 70);

// --- the ID3 view
const artistsAnswer = (await ok("getArtists")).artists;
same(artistsAnswer.index.map((i) => [i.name, i.artist.map((a) => [a.name, a.albumCount])]),
  [["N", [["Noise Collective", 1]]], ["S", [["Sine Ensemble", 2]]]], "getArtists");
check(typeof artistsAnswer.ignoredArticles === "string", "getArtists names its ignored articles");
same((await api.getArtists({ musicFolderId: String(folderId) })).artists.index.length, 2, "getArtists of the one music folder");
await fails("getArtists", { musicFolderId: "12345" }, 70);
await fails("getArtists", { musicFolderId: "many" }, 70);  // ids are opaque strings: one never issued is not found (R7S-4)
await fails("getArtists", { musicFolderId: "0" + String(folderId) }, 70);
const [noiseId, sineId] = artistsAnswer.index.map((i) => i.artist[0].id);

const sine = (await ok("getArtist", { id: sineId })).artist;
same(names(sine.album), ["Overtones", "Tones"], "getArtist: its albums by name");
same(names((await api.getArtist({ id: sineId })).artist.album), ["Overtones", "Tones"], "getArtist through the client");
await fails("getArtist", {}, 10);
await fails("getArtist", { id: "ar-0000000000000000" }, 70);

const tonesId = sine.album.find((a) => a.name === "Tones").id;
const tones = (await ok("getAlbum", { id: tonesId })).album;
same([tones.songCount, tones.year, tones.genre, titles(tones.song)], [2, 2019, "Ambient", ["Concert A", "High Whistle"]], "getAlbum");
same(titles((await api.getAlbum({ id: tonesId })).album.song), ["Concert A", "High Whistle"], "getAlbum through the client");
await fails("getAlbum", {}, 10);
await fails("getAlbum", { id: "al-0000000000000000" }, 70);

const whistle = tones.song[1];
same((await ok("getSong", { id: whistle.id })).song, whistle, "getSong answers the album's Child");
check((await api.getSong({ id: whistle.id })).song.title === "High Whistle", "getSong through the client");
await fails("getSong", {}, 10);
await fails("getSong", { id: "999999" }, 70);
await fails("getSong", { id: "not-a-song" }, 70);

same((await ok("getGenres")).genres.genre.map((g) => [g.value, g.songCount, g.albumCount]),
  [["Ambient", 2, 1], ["Drone", 1, 1], ["Noise", 2, 1]], "getGenres");
check((await api.getGenres()).genres.genre.length === 3, "getGenres through the client");

// --- album lists, every type
const list2 = async (params) => names((await ok("getAlbumList2", params)).albumList2.album);
same(await list2({ type: "alphabeticalByName" }), ["Overtones", "Tones", "Weather"], "alphabeticalByName");
same(await list2({ type: "alphabeticalByArtist" }), ["Weather", "Tones", "Overtones"], "alphabeticalByArtist (then year)");
same(await list2({ type: "alphabeticalByName", size: 1, offset: 1 }), ["Tones"], "size and offset page a list");
same(await list2({ type: "alphabeticalByName", size: 1000 }), ["Overtones", "Tones", "Weather"], "a size over 500 is cut to 500, not refused");
same((await list2({ type: "newest" })).length, 3, "newest");
same(await list2({ type: "byYear", fromYear: 2019, toYear: 2020 }), ["Tones", "Weather"], "byYear");
same(await list2({ type: "byYear", fromYear: 2021, toYear: 2019 }), ["Overtones", "Weather", "Tones"], "byYear with fromYear > toYear: newest first");
same(await list2({ type: "byGenre", genre: "Noise" }), ["Weather"], "byGenre");
same(await list2({ type: "byGenre", genre: "Polka" }), [], "byGenre of a genre no song has");
same(await list2({ type: "alphabeticalByName", musicFolderId: folderId }), ["Overtones", "Tones", "Weather"], "musicFolderId");
const random = await list2({ type: "random", size: 10 });
same([...random].sort(), ["Overtones", "Tones", "Weather"], "random: every album once");
for (const type of ["highest", "frequent", "recent", "starred"])
  same(await list2({ type }), [], `${type}: no ratings, plays or stars yet`);  // marked by the admin below
same(names((await api.getAlbumList2({ type: "alphabeticalByName" })).albumList2.album), ["Overtones", "Tones", "Weather"], "getAlbumList2 through the client");
await fails("getAlbumList2", {}, 10);
await fails("getAlbumList2", { type: "byYear", toYear: 2020 }, 10);
await fails("getAlbumList2", { type: "byGenre" }, 10);
await fails("getAlbumList2", { type: "loudest" }, 10);
await fails("getAlbumList2", { type: "newest", musicFolderId: 12345 }, 70);

const list1 = (await ok("getAlbumList", { type: "alphabeticalByArtist" })).albumList.album;
same(list1.map((a) => [a.title, a.isDir, a.artist]), [["Weather", true, "Noise Collective"], ["Tones", true, "Sine Ensemble"], ["Overtones", true, "Sine Ensemble"]], "getAlbumList: albums as directories");
same(titles((await ok("getMusicDirectory", { id: list1[0].id })).directory.child), ["Pink Rain", "Brown Thunder"], "getMusicDirectory opens an album of getAlbumList");
same(names((await ok("getMusicDirectory", { id: sineId })).directory.child), ["Overtones", "Tones"], "getMusicDirectory opens an artist");
for (const type of ["random", "newest", "highest", "frequent", "recent", "starred", "alphabeticalByName"])
  await ok("getAlbumList", { type });
check((await api.getAlbumList({ type: "newest" })).albumList.album.length === 3, "getAlbumList through the client");

// --- songs
const randomSongs = (await ok("getRandomSongs", { size: 3 })).randomSongs.song;
check(randomSongs.length === 3 && new Set(randomSongs.map((s) => s.id)).size === 3, `getRandomSongs: 3 different songs: ${titles(randomSongs)}`);
same(titles((await api.getRandomSongs({ size: 50, genre: "Ambient" })).randomSongs.song).sort(), ["Concert A", "High Whistle"], "getRandomSongs by genre");
same(titles((await ok("getRandomSongs", { size: 50, fromYear: 2021 })).randomSongs.song), ["Fifth"], "getRandomSongs from a year");
same(titles((await ok("getRandomSongs", { size: 50, toYear: 2019, musicFolderId: folderId })).randomSongs.song).sort(), ["Concert A", "High Whistle"], "getRandomSongs to a year, in a folder");
same(titles((await ok("getRandomSongs", { size: 0 })).randomSongs.song), [], "getRandomSongs size 0");

same(titles((await ok("getSongsByGenre", { genre: "Noise" })).songsByGenre.song), ["Pink Rain", "Brown Thunder"], "getSongsByGenre");
same(titles((await api.getSongsByGenre({ genre: "Noise", count: 1, offset: 1 })).songsByGenre.song), ["Brown Thunder"], "getSongsByGenre paged, through the client");
await fails("getSongsByGenre", {}, 10);

// --- search: the spec's tag search over artist, album and title
const s3 = async (params) => (await ok("search3", params)).searchResult3;
{
  const r = await s3({ query: "sine" });
  same([names(r.artist), names(r.album), titles(r.song)], [["Sine Ensemble"], ["Overtones", "Tones"], ["Concert A", "High Whistle", "Fifth"]], "search3 sine");
  same(titles((await s3({ query: "whistle" })).song), ["High Whistle"], "search3 by title");
  same(titles((await s3({ query: "WEATHER thunder" })).song), ["Brown Thunder"], "search3: every word, any case");
  same(titles((await s3({ query: "nsemble" })).song), [], "search3 matches words from their start");
  same(titles((await api.search3({ query: "pink" })).searchResult3.song), ["Pink Rain"], "search3 through the client");
}
// A phone's offline sync: the empty query, paged 2 at a time, reaches every song exactly once.
for (const empty of ["", '""']) {
  const seen = [];
  for (let offset = 0; offset < 20; offset += 2) {
    const page = (await s3({ query: empty, songCount: 2, songOffset: offset, artistCount: 0, albumCount: 0 }));
    check(page.artist.length === 0 && page.album.length === 0, "artistCount/albumCount 0 list none");
    if (page.song.length === 0) break;
    seen.push(...page.song.map((s) => s.id));
  }
  check(seen.length === 5 && new Set(seen).size === 5, `an empty query (${empty || "nothing"}) paged reaches the 5 songs once each: ${seen}`);
  const everything = await s3({ query: empty, musicFolderId: folderId });
  same([everything.artist.length, everything.album.length, everything.song.length], [2, 3, 5], `search3 ${empty || "(empty)"} lists everything`);
  same(names((await s3({ query: empty, artistCount: 1, artistOffset: 1 })).artist), ["Sine Ensemble"], "artistOffset");
  same(names((await s3({ query: empty, albumCount: 1, albumOffset: 2 })).album), ["Weather"], "albumOffset");
}
await fails("search3", {}, 10);
await fails("search3", { query: "", musicFolderId: 12345 }, 70);
{
  const r = (await ok("search2", { query: "noise" })).searchResult2;
  same([r.artist.map((a) => a.name), r.album.map((a) => [a.title, a.isDir]), titles(r.song)],
    [["Noise Collective"], [["Weather", true]], ["Pink Rain", "Brown Thunder"]], "search2 noise");
  same((await api.search2({ query: "" })).searchResult2.song.length, 5, "search2 empty query through the client");
  await fails("search2", {}, 10);
}

// --- top songs, artist and album info
same(titles((await ok("getTopSongs", { artist: "Sine Ensemble" })).topSongs.song), ["Concert A", "High Whistle", "Fifth"], "getTopSongs by name: album by album (year), by track");
same(titles((await api.getTopSongs({ id: sineId, count: 2 })).topSongs.song), ["Concert A", "High Whistle"], "getTopSongs by id (topSongsByArtistId), count");
same(titles((await ok("getTopSongs", { artist: "Nobody Here" })).topSongs.song), [], "getTopSongs of a name no artist has");
await fails("getTopSongs", {}, 10);
await fails("getTopSongs", { id: "ar-0000000000000000" }, 70);

for (const [name, key] of [["getArtistInfo", "artistInfo"], ["getArtistInfo2", "artistInfo2"]]) {
  const info = (await ok(name, { id: sineId }))[key];
  same(info.similarArtist.map((a) => [a.id, a.name]), [[noiseId, "Noise Collective"]], `${name}: the other artist, from the audio`);
  same(info.biography, "", `${name}: no biography`);
  same((await ok(name, { id: sineId, count: 0 }))[key].similarArtist, [], `${name} count 0`);
  await fails(name, {}, 10);
  await fails(name, { id: "ar-0000000000000000" }, 70);
}
check((await api.getArtistInfo2({ id: noiseId })).artistInfo2.similarArtist[0].name === "Sine Ensemble", "getArtistInfo2 through the client");
check((await api.getArtistInfo({ id: noiseId })).artistInfo.similarArtist.length === 1, "getArtistInfo through the client");
for (const name of ["getAlbumInfo", "getAlbumInfo2"]) {
  same((await ok(name, { id: tonesId })).albumInfo.notes, "", `${name}: no notes`);
  await ok(name, { id: whistle.id });  // a song's album
  await fails(name, {}, 10);
  await fails(name, { id: "al-0000000000000000" }, 70);
}
check((await api.getAlbumInfo({ id: tonesId })).status === "ok" && (await api.getAlbumInfo2({ id: tonesId })).status === "ok", "getAlbumInfo(2) through the client");

// --- one XML answer: the spec's namespace, the same members as attributes and elements
{
  const r = await raw("getArtists.view", { u: env.user, p: env.password, v: "1.16.1", c: "test" });
  check(r.type.startsWith("application/xml"), `XML by default: ${r.type}`);
  check(/<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="ok"/.test(r.text), `XML in the spec's namespace: ${r.text.slice(0, 200)}`);
  check(/<artists ignoredArticles="[^"]*"><index name="N"><artist id="ar-[0-9a-f]{16}" name="Noise Collective"/.test(r.text), `getArtists as XML: ${r.text.slice(0, 400)}`);
}

// --- ids: the same after a re-index, a scan, and a restart of the server
async function snapshotIds(on) {
  const all = (await ok("search3", { query: "", artistCount: 500, albumCount: 500, songCount: 500 }, on)).searchResult3;
  const f = (await ok("getIndexes", {}, on)).indexes.index.flatMap((i) => i.artist.map((a) => a.id));
  const mf = (await ok("getMusicFolders", {}, on)).musicFolders.musicFolder.map((m) => m.id);
  return JSON.stringify({ artists: all.artist.map((a) => a.id), albums: all.album.map((a) => a.id), songs: all.song.map((s) => s.id), f, mf });
}
const before = await snapshotIds(api);
async function waitForScan() {
  for (let i = 0; i < 600; i++) {
    const status = (await ok("getScanStatus")).scanStatus;
    if (!status.scanning) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}
// startScan is for admins (subsonic_browse.cpp: start_scan): the harness's user is not one and
// gets 50; an admin made here as the docs tell (clapsearch user add --admin) scans.
{
  const refused = await call(api, "startScan.view");
  validate("startScan by a non-admin", refused.body);
  const answer = refused.body["subsonic-response"];
  check(answer.error?.code === 50, `startScan by a user who is not an admin (run.sh adds alice without --admin) is code 50: ${JSON.stringify(answer)}`);
  if (answer.status === "ok") await waitForScan();
}
const adminPassword = `scan ${Math.random()}`;
await runCli(["user", "add", "browse-admin", "--admin", "--db", env.db], `${adminPassword}\n`);
const admin = client({ user: "browse-admin", password: adminPassword });
// startScan by the admin: the scan's answer, then its status once it ended and the server
// refreshed its snapshot.
// how: "custom" (the whole envelope, validated), "method" (the client's startScan) or "xml" (its
// XML form, which xmlChecked does not ask of an endpoint that changes something).
async function scan(how = "custom") {
  if (how === "xml") {
    const root = await xmlOnce(admin, "startScan");
    const status = root?.children.find((c) => c.name === "scanStatus");
    check(status?.attributes.scanning === "true" && /^\d+$/.test(status.attributes.count ?? ""), `startScan as XML: <scanStatus scanning="true" count=...>: ${JSON.stringify(root)}`);
  } else {
    const started = how === "method" ? { body: { "subsonic-response": await admin.startScan({}) } } : await call(admin, "startScan.view");
    validate("startScan", started.body, members.startScan);
    check(started.body["subsonic-response"].scanStatus?.scanning === true, `startScan answers scanning: ${JSON.stringify(started.body)}`);
  }
  check(await waitForScan() !== null, "the scan ends");
  await new Promise((r) => setTimeout(r, 1500));  // the server's refresh of its snapshot (refresh_ms 1000)
  return (await admin.getScanStatus()).scanStatus;
}
const status = (await api.getScanStatus()).scanStatus;
same([status.scanning, status.count], [false, 5], "getScanStatus before a scan: the library's songs");
same((await scan()).count, 5, "after a scan of an unchanged library: still 5 songs");
await runCli(["index", env.music, "--db", env.db, "--quiet"]);
await new Promise((r) => setTimeout(r, 1500));  // the server's refresh of its snapshot (refresh_ms 1000)
same(await snapshotIds(api), before, "ids after a re-index");

// A second server on the same index (a restart): the same ids.
{
  const server = spawn(env.cli, ["serve", "--db", env.db, "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the second server did not start in 60 s")), 60000);
      createInterface({ input: server.stdout }).on("line", (line) => {
        const m = /^clapsearch serve: listening on (http:\/\/\S+)/.exec(line);
        if (m) clearTimeout(timer), resolve(m[1]);
      });
      server.on("exit", () => reject(new Error("the second server exited")));
    });
    const other = new SubsonicAPI({ url, auth: { username: env.user, password: env.password } });
    same(await snapshotIds(other), before, "ids after a restart");
  } finally {
    server.kill("SIGTERM");
  }
}
// A scan finds a new file (and, the file deleted, a second scan forgets it): the library is left
// as it was for the other tests.
{
  const added = `${env.music}/Sine Ensemble/Tones/03 Scanned Hum.mp3`;
  execFileSync("ffmpeg", ["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=220:d=6:sample_rate=44100",
    "-metadata", "title=Scanned Hum", "-metadata", "artist=Sine Ensemble", "-metadata", "album=Tones", "-metadata", "track=3", added]);
  try {
    same((await scan("xml")).count, 6, "a scan (asked as XML) indexes a new file");
    same(titles((await s3({ query: "scanned hum" })).song), ["Scanned Hum"], "the scanned song is found");
  } finally {
    unlinkSync(added);
  }
  same((await scan("method")).count, 5, "a scan (through the client's startScan) after the file is deleted forgets it");
  same(await snapshotIds(api), before, "ids after the scans");
}
// The lists of a user's own marks: starred, highest (album ratings), frequent and recent (plays).
// Made by the admin, whose removal below takes them along (the other tests see none).
{
  const admin2 = async (params) => names((await ok("getAlbumList2", params, admin)).albumList2.album);
  const weatherId = (await admin.getAlbumList2({ type: "alphabeticalByName" })).albumList2.album.find((a) => a.name === "Weather").id;
  await admin.star({ albumId: tonesId });
  await new Promise((r) => setTimeout(r, 1100));  // star times are whole seconds
  await admin.star({ albumId: weatherId });
  same(await admin2({ type: "starred" }), ["Weather", "Tones"], "starred: the user's starred albums, newest star first");
  same(await list2({ type: "starred" }), [], "starred: another user's stars are not mine");
  await admin.setRating({ id: weatherId, rating: 2 });
  await admin.setRating({ id: tonesId, rating: 5 });
  same(await admin2({ type: "highest" }), ["Tones", "Weather"], "highest: by the user's album rating");
  const pink = (await s3({ query: "pink rain" })).song[0];
  const scrobble = (id, time) => admin.scrobble({ id, submission: true, time });
  await scrobble(whistle.id, Date.now() - 60000);
  await scrobble(pink.id, Date.now() - 30000);
  await scrobble(pink.id, Date.now() - 20000);
  await scrobble(whistle.id, Date.now() - 40000);
  await scrobble(whistle.id, Date.now() - 50000);
  same(await admin2({ type: "frequent" }), ["Tones", "Weather"], "frequent: by the user's plays per album");
  same(await admin2({ type: "recent" }), ["Weather", "Tones"], "recent: by the user's latest play");
  same(await admin2({ type: "recent", size: 1, offset: 1 }), ["Tones"], "recent paged");
  same(await list2({ type: "frequent" }), [], "frequent: another user's plays are not mine");
}
await runCli(["user", "remove", "browse-admin", "--db", env.db]);
done("browse");
