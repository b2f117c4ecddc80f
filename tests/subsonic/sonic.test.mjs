// The sonic endpoints: getSimilarSongs and getSimilarSongs2 (by song, album, artist and folder
// id) through the client's own methods, the library's default exclusions on all four, and the sonicSimilarity extension's getSonicSimilarTracks
// and findSonicPath through customJSON (the client's documented way for an endpoint it has no
// method for). Every answer validated whole against the spec's schemas; the semantics checked
// against values computed elsewhere: the cosines `clapsearch similar --json` prints (the search
// layer, not the code under test), mapped as docs/integrations.md says (clamp to [0, 1]).
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { check, validate, client, call, done, env, fetchRetrying } from "./lib.mjs";
import { arrayOf, ref } from "./schemas.mjs";

const api = client();
const members = {
  getSimilarSongs: { similarSongs: ref("SimilarSongs") },
  getSimilarSongs2: { similarSongs2: ref("SimilarSongs2") },
  getSonicSimilarTracks: { sonicMatch: arrayOf("SonicMatch") },
  findSonicPath: { sonicMatch: arrayOf("SonicMatch") },
};

// The library's tracks (the /api/ route beside /rest/): id -> path relative to the music folder.
const listing = await (await fetchRetrying(new URL("api/tracks?limit=100", env.url))).json();
const paths = new Map(listing.tracks.map((t) => [String(t.track_id), t.display_path]));
const idOf = (end) => [...paths].find(([, p]) => p.endsWith(end))?.[0];
const concert = idOf("01 Concert A.flac"), whistle = idOf("02 High Whistle.mp3"), fifth = idOf("01 Fifth.ogg");
const rain = idOf("01 Pink Rain.ogg"), thunder = idOf("02 Brown Thunder.flac");
check([concert, whistle, fifth, rain, thunder].every(Boolean), `the five songs are listed: ${JSON.stringify([...paths])}`);

