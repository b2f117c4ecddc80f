// What each user keeps, through the real client: star/unstar (songs, albums, artists), getStarred
// and getStarred2, setRating, scrobble (a play stored; now playing), getNowPlaying, and the
// playlists (create, read, update, delete; another user may read a public one and change none).
// Every answer validated against schemas written from the spec (Playlist, PlaylistWithSongs,
// Starred, Starred2, NowPlayingEntry here; the records in schemas.mjs).
import { execFileSync } from "node:child_process";
import { check, validate, client, call, done, env, raw, xmlOnce, compareForms, runCli } from "./lib.mjs";
import { strict, arrayOf, string, integer, boolean, dateTime, definitions } from "./schemas.mjs";

const Artist = strict({ id: string, name: string, artistImageUrl: string, starred: dateTime, userRating: integer, averageRating: { type: "number" } }, ["id", "name"]);
const Starred = strict({ artist: { type: "array", items: Artist }, album: arrayOf("Child"), song: arrayOf("Child") });
const Starred2 = strict({ artist: arrayOf("ArtistID3"), album: arrayOf("AlbumID3"), song: arrayOf("Child") });
const playlistFields = {
  id: string, name: string, comment: string, owner: string, public: boolean, songCount: integer, duration: integer,
  created: dateTime, changed: dateTime, coverArt: string, allowedUser: { type: "array", items: string }, readonly: boolean, validUntil: dateTime,
};
const playlistRequired = ["id", "name", "songCount", "duration", "created", "changed"];
const Playlist = strict(playlistFields, playlistRequired);
const PlaylistWithSongs = strict({ ...playlistFields, entry: arrayOf("Child") }, playlistRequired);
// NowPlayingEntry: Child plus username, minutesAgo, playerId (required), playerName, state, positionMs, playbackRate.
const Child = definitions.Child;
const NowPlayingEntry = strict(
  { ...Child.properties, username: string, minutesAgo: integer, playerId: integer, playerName: string,
    state: { enum: ["starting", "playing", "paused", "stopped"] }, positionMs: integer, playbackRate: { type: "number" } },
  [...Child.required, "username", "minutesAgo", "playerId"]);

const api = client();
const ok = async (what, name, params, members = {}, as = api) => {
  const r = await call(as, name, params);
  validate(what, r.body, members);
  check(r.body["subsonic-response"].status === "ok", `${what}: ok (${JSON.stringify(r.body).slice(0, 300)})`);
  return r.body["subsonic-response"];
};
const fails = async (what, name, params, code, as = api) => {
  const r = await call(as, name, params);
  validate(what, r.body);
  check(r.body["subsonic-response"].error?.code === code, `${what}: code ${code} (${JSON.stringify(r.body).slice(0, 300)})`);
};
const ids = (list) => (list ?? []).map((x) => x.id);

// Stars: two songs, then the album and artist of the first (ids from its Child).
await ok("star two songs", "star.view", { id: ["1", "2"] });
let s2 = (await ok("getStarred2", "getStarred2.view", {}, { starred2: Starred2 })).starred2;
check(JSON.stringify(ids(s2.song).sort()) === '["1","2"]', `getStarred2 lists the starred songs: ${JSON.stringify(ids(s2.song))}`);
check(s2.song.every((c) => typeof c.starred === "string"), "each starred song carries its starred time");
const first = s2.song.find((c) => c.id === "1");
await ok("star an album and an artist", "star.view", { albumId: first.albumId, artistId: first.artistId });
s2 = (await ok("getStarred2 again", "getStarred2.view", {}, { starred2: Starred2 })).starred2;
check(ids(s2.album).includes(first.albumId) && ids(s2.artist).includes(first.artistId),
  `getStarred2 lists the album and the artist: ${JSON.stringify(s2).slice(0, 300)}`);
const s1 = (await ok("getStarred", "getStarred.view", {}, { starred: Starred })).starred;
check(ids(s1.album).includes(first.albumId) && s1.album.every((a) => a.isDir === true), "getStarred lists the album as a directory");
check(ids(s1.artist).includes(first.artistId), "getStarred lists the artist");
// Through the client's own methods too.
check((await api.getStarred2({})).starred2.song.length === 2, "the client's getStarred2");
await ok("unstar a song and the album (by id)", "unstar.view", { id: ["2", first.albumId] });
s2 = (await ok("getStarred2 after unstar", "getStarred2.view", {}, { starred2: Starred2 })).starred2;
check(JSON.stringify(ids(s2.song)) === '["1"]' && !ids(s2.album).includes(first.albumId), `unstar removed them: ${JSON.stringify(s2).slice(0, 300)}`);
await fails("star of an unknown song", "star.view", { id: "999999" }, 70);
await fails("star of nothing", "star.view", {}, 10);

