// The sonic endpoints: getSimilarSongs and getSimilarSongs2 (by song, album, artist and folder
// id) through the client's own methods, and the sonicSimilarity extension's getSonicSimilarTracks
// and findSonicPath through customJSON (the client's documented way for an endpoint it has no
// method for). Every answer validated whole against the spec's schemas; the semantics checked
// against values computed elsewhere: the cosines `clapsearch similar --json` prints (the search
// layer, not the code under test), mapped as docs/integrations.md says (clamp to [0, 1]).
import { spawnSync } from "node:child_process";
import { check, validate, client, call, done, env } from "./lib.mjs";
import { arrayOf, ref } from "./schemas.mjs";

const api = client();
const members = {
  getSimilarSongs: { similarSongs: ref("SimilarSongs") },
  getSimilarSongs2: { similarSongs2: ref("SimilarSongs2") },
  getSonicSimilarTracks: { sonicMatch: arrayOf("SonicMatch") },
  findSonicPath: { sonicMatch: arrayOf("SonicMatch") },
};

// The library's tracks (the /api/ route beside /rest/): id -> path relative to the music folder.
const listing = await (await fetch(new URL("api/tracks?limit=100", env.url))).json();
const paths = new Map(listing.tracks.map((t) => [String(t.track_id), t.display_path]));
const idOf = (end) => [...paths].find(([, p]) => p.endsWith(end))?.[0];
const concert = idOf("01 Concert A.flac"), whistle = idOf("02 High Whistle.mp3"), fifth = idOf("01 Fifth.ogg");
const rain = idOf("01 Pink Rain.ogg"), thunder = idOf("02 Brown Thunder.flac");
check([concert, whistle, fifth, rain, thunder].every(Boolean), `the five songs are listed: ${JSON.stringify([...paths])}`);

// The cosine of every other track with `id`, as the CLI's similar command prints it.
function cosines(id) {
  const r = spawnSync(env.cli, ["similar", id, "--db", env.db, "-k", "100", "--json"], { encoding: "utf8" });
  check(r.status === 0, `clapsearch similar ${id}: ${r.stderr}`);
  // [{rank, path, track_id, score (the cosine), ...}], the query left out.
  return new Map(JSON.parse(r.stdout).map((row) => [String(row.track_id), row.score]));
}
const expected = (cosine) => Math.min(1, Math.max(0, cosine));
const near = (a, b) => Math.abs(a - b) <= 1e-6;

async function answer(name, params) {
  const got = await call(api, `${name}.view`, params);
  return got.body;
}
async function ok(name, params) {
  const body = await answer(name, params);
  validate(`${name} ${JSON.stringify(params)}`, body, members[name]);
  return body["subsonic-response"];
}
async function failed(name, params, code) {
  const body = await answer(name, params);
  validate(`${name} ${JSON.stringify(params)} (an error)`, body);
  const got = body["subsonic-response"].error?.code;
  check(got === code, `${name} ${JSON.stringify(params)}: error ${code} expected, got ${JSON.stringify(body)}`);
}

// --- getSonicSimilarTracks ----------------------------------------------------------------------
{
  const r = await ok("getSonicSimilarTracks", { id: concert, count: 10 });
  const ids = r.sonicMatch.map((m) => m.entry.id);
  check(ids.length === 4, `getSonicSimilarTracks: every other song of five (${ids})`);
  check(!ids.includes(concert), "getSonicSimilarTracks leaves the seed out");
  const want = cosines(concert);
  let last = 2;
  for (const m of r.sonicMatch) {
    check(near(m.similarity, expected(want.get(m.entry.id))),
      `getSonicSimilarTracks: similarity of ${m.entry.id} ${m.similarity}, its cosine with the seed ${want.get(m.entry.id)}`);
    check(m.similarity <= last, "getSonicSimilarTracks: best first");
    last = m.similarity;
  }
  check((await ok("getSonicSimilarTracks", { id: concert, count: 2 })).sonicMatch.length === 2, "getSonicSimilarTracks: count honoured");
  check((await ok("getSonicSimilarTracks", { id: concert })).sonicMatch.length === 4, "getSonicSimilarTracks: default count 10");
  check((await ok("getSonicSimilarTracks", { id: concert, count: 0 })).sonicMatch.length === 0, "getSonicSimilarTracks: count=0 is an empty list");
  // The spec sets no maximum: a count past the server's limit (1000) is a most, not an error.
  check((await ok("getSonicSimilarTracks", { id: concert, count: 5000 })).sonicMatch.length === 4, "getSonicSimilarTracks: count=5000");
  // Through the client's documented way for endpoints it has no method for.
  const viaClient = await api.customJSON("getSonicSimilarTracks", { id: whistle, count: 3 });
  check(viaClient.status === "ok" && viaClient.sonicMatch.length === 3 && !viaClient.sonicMatch.some((m) => m.entry.id === whistle),
    `customJSON getSonicSimilarTracks: ${JSON.stringify(viaClient).slice(0, 300)}`);
  await failed("getSonicSimilarTracks", { id: "999999", count: 3 }, 70);
  await failed("getSonicSimilarTracks", { id: "al-0000000000000000" }, 70);
  await failed("getSonicSimilarTracks", {}, 10);
  await failed("getSonicSimilarTracks", { id: concert, count: -1 }, 0);
}