// The cosine of every other track with `id`, as the CLI's similar command prints it.
// (--include-excluded: every track, those the music-only rule leaves out of the answers too.)
function cosines(id) {
  const r = spawnSync(env.cli, ["similar", id, "--db", env.db, "-k", "100", "--json", "--include-excluded"], { encoding: "utf8" });
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
  await failed("getSonicSimilarTracks", { id: concert, count: -1 }, 10);
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
  await failed("findSonicPath", { startSongId: concert, endSongId: thunder, count: 1 }, 10);
  await failed("findSonicPath", { startSongId: concert, endSongId: concert }, 10);
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

// --- the library's default exclusions (the music-only rule: genres Podcast, Audiobook, Speech) ---
// A podcast episode is added to the library, with seven more songs so that the default count of
// getSonicSimilarTracks (10) is less than the library (all removed at the end, the library left
// as the other files expect it). The episode is never among the songs of getSonicSimilarTracks,
// getSimilarSongs(2) (of a song, an album, an artist, a folder) nor a step of findSonicPath, while
// /api/sonic/ with exclude=false (the same service, the rule lifted) shows it would be; a path
// asked to end (or start) at it still does, as the spec's path "MUST contain the start song as
// the first entry and the end song as the last entry".
{
  // --prune-missing on the way back: 8 of 13 songs gone is "most of the root", which an index run
  // otherwise keeps (an unmounted drive must not empty the library).
  const index = (...extra) => promisify(execFile)(env.cli, ["index", env.music, "--db", env.db, "--quiet", ...extra]);
  const poller = client({ xml: false });   // no XML re-ask while the library changes
  const ffmpeg = (source, file, ...tags) => spawnSync("ffmpeg", ["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
    ...tags.flatMap((t) => ["-metadata", t]), file]);
  mkdirSync(join(env.music, "Talk Radio", "Episodes"), { recursive: true });
  ffmpeg("aevalsrc=0.4*sin(2*PI*(200+300*t)*t):d=4:s=44100", join(env.music, "Talk Radio", "Episodes", "01 Episode One.mp3"),
    "title=Episode One", "artist=Talk Radio", "album=Episodes", "genre=Podcast");
  const EXTRA = 7;
  mkdirSync(join(env.music, "Extra Tones", "Set"), { recursive: true });
  const sources = ["anoisesrc=seed=41:color=white:amplitude=0.3", "anoisesrc=seed=42:color=blue:amplitude=0.3",
    "anoisesrc=seed=43:color=violet:amplitude=0.3", "anoisesrc=seed=44:color=velvet:amplitude=0.3",
    "aevalsrc=0.4*sin(2*PI*(1200-150*t)*t)", "aevalsrc=0.3*sin(2*PI*110*t)*sin(2*PI*3*t)", "aevalsrc=0.4*sin(2*PI*1760*t)"];
  sources.forEach((src, i) => ffmpeg(`${src}:d=3:${src.startsWith("anoise") ? "r" : "s"}=44100`, join(env.music, "Extra Tones", "Set", `0${i + 1} Extra ${i + 1}.flac`),
    `title=Extra ${i + 1}`, "artist=Extra Tones", "album=Set", `track=${i + 1}`));
  await index();
  let episode, extras = 0;
  for (let i = 0; i < 300 && !(episode && extras === EXTRA); i++) {
    const found = (await call(poller, "search3.view", { query: "", artistCount: 0, albumCount: 0, songCount: 100 })).body["subsonic-response"];
    episode = found.searchResult3?.song?.find((s) => s.title === "Episode One")?.id;
    extras = (found.searchResult3?.song ?? []).filter((s) => s.title.startsWith("Extra ")).length;
    if (!(episode && extras === EXTRA)) await new Promise((r) => setTimeout(r, 100));
  }
  if (check(episode !== undefined && extras === EXTRA, `the podcast episode and ${EXTRA} more songs are indexed and seen by the server (${extras})`)) {
    const songs = 5 + EXTRA;   // besides the episode
    const api0 = async (route, params) => (await fetchRetrying(new URL(`api/sonic/${route}?${new URLSearchParams({ ...params, exclude: "false" })}`, env.url))).json();
    const unruled = (await api0("getSonicSimilarTracks", { id: concert, count: 50, excludeDuplicates: "false" })).sonicMatch.map((m) => m.entry.id);
    check(unruled.includes(episode), `without the rule the episode is among Concert A's similar tracks (${unruled}): the checks below are not empty`);
    const unruledPath = (await api0("findSonicPath", { startSongId: concert, endSongId: thunder, count: 25 })).sonicMatch.map((m) => m.entry.id);
    check(unruledPath.length === songs + 1 && unruledPath.includes(episode), `without the rule a path of 25 takes every song, the episode too (${unruledPath})`);

    // count: the spec's default 10 (now fewer than the other songs), a given count, 0.
    check((await ok("getSonicSimilarTracks", { id: concert })).sonicMatch.length === 10, `getSonicSimilarTracks: default count 10 of ${songs - 1} other songs`);
    check((await ok("getSonicSimilarTracks", { id: concert, count: 11 })).sonicMatch.length === 11, "getSonicSimilarTracks: count 11");
    check((await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count: 7 })).sonicMatch.length === 7, "findSonicPath: count 7");
    const similar = (await ok("getSonicSimilarTracks", { id: concert, count: 50 })).sonicMatch.map((m) => m.entry.id);
    check(similar.length === songs - 1 && !similar.includes(episode), `getSonicSimilarTracks leaves the excluded episode out: ${similar}`);
    const fromEpisode = (await ok("getSonicSimilarTracks", { id: episode, count: 50 })).sonicMatch.map((m) => m.entry.id);
    check(fromEpisode.length === songs && !fromEpisode.includes(episode), `getSonicSimilarTracks of the excluded song itself answers the songs like it: ${fromEpisode}`);
    const concertChild = (await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count: 2 })).sonicMatch[0].entry;
    for (const name of ["getSimilarSongs", "getSimilarSongs2"]) {
      const key = name === "getSimilarSongs" ? "similarSongs" : "similarSongs2";
      for (const [what, id, n] of [["a song", concert, songs - 1], ["an album", concertChild.albumId, songs - 2],
        ["an artist (a radio)", concertChild.artistId, songs], ["a folder", concertChild.parent, songs - 2]]) {
        const got = (await ok(name, { id, count: 50 }))[key].song.map((s) => s.id);
        check(got.length === n && !got.includes(episode), `${name} of ${what} leaves the excluded episode out: ${got}`);
      }
    }
    const path = await ok("findSonicPath", { startSongId: concert, endSongId: thunder, count: 25 });
    const steps = path.sonicMatch.map((m) => m.entry.id);
    check(steps.length === songs && !steps.includes(episode) && steps[0] === concert && steps.at(-1) === thunder, `findSonicPath takes no excluded step: ${steps}`);
    const want = cosines(concert);
    const toEpisode = (await ok("findSonicPath", { startSongId: concert, endSongId: episode, count: 3 })).sonicMatch;
    check(toEpisode.length === 3 && toEpisode[0].entry.id === concert && toEpisode[2].entry.id === episode &&
      !toEpisode.slice(0, 2).some((m) => m.entry.id === episode), `findSonicPath to the excluded song ends with it: ${toEpisode.map((m) => m.entry.id)}`);
    const fromIt = (await ok("findSonicPath", { startSongId: episode, endSongId: thunder, count: 3 })).sonicMatch;
    check(fromIt.length === 3 && fromIt[0].entry.id === episode && fromIt[0].similarity === 1 && fromIt[2].entry.id === thunder,
      `findSonicPath from the excluded song starts with it, similarity 1.0: ${JSON.stringify(fromIt.map((m) => [m.entry.id, m.similarity]))}`);
    check(toEpisode.every((m) => m.entry.id === concert || near(m.similarity, expected(want.get(m.entry.id) ?? NaN))),
      `findSonicPath to the excluded song: each similarity is to the start song: ${JSON.stringify(toEpisode.map((m) => [m.entry.id, m.similarity, want.get(m.entry.id)]))}`);
  }
  rmSync(join(env.music, "Talk Radio"), { recursive: true, force: true });
  rmSync(join(env.music, "Extra Tones"), { recursive: true, force: true });
  await index("--prune-missing");
  let left = -1;
  for (let i = 0; i < 300 && left !== 5; i++) {
    left = (await call(poller, "search3.view", { query: "", artistCount: 0, albumCount: 0, songCount: 100 })).body["subsonic-response"].searchResult3?.song?.length;
    if (left !== 5) await new Promise((r) => setTimeout(r, 100));
  }
  check(left === 5, `the added songs are gone from the library again (${left} songs)`);
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