// Ratings.
await ok("setRating 4", "setRating.view", { id: "1", rating: 4 });
s2 = (await ok("getStarred2 with a rating", "getStarred2.view", {}, { starred2: Starred2 })).starred2;
check(s2.song[0].userRating === 4, `the rating shows on the song: ${JSON.stringify(s2.song[0]).slice(0, 200)}`);
await fails("setRating 6", "setRating.view", { id: "1", rating: 6 }, 10);
await fails("setRating without rating", "setRating.view", { id: "1" }, 10);
await ok("setRating 0 removes it", "setRating.view", { id: "1", rating: 0 });
s2 = (await ok("getStarred2 without the rating", "getStarred2.view", {}, { starred2: Starred2 })).starred2;
check(s2.song[0].userRating === undefined, "the rating is gone");
await ok("setRating of an album", "setRating.view", { id: first.albumId, rating: 5 });

// Scrobbles: now playing, then a submission stored as a play.
await ok("scrobble now playing", "scrobble.view", { id: "3", submission: false });
const np = (await ok("getNowPlaying", "getNowPlaying.view", {}, { nowPlaying: strict({ entry: { type: "array", items: NowPlayingEntry } }, ["entry"]) })).nowPlaying;
check(np.entry.some((e) => e.id === "3" && e.username === env.user && e.playerName === "subsonic-api"), `getNowPlaying: ${JSON.stringify(np).slice(0, 300)}`);
// Now playing is bounded: made-up player names (c) keep at most 8 entries for a user, and a long
// name is cut, so a client cannot grow the server's memory nor every user's getNowPlaying.
for (let i = 0; i < 20; i++)
  await raw("scrobble.view", { u: env.user, p: env.password, v: "1.16.1", f: "json", c: `player-${i}-` + "é".repeat(300), id: "3", submission: "false" });
{
  const mine = (await ok("getNowPlaying after 20 players", "getNowPlaying.view", {}, { nowPlaying: strict({ entry: { type: "array", items: NowPlayingEntry } }, ["entry"]) }))
    .nowPlaying.entry.filter((e) => e.username === env.user);
  check(mine.length <= 8, `at most 8 now-playing entries for a user (got ${mine.length})`);
  check(mine.every((e) => Buffer.byteLength(e.playerName ?? "") <= 256), "player names are cut to 256 bytes");
  check(mine.some((e) => e.playerName?.startsWith("player-19-")), "the newest player is kept");
}
// The plays stored, read from the index itself (SQLite, or PostgreSQL with run.sh --postgres).
const countPlays = "SELECT COUNT(*) FROM plays WHERE source = 'subsonic'";
const plays = () => Number((env.db.startsWith("postgresql://") ? execFileSync("psql", [env.db, "-tAc", countPlays])
  : execFileSync("sqlite3", [env.db, countPlays])).toString().trim());
const before = plays();
await ok("scrobble a submission", "scrobble.view", { id: ["3", "1"], time: [Date.now() - 300000, Date.now()] });
check(plays() === before + 2, `two plays stored (${before} -> ${plays()})`);
// What the user starred, rated and played shows wherever the song or album is listed, not only
// in getStarred: getSong, getAlbum's songs, getAlbumList2.
{
  const song = (await api.getSong({ id: "1" })).song;
  check(song.playCount >= 1 && typeof song.played === "string" && song.starred instanceof Date,
    `getSong carries the play count, last play and star: ${JSON.stringify(song).slice(0, 400)}`);
  const album = (await api.getAlbum({ id: first.albumId })).album;
  check(album.userRating === 5 && album.playCount >= 1 && album.song.some((c) => c.id === "1" && c.starred),
    `getAlbum carries the album's rating and plays, its songs their stars: ${JSON.stringify(album).slice(0, 400)}`);
  const list = (await api.getAlbumList2({ type: "alphabeticalByName", size: 500 })).albumList2.album;
  check(list.find((a) => a.id === first.albumId)?.userRating === 5, "getAlbumList2 carries the album's rating");
}
await fails("scrobble of an unknown song", "scrobble.view", { id: "999999" }, 70);
await fails("scrobble with a time per id missing", "scrobble.view", { id: ["1", "3"], time: Date.now() }, 10);
// A play time in the far future is refused, not stored as a "played" date no client can parse.
await fails("scrobble at a time far in the future", "scrobble.view", { id: "1", time: "9223372036854775807" }, 10);
await fails("scrobble at a time in year 10000", "scrobble.view", { id: "1", time: "253402300800000" }, 10);
{
  const played = (await ok("getSong after a future scrobble", "getSong.view", { id: "1" }, { song: Child })).song.played;
  check(played === undefined || /^\d{4}-/.test(played), `played is an RFC 3339 date-time: ${played}`);
}