// --- findSonicPath -------------------------------------------------------------------------------
{
  const want = cosines(concert);
  for (const count of [5, 3, 2]) {
    const r = await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count });
    const ids = r.sonicMatch.map((m) => m.entry.id);
    check(ids.length === count, `findSonicPath count=${count}: ${ids}`);
    check(ids[0] === concert && ids.at(-1) === thunder, `findSonicPath starts with the start song and ends with the end song: ${ids}`);
    check(new Set(ids).size === ids.length, "findSonicPath: no song twice");
    check(r.sonicMatch[0].similarity === 1, `findSonicPath: the start song's similarity is 1.0 (${r.sonicMatch[0].similarity})`);
    for (const m of r.sonicMatch.slice(1))
      check(near(m.similarity, expected(want.get(m.entry.id))),
        `findSonicPath: similarity of ${m.entry.id} is to the start song: ${m.similarity}, cosine ${want.get(m.entry.id)}`);
  }
  const viaClient = await api.customJSON("findSonicPath", { startSongId: rain, endSongId: whistle, count: 4 });
  check(viaClient.status === "ok" && viaClient.sonicMatch.length === 4 && viaClient.sonicMatch[0].entry.id === rain &&
    viaClient.sonicMatch[3].entry.id === whistle, `customJSON findSonicPath: ${JSON.stringify(viaClient).slice(0, 300)}`);
  check((await ok("findSonicPath", { startSongId: concert, endSongId: thunder })).sonicMatch.length === 5,
    "findSonicPath: default count 25, capped by the library (5 songs)");
  check((await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count: 0 })).sonicMatch.length === 0,
    "findSonicPath: count=0 is an empty path");
  await failed("findSonicPath", { startSongId: concert, endSongId: thunder, count: 1 }, 0);
  await failed("findSonicPath", { startSongId: concert, endSongId: concert }, 0);
  await failed("findSonicPath", { startSongId: concert, endSongId: "999999" }, 70);
  await failed("findSonicPath", { startSongId: concert }, 10);
  await failed("findSonicPath", { endSongId: concert }, 10);
}

// --- getSimilarSongs / getSimilarSongs2 ----------------------------------------------------------
{
  for (const name of ["getSimilarSongs", "getSimilarSongs2"]) {
    const key = name === "getSimilarSongs" ? "similarSongs" : "similarSongs2";
    const method = name === "getSimilarSongs" ? (p) => api.getSimilarSongs(p) : (p) => api.getSimilarSongs2(p);
    // A song: the songs like it, itself left out, best first (the order of getSonicSimilarTracks).
    const bySong = (await ok(name, { id: concert }))[key].song.map((s) => s.id);
    const sonic = (await ok("getSonicSimilarTracks", { id: concert, count: 50 })).sonicMatch.map((m) => m.entry.id);
    check(JSON.stringify(bySong) === JSON.stringify(sonic), `${name} of a song: ${bySong} (getSonicSimilarTracks: ${sonic})`);
    const viaClient = await method({ id: concert, count: 2 });
    check(viaClient.status === "ok" && viaClient[key].song.length === 2 && !viaClient[key].song.some((s) => s.id === concert),
      `${name} through the client: ${JSON.stringify(viaClient).slice(0, 300)}`);
    // An album and a folder (from the song's Child): songs like theirs, theirs left out.
    const concertChild = (await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count: 2 })).sonicMatch[0].entry;
    const byAlbum = (await ok(name, { id: concertChild.albumId }))[key].song.map((s) => s.id);
    check(byAlbum.length === 3 && !byAlbum.includes(concert) && !byAlbum.includes(whistle),
      `${name} of the album Tones: the three songs not on it (${byAlbum})`);
    // An artist: the spec's "songs from the given artist and similar artists" (an artist radio):
    // every song, the artist's own among them.
    const byArtist = (await ok(name, { id: concertChild.artistId }))[key].song.map((s) => s.id);
    check(byArtist.length === 5 && byArtist.includes(concert) && byArtist.includes(whistle) && byArtist.includes(rain),
      `${name} of Sine Ensemble: its own songs and the others' (${byArtist})`);
    const folder = (await ok(name, { id: concertChild.parent }))[key].song.map((s) => s.id);
    check(folder.length === 3 && !folder.includes(concert), `${name} of a folder: the songs outside it (${folder})`);
    check(bySong.length === 4, `${name}: default count 50 (the 4 other songs)`);
    check((await ok(name, { id: concert, count: 0 }))[key].song.length === 0, `${name}: count=0 is an empty list`);
    await failed(name, { id: "999999" }, 70);
    await failed(name, { id: "ar-0000000000000000" }, 70);
    await failed(name, { id: "al-0000000000000000" }, 70);
    await failed(name, { id: "no such id" }, 70);
    await failed(name, {}, 10);
  }
}

// Form POST (the formPost extension): the same answer.
{
  const posted = await call(client({ post: true }), "findSonicPath.view", { startSongId: concert, endSongId: thunder, count: 3 });
  validate("findSonicPath by POST", posted.body, members.findSonicPath);
  const ids = posted.body["subsonic-response"].sonicMatch?.map((m) => m.entry.id) ?? [];
  check(ids.length === 3 && ids[0] === concert && ids[2] === thunder, `findSonicPath by POST: ${ids}`);
}

// XML: the same answer in the spec's namespace.
{
  const res = await api.custom("getSonicSimilarTracks", { id: concert, count: 1, f: "xml" });
  const text = await res.text();
  check(/<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="ok"[^>]*><sonicMatch similarity="[0-9.e-]+"><entry id="\d+"[^>]* isDir="false"/.test(text),
    `getSonicSimilarTracks as XML: ${text.slice(0, 400)}`);
}
done("sonic");
