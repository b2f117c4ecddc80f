// What a user keeps survives a re-index after files move and a folder is renamed, and then
// `index --rebuild`, seen through /rest/ with the real client (issue 54: "a re-index and a move
// that keep ids, stars, plays and playlists"): the song, album and artist ids, the stars of each,
// the song's rating and play count, the playlist's entries in their order, the play queue (its
// songs, the one playing, the position) and the bookmark; then `clapsearch migrate` copies the index
// to a new SQLite file (from SQLite, or from PostgreSQL with run.sh --postgres) and a second server
// on the copy shows the same to the same password and API key. run.sh runs this
// file last (it moves files of the shared library) on both stores.
import { execFile, execFileSync, spawn } from "node:child_process";
import { promisify } from "node:util";
import { renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { SubsonicAPI } from "subsonic-api";
import { check, client, call, done, env, fetchRetrying } from "./lib.mjs";

const api = client();
// For polling while the server picks up a changed library: no XML re-ask, whose second request
// may see a newer library than the first (what it checks is then asked again through `api`).
const poller = client({ xml: false });
const rest = async (name, params = {}, via = api) => {
  const body = (await call(via, name, params)).body["subsonic-response"];
  check(body.status === "ok", `${name} ${JSON.stringify(params)}: ok (${JSON.stringify(body).slice(0, 300)})`);
  return body;
};
const songNamed = async (title) => (await rest("search3", { query: title, artistCount: 0, albumCount: 0 })).searchResult3.song?.find((s) => s.title === title);
// Run without blocking the event loop: the client's idle keep-alive connections that the server
// closes meanwhile are seen closed, not reused (a blocked loop reused one: "other side closed").
const index = (...extra) => promisify(execFile)(env.cli, ["index", env.music, "--db", env.db, "--quiet", ...extra]);

// The server reloads the index on its own schedule, and an index run writes in several steps: a
// server may show the moved path while a later step of the same run is still to be loaded (CI saw
// getArtist's album `created` change between its JSON and its XML). So after each run, wait until
// the server serves the generation the index holds now that the run has ended.
const storeGeneration = () => {
  const sql = "SELECT value FROM meta WHERE key = 'library_generation'";
  return Number((env.db.startsWith("postgresql://") ? execFileSync("psql", [env.db, "-tAc", sql]) : execFileSync("sqlite3", [env.db, sql])).toString().trim());
};
async function settled(what) {
  const want = storeGeneration();
  let serving;
  for (let i = 0; i < 300; i++) {
    serving = (await (await fetchRetrying(new URL("api/status", env.url))).json()).generation;
    if (serving === want) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check(false, `${what}: the server serves generation ${serving}, the index holds ${want}`);
}

const pink = await songNamed("Pink Rain");
const brown = await songNamed("Brown Thunder");
if (!check(pink && brown, "Pink Rain and Brown Thunder are found")) done("move");

// The marks, made through the client as an app makes them (the plays on top of those the files run
// before this one made: userdata.test.mjs scrobbles song 1 too).
const playsBefore = (await rest("getSong", { id: pink.id })).song.playCount ?? 0;
await rest("star", { id: pink.id, albumId: pink.albumId, artistId: pink.artistId });
await rest("setRating", { id: pink.id, rating: 4 });
await rest("scrobble", { id: pink.id, submission: true, time: Date.now() - 60_000 });
await rest("scrobble", { id: pink.id, submission: true });
const created = await rest("createPlaylist", { name: "Rainy day (move test)", songId: [brown.id, pink.id, brown.id] });
const playlistId = created.playlist.id;
await rest("savePlayQueueByIndex", { id: [brown.id, pink.id, brown.id], currentIndex: 2, position: 4242 });
await rest("createBookmark", { id: pink.id, position: 1234, comment: "move test" });

// Everything the user kept, as /rest/ shows it (paths left out: they are what changes).
async function kept(via = api) {
  const song = (await rest("getSong", { id: pink.id }, via)).song;
  const starred = (await rest("getStarred2", {}, via)).starred2;
  const playlist = (await rest("getPlaylist", { id: playlistId }, via)).playlist;
  const album = (await rest("getAlbum", { id: pink.albumId }, via)).album;
  const artist = (await rest("getArtist", { id: pink.artistId }, via)).artist;
  const queue = (await rest("getPlayQueueByIndex", {}, via)).playQueueByIndex;
  const bookmarks = (await rest("getBookmarks", {}, via)).bookmarks.bookmark ?? [];
  return {
    song: { id: song.id, albumId: song.albumId, artistId: song.artistId, starred: !!song.starred, userRating: song.userRating, playCount: song.playCount },
    starred: { songs: (starred.song ?? []).map((s) => s.id), albums: (starred.album ?? []).map((a) => a.id), artists: (starred.artist ?? []).map((a) => a.id) },
    playlist: { name: playlist.name, songCount: playlist.songCount, entries: (playlist.entry ?? []).map((e) => e.id) },
    album: { id: album.id, starred: !!album.starred, songs: (album.song ?? []).map((s) => s.id).sort() },
    artist: { id: artist.id, starred: !!artist.starred, albums: (artist.album ?? []).map((a) => a.id).sort() },
    queue: { entries: (queue?.entry ?? []).map((e) => e.id), currentIndex: queue?.currentIndex, position: queue?.position },
    bookmarks: bookmarks.map((b) => ({ id: b.entry.id, position: b.position, comment: b.comment })),
  };
}
const before = await kept();
const albumCreated = async (via = api) => (await rest("getAlbum", { id: pink.albumId }, via)).album.created;
const createdBefore = await albumCreated();
check(before.song.starred && before.song.userRating === 4 && before.song.playCount === playsBefore + 2, `the marks are there before the move (${playsBefore} + 2 plays): ${JSON.stringify(before.song)}`);
check(JSON.stringify(before.playlist.entries) === JSON.stringify([brown.id, pink.id, brown.id]), `the playlist's entries: ${JSON.stringify(before.playlist)}`);
check(JSON.stringify(before.queue) === JSON.stringify({ entries: [brown.id, pink.id, brown.id], currentIndex: 2, position: 4242 }) &&
  JSON.stringify(before.bookmarks) === JSON.stringify([{ id: pink.id, position: 1234, comment: "move test" }]),
  `the play queue and bookmark: ${JSON.stringify([before.queue, before.bookmarks])}`);

// The server sees an index run at once; wait (up to 20 s) until it shows Pink Rain at its new path.
// Polled without the XML re-ask (the library may change between the two forms), then asked once
// more with it, the library settled.
async function waitForPath(id, fragment, what) {
  for (let i = 0; i < 200; i++) {
    const r = (await call(poller, "getSong", { id })).body["subsonic-response"];
    if (r.song?.path?.includes(fragment)) return (await call(api, "getSong", { id }), true);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check(false, `${what}: the server shows the song at its new path`);
}

// A move: Pink Rain into the Disc 2 folder, Brown Thunder out of it, then the album folder renamed.
const weather = join(env.music, "Noise Collective", "Weather");
renameSync(join(weather, "01 Pink Rain.ogg"), join(weather, "Disc 2", "01 Pink Rain.ogg"));
renameSync(join(weather, "Disc 2", "02 Brown Thunder.flac"), join(weather, "02 Brown Thunder.flac"));
renameSync(weather, join(env.music, "Noise Collective", "Weather (2020)"));
await index();
await settled("after the move");
await waitForPath(pink.id, "Weather (2020)/Disc 2/01 Pink Rain", "after the move");
const afterMove = await kept();
// A move keeps when the songs were added (the album's `created`: apps' "recently added",
// getAlbumList2 type=newest); so do `index --rebuild` and migrate (checked below).
check(await albumCreated() === createdBefore, `a move keeps the album's created date (${createdBefore})`);
check(JSON.stringify(afterMove) === JSON.stringify(before),
  `a move and a re-index keep ids, stars, rating, plays, the playlist, the play queue and the bookmark:\n  before ${JSON.stringify(before)}\n  after  ${JSON.stringify(afterMove)}`);

// A rebuild (every track read again, the index built anew and swapped in).
await index("--rebuild");
await settled("after the rebuild");
// The server picks the rebuilt index up on its next request; allow it up to 20 s to settle.
let afterRebuild = await kept(poller);
for (let i = 0; i < 200 && JSON.stringify(afterRebuild) !== JSON.stringify(before); i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  afterRebuild = await kept(poller);
}
afterRebuild = await kept();  // settled: asked once more with the XML re-ask
const createdAfterRebuild = await albumCreated();
check(createdAfterRebuild === createdBefore, `index --rebuild keeps the album's created date (${createdBefore}, now ${createdAfterRebuild})`);
check(JSON.stringify(afterRebuild) === JSON.stringify(before),
  `index --rebuild keeps ids, stars, rating, plays, the playlist, the play queue and the bookmark:\n  before ${JSON.stringify(before)}\n  after  ${JSON.stringify(afterRebuild)}`);

// `clapsearch migrate` to a new SQLite file, served by a second server: the same users (the
// password and the API key sign in), and everything they kept, at the same ids.
{
  const copy = join(dirname(env.music), `migrated-${Date.now()}.db`);
  await promisify(execFile)(env.cli, ["migrate", "--quiet", "--from", env.db, "--to", copy]);
  const server = spawn(env.cli, ["serve", "--db", copy, "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const url = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 60000);
      createInterface({ input: server.stdout }).on("line", (line) => {
        const m = /^clapsearch serve: listening on (http:\/\/\S+)/.exec(line);
        if (m) clearTimeout(timer), resolve(m[1]);
      });
      server.on("exit", () => resolve(undefined));
    });
    if (check(url !== undefined, "a server starts on the migrated copy")) {
      const byPassword = new SubsonicAPI({ url, auth: { username: env.user, password: env.password } });
      const afterMigrate = await kept(byPassword);
      check(JSON.stringify(afterMigrate) === JSON.stringify(before),
        `migrate keeps ids, stars, rating, plays, the playlist, the play queue and the bookmark:\n  before ${JSON.stringify(before)}\n  after  ${JSON.stringify(afterMigrate)}`);
      const createdAfterMigrate = await albumCreated(byPassword);
      check(createdAfterMigrate === createdBefore, `migrate keeps the album's created date (${createdBefore}, now ${createdAfterMigrate})`);
      const byKey = await new SubsonicAPI({ url, auth: { apiKey: env.apiKey } }).ping();
      check(byKey.status === "ok", `the API key signs in on the migrated copy: ${JSON.stringify(byKey)}`);
    }
  } finally {
    server.kill("SIGTERM");
  }
}

done("move");