// Playlists.
const created = (await ok("createPlaylist", "createPlaylist.view", { name: "Mix", songId: ["1", "3"] }, { playlist: PlaylistWithSongs })).playlist;
check(/^pl-\d+$/.test(created.id) && JSON.stringify(ids(created.entry)) === '["1","3"]' && created.songCount === 2 && created.owner === env.user,
  `createPlaylist answers the playlist: ${JSON.stringify(created).slice(0, 300)}`);
const lists = (await ok("getPlaylists", "getPlaylists.view", {}, { playlists: strict({ playlist: { type: "array", items: Playlist } }) })).playlists;
check(ids(lists.playlist).includes(created.id), "getPlaylists lists it");
await ok("updatePlaylist", "updatePlaylist.view",
  { playlistId: created.id, name: "Mix 2", comment: "for the night", public: true, songIndexToRemove: 0, songIdToAdd: "2" });
let got = (await ok("getPlaylist", "getPlaylist.view", { id: created.id }, { playlist: PlaylistWithSongs })).playlist;
check(got.name === "Mix 2" && got.comment === "for the night" && got.public === true && JSON.stringify(ids(got.entry)) === '["3","2"]',
  `updatePlaylist changed name, comment, public and songs: ${JSON.stringify(got).slice(0, 300)}`);
await fails("updatePlaylist with an index past the end", "updatePlaylist.view", { playlistId: created.id, songIndexToRemove: 5 }, 10);
const replaced = (await ok("createPlaylist with playlistId", "createPlaylist.view", { playlistId: created.id, songId: ["2"] }, { playlist: PlaylistWithSongs })).playlist;
check(replaced.id === created.id && JSON.stringify(ids(replaced.entry)) === '["2"]', "createPlaylist with playlistId replaces its songs");

// Another user: reads the public playlist, changes nothing, keeps their own stars.
const bob = "bob-userdata-" + Date.now(), bobPassword = "bob's password";
await runCli(["user", "add", bob, "--db", env.db], bobPassword + "\n");
const bobApi = client({ user: bob, password: bobPassword });
const bobView = await call(bobApi, "getPlaylist.view", { id: created.id });
check(bobView.body["subsonic-response"].playlist?.id === created.id, "another user reads a public playlist");
await fails("another user updates it", "updatePlaylist.view", { playlistId: created.id, name: "mine" }, 50, bobApi);
await fails("another user deletes it", "deletePlaylist.view", { id: created.id }, 50, bobApi);
await fails("another user lists the owner's playlists by name", "getPlaylists.view", { username: env.user }, 50, bobApi);
const bobStars = await call(bobApi, "getStarred2.view", {});
check(bobStars.body["subsonic-response"].starred2?.song?.length === 0, "stars are per user");
await ok("make it private", "updatePlaylist.view", { playlistId: created.id, public: false });
await fails("another user reads a private playlist", "getPlaylist.view", { id: created.id }, 70, bobApi);
await runCli(["user", "remove", bob, "--db", env.db]);

// The same through the client's own methods (their parameters as the client's types have them;
// the dates it revives must be real dates).
{
  const validDate = (d) => d instanceof Date && !Number.isNaN(d.getTime());
  await api.star({ id: "2" });
  const s1 = (await api.getStarred({})).starred;
  check(ids(s1.song).includes("2") && s1.song.every((c) => validDate(c.starred)), `the client's star and getStarred: ${JSON.stringify(s1.song).slice(0, 300)}`);
  await api.unstar({ id: "2" });
  check(!ids((await api.getStarred({})).starred.song).includes("2"), "the client's unstar");
  await api.scrobble({ id: "3", submission: false });
  const np = (await api.getNowPlaying()).nowPlaying;
  check(np.entry.some((e) => e.id === "3" && e.username === env.user), `the client's getNowPlaying: ${JSON.stringify(np).slice(0, 300)}`);
  const made = (await api.createPlaylist({ name: "Typed", songId: ["1", "2"] })).playlist;
  check(made?.songCount === 2 && validDate(made.created) && validDate(made.changed), `the client's createPlaylist: ${JSON.stringify(made).slice(0, 300)}`);
  await api.updatePlaylist({ playlistId: made.id, name: "Typed 2", songIdToAdd: ["3"], songIndexToRemove: [0] });
  const read = (await api.getPlaylist({ id: made.id })).playlist;
  check(read.name === "Typed 2" && JSON.stringify(ids(read.entry)) === '["2","3"]' && validDate(read.changed), `the client's updatePlaylist and getPlaylist: ${JSON.stringify(read).slice(0, 300)}`);
  const listed = (await api.getPlaylists({})).playlists.playlist;
  check(listed.some((p) => p.id === made.id && validDate(p.created)), "the client's getPlaylists lists it");
  check((await api.deletePlaylist({ id: made.id })).status === "ok", "the client's deletePlaylist");
  check(!(await api.getPlaylists({})).playlists.playlist?.some((p) => p.id === made.id), "the playlist deleted through the client is gone");
}

// The answers of the endpoints that change something, as XML (xmlChecked asks only reads twice):
// an empty envelope for star, unstar, setRating, scrobble, updatePlaylist and deletePlaylist, and
// createPlaylist's playlist, the same as getPlaylist's JSON where the XSD places each member.
{
  for (const [name, params] of [["star", { id: "2" }], ["unstar", { id: "2" }], ["setRating", { id: "2", rating: 3 }], ["setRating", { id: "2", rating: 0 }],
    ["scrobble", { id: "3", submission: false }]]) {
    const root = await xmlOnce(api, name, params);
    check(root && root.children.length === 0, `${name} as XML is an empty envelope: ${JSON.stringify(root?.children)}`);
  }
  const made = await xmlOnce(api, "createPlaylist", { name: "As XML", songId: ["1", "3"] });
  const element = made?.children.find((c) => c.name === "playlist");
  const id = element?.attributes.id;
  if (check(id !== undefined, `createPlaylist as XML answers the playlist: ${JSON.stringify(made).slice(0, 300)}`)) {
    const json = (await call(api, "getPlaylist.view", { id })).body["subsonic-response"].playlist;
    const problems = compareForms(json, element, "playlist");
    check(problems.length === 0, `createPlaylist's XML carries what getPlaylist's JSON does:\n  ${problems.slice(0, 8).join("\n  ")}`);
    check((await xmlOnce(api, "updatePlaylist", { playlistId: id, name: "As XML 2" }))?.children.length === 0, "updatePlaylist as XML is an empty envelope");
    check((await xmlOnce(api, "deletePlaylist", { id }))?.children.length === 0, "deletePlaylist as XML is an empty envelope");
  }
}

await ok("deletePlaylist", "deletePlaylist.view", { id: created.id });
await fails("a deleted playlist", "getPlaylist.view", { id: created.id }, 70);
await fails("a playlist id that is not one", "getPlaylist.view", { id: "42" }, 70);
// A long playlist by form POST (the formPost extension): 3,000 song ids are a 27 KB form, over the
// 8 KB cpp-httplib refuses by itself; the server takes forms up to 1 MB.
{
  const postApi = client({ post: true });
  const many = Array.from({ length: 3000 }, (_, i) => String([1, 3][i % 2]));
  const long = (await ok("createPlaylist of 3,000 songs by form POST", "createPlaylist.view", { name: "Long", songId: many },
    { playlist: PlaylistWithSongs }, postApi)).playlist;
  check(long.songCount === 3000, `the long playlist holds every song: ${long.songCount}`);
  await ok("delete the long playlist", "deletePlaylist.view", { id: long.id });
  // At most 20,000 songs: more is refused, made or grown.
  const tooMany = Array.from({ length: 20001 }, () => "1");
  await fails("createPlaylist of 20,001 songs", "createPlaylist.view", { name: "Too long", songId: tooMany }, 0, postApi);
  const full = (await ok("createPlaylist of 20,000 songs", "createPlaylist.view", { name: "Full", songId: tooMany.slice(1) },
    { playlist: PlaylistWithSongs }, postApi)).playlist;
  await fails("a song added to a full playlist", "updatePlaylist.view", { playlistId: full.id, songIdToAdd: "3" }, 0);
  await ok("delete the full playlist", "deletePlaylist.view", { id: full.id });
}
// Leave the shared user as it was.
await ok("unstar the rest", "unstar.view", { id: "1", albumId: first.albumId, artistId: first.artistId });
await ok("remove the album rating", "setRating.view", { id: first.albumId, rating: 0 });

done("userdata");
