// The Play endpoints (stream, download, getCoverArt, getLyrics, getLyricsBySongId) through the
// real client (its binary methods return fetch Responses) and raw requests: the file's exact
// bytes with Range, transcodes to Opus and MP3 checked by ffprobe on the bytes received, covers
// (embedded, beside the file, scaled and cached, a link out of the library refused), lyrics from
// tags; error envelopes validated against the spec. run.sh's "media" block makes the covers and
// lyrics on the five tracks.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { check, validate, client, raw, call, done, env, fetchRetrying } from "./lib.mjs";
import { ref } from "./schemas.mjs";
import { parseXml } from "./xml.mjs";

// The LYRICS comment run.sh writes in Fifth (text XML must escape, non-ASCII).
const FIFTH_LINES = ["A fifth above & <below>", "\"the drone\" — déjà vu, 'ünïcode' ☃"];

const api = client();
const scratch = mkdtempSync(join(tmpdir(), "clapsearch-media-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

// The tracks by title, from the server's own /api/tracks (ids are the Subsonic song ids).
const listed = await (await fetchRetrying(new URL("api/tracks?limit=100", env.url))).json();
const byTitle = new Map(listed.tracks.map((t) => [t.title, t]));
const song = (title) => String(byTitle.get(title).track_id);
const concertA = byTitle.get("Concert A"), whistle = byTitle.get("High Whistle");
check(concertA && whistle && byTitle.get("Fifth") && byTitle.get("Pink Rain"), `the five tracks are indexed: ${[...byTitle.keys()]}`);

async function bytesOf(res) { return Buffer.from(await res.arrayBuffer()); }

// A raw GET of /rest/NAME with credentials, returning the bytes and headers.
async function binary(name, params, headers = {}) {
  const url = new URL(`rest/${name}`, env.url);
  for (const [k, v] of Object.entries({ u: env.user, p: env.password, v: "1.16.1", c: "media-test", f: "json", ...params }))
    url.searchParams.set(k, String(v));
  const res = await fetchRetrying(url, { headers });
  return { status: res.status, headers: res.headers, bytes: await bytesOf(res) };
}

// ffprobe's view of bytes: {codec, format, duration, bit_rate, width, height}.
function probe(bytes, name) {
  const file = join(scratch, name);
  writeFileSync(file, bytes);
  try {
    const out = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_entries",
      "stream=codec_name,width,height:format=format_name,duration,bit_rate", "-of", "json", file]).toString());
    const s = out.streams?.[0] ?? {};
    return { codec: s.codec_name, format: out.format?.format_name, duration: Number(out.format?.duration), bitRate: Number(out.format?.bit_rate), width: s.width, height: s.height };
  } catch (e) {
    return { error: String(e) };
  }
}

// --- stream and download: the file's bytes -------------------------------------------------
{
  for (const t of [concertA, whistle]) {
    const file = readFileSync(t.path);
    const type = t.path.endsWith(".flac") ? "audio/flac" : "audio/mpeg";
    for (const method of ["stream", "download"]) {
      const res = await api[method]({ id: String(t.track_id) });
      const body = await bytesOf(res);
      check(res.status === 200 && body.equals(file), `${method} ${t.title}: the file's ${file.length} bytes (got ${res.status}, ${body.length} bytes)`);
      check((res.headers.get("content-type") || "").startsWith(type), `${method} ${t.title}: ${type} (got ${res.headers.get("content-type")})`);
    }
  }
  // Range as /api/tracks/{id}/audio answers it: 206 with exactly the bytes asked for, 416 past the end.
  const file = readFileSync(concertA.path);
  const part = await binary("stream", { id: song("Concert A") }, { Range: "bytes=100-1123" });
  check(part.status === 206 && part.bytes.equals(file.subarray(100, 1124)), `stream with Range: 206 and bytes 100-1123 (got ${part.status}, ${part.bytes.length} bytes)`);
  check(part.headers.get("content-range") === `bytes 100-1123/${file.length}`, `Content-Range: ${part.headers.get("content-range")}`);
  const tail = await binary("download", { id: song("Concert A") }, { Range: "bytes=-500" });
  check(tail.status === 206 && tail.bytes.equals(file.subarray(file.length - 500)), `download with a suffix Range: the last 500 bytes (got ${tail.status})`);
  const past = await binary("stream", { id: song("Concert A") }, { Range: `bytes=${file.length + 10}-` });
  check(past.status === 416, `a Range past the end is 416 (got ${past.status})`);
  // format=raw, a format equal to the file's, and a format the server does not know (the spec:
  // a preference) all give the file as it is.
  for (const [what, params] of [["format=raw", { format: "raw" }], ["format=mp3 of an MP3", { format: "mp3" }], ["format=flv", { format: "flv" }]]) {
    const t = what.includes("MP3") ? whistle : concertA;
    const r = await api.stream({ id: String(t.track_id), ...params });
    check((await bytesOf(r)).equals(readFileSync(t.path)), `stream ${what}: the file as it is`);
  }
  // The same by form POST (the formPost extension), as a client configured with post: true sends it.
  const posted = await client({ post: true }).stream({ id: song("Concert A"), format: "raw" });
  check((await bytesOf(posted)).equals(file), "stream by form POST: the file's bytes");
  // download never transcodes.
  const d = await api.download({ id: song("Concert A"), format: "mp3", maxBitRate: 64 });
  check((await bytesOf(d)).equals(file), "download ignores format and maxBitRate: the original file");
}

// --- stream transcoded ---------------------------------------------------------------------
{
  const opus = await api.stream({ id: song("Concert A"), format: "opus" });
  check(opus.headers.get("content-type") === "audio/ogg", `format=opus is audio/ogg (got ${opus.headers.get("content-type")})`);
  const o = probe(await bytesOf(opus), "a.opus");
  check(o.codec === "opus" && o.format === "ogg" && Math.abs(o.duration - 12) < 0.3, `format=opus: Opus in Ogg of 12 s (ffprobe: ${JSON.stringify(o)})`);

  const mp3 = await api.stream({ id: song("Concert A"), format: "mp3", maxBitRate: 64 });
  check(mp3.headers.get("content-type") === "audio/mpeg", `format=mp3 is audio/mpeg (got ${mp3.headers.get("content-type")})`);
  const m = probe(await bytesOf(mp3), "a.mp3");
  check(m.codec === "mp3" && Math.abs(m.duration - 12) < 0.3, `format=mp3: MP3 of 12 s (ffprobe: ${JSON.stringify(m)})`);
  check(Math.abs(m.bitRate - 64000) < 8000, `maxBitRate=64: about 64 kbit/s (ffprobe: ${m.bitRate})`);

  // maxBitRate alone, below the file's rate: a transcode (MP3, the default).
  const limited = probe(await bytesOf(await api.stream({ id: song("Concert A"), maxBitRate: 96 })), "b.mp3");
  check(limited.codec === "mp3", `maxBitRate alone below the file's rate transcodes to MP3 (ffprobe: ${JSON.stringify(limited)})`);
  // ... at or above the file's rate: the file.
  const high = await api.stream({ id: song("High Whistle"), maxBitRate: 320 });
  check((await bytesOf(high)).equals(readFileSync(whistle.path)), "maxBitRate above the file's rate: the file as it is");

  const later = probe(await bytesOf(await api.stream({ id: song("Concert A"), format: "opus", timeOffset: 5 })), "c.opus");
  check(later.codec === "opus" && Math.abs(later.duration - 7) < 0.3, `timeOffset=5 starts 5 s in: 7 s left (ffprobe: ${JSON.stringify(later)})`);

  // estimateContentLength: Content-Length = bit rate x duration (+ a 4 KB allowance for headers).
  const est = await binary("stream", { id: song("Concert A"), format: "mp3", maxBitRate: 128, estimateContentLength: "true" });
  const expected = Math.ceil(12 * 128000 / 8) + 4096;
  check(Number(est.headers.get("content-length")) === expected && est.bytes.length === expected,
    `estimateContentLength: Content-Length ${expected} (got ${est.headers.get("content-length")}, ${est.bytes.length} bytes)`);
  const e = probe(est.bytes, "d.mp3");
  check(e.codec === "mp3" && Math.abs(e.duration - 12) < 0.5, `the estimated-length MP3 plays 12 s (ffprobe: ${JSON.stringify(e)})`);

  const bad = await binary("stream", { id: song("Concert A"), format: "opus", timeOffset: 100 });
  const badJson = JSON.parse(bad.bytes.toString());
  validate("stream with timeOffset past the end", badJson);
  check(badJson["subsonic-response"].error?.code === 10 && bad.status === 200, `timeOffset past the end: a failed envelope with code 10 (a value out of its range) in an HTTP 200 answer (got ${bad.status} ${JSON.stringify(badJson)})`);
}

// --- getCoverArt ---------------------------------------------------------------------------
{
  const embedded = await api.getCoverArt({ id: song("High Whistle") });
  const pic = probe(await bytesOf(embedded), "e.png");
  check(embedded.headers.get("content-type") === "image/png" && pic.codec === "png" && pic.width === 320 && pic.height === 240,
    `the embedded picture of High Whistle: its 320x240 PNG (got ${embedded.headers.get("content-type")}, ${JSON.stringify(pic)})`);

  const beside = await api.getCoverArt({ id: song("Concert A") });
  const jpg = probe(await bytesOf(beside), "f.jpg");
  check(beside.headers.get("content-type") === "image/jpeg" && jpg.width === 400 && jpg.height === 300,
    `Concert A (no picture of its own): cover.JPG beside it, 400x300 (got ${beside.headers.get("content-type")}, ${JSON.stringify(jpg)})`);

  const sized = await api.getCoverArt({ id: song("High Whistle"), size: 100 });
  const first = await bytesOf(sized);
  const s = probe(first, "g.jpg");
  check(sized.headers.get("content-type") === "image/jpeg" && s.codec === "mjpeg" && s.width === 100 && s.height === 75,
    `size=100: a 100x75 JPEG, the aspect kept (got ${JSON.stringify(s)})`);
  const again = await bytesOf(await api.getCoverArt({ id: song("High Whistle"), size: 100 }));
  check(again.equals(first), "the same scaled cover again: the same bytes (from the cache)");
  const cacheDir = join(dirname(env.music), "cache", "clapsearch", "covers");
  const cached = existsSync(cacheDir) ? readdirSync(cacheDir) : [];
  check(cached.some((f) => f.endsWith("-100.jpg")), `the scaled cover is cached in ${cacheDir}: ${cached}`);
  const bigger = probe(await bytesOf(await api.getCoverArt({ id: song("High Whistle"), size: 1000 })), "h.jpg");
  check(bigger.width === 320 && bigger.height === 240, `size larger than the picture: never enlarged (got ${JSON.stringify(bigger)})`);

  // A folder's coverArt id (fo- + the sha256 of its path): its first track's cover.
  const tones = dirname(concertA.path);
  const folderId = "fo-" + createHash("sha256").update(tones).digest("hex").slice(0, 16);
  const folder = await api.getCoverArt({ id: folderId });
  check(folder.status === 200 && folder.headers.get("content-type") === "image/jpeg", `the folder ${folderId}'s cover (got ${folder.status} ${folder.headers.get("content-type")})`);
  // An album's coverArt id, when this build answers getSong (the browse endpoints).
  const got = await call(api, "getSong", { id: song("High Whistle") });
  const albumId = got.body["subsonic-response"].song?.albumId;
  if (albumId) {
    const album = await api.getCoverArt({ id: albumId });
    check(album.status === 200 && (album.headers.get("content-type") || "").startsWith("image/"), `the album ${albumId}'s cover (got ${album.status})`);
  }

  // No cover: Pink Rain has none, and Weather/folder.jpg links out of the library (not served).
  for (const [what, id] of [["a song without a cover (folder.jpg links outside)", song("Pink Rain")], ["an unknown song", "987654"], ["an unknown album", "al-0000000000000000"]]) {
    const r = await binary("getCoverArt", { id });
    const j = JSON.parse(r.bytes.toString());
    validate(`getCoverArt of ${what}`, j);
    check(j["subsonic-response"].error?.code === 70 && r.status === 200, `getCoverArt of ${what}: error 70 in an HTTP 200 answer (got ${r.status} ${r.bytes.toString().slice(0, 200)})`);
  }
}

// --- errors of stream and download ---------------------------------------------------------
for (const name of ["stream", "download"]) {
  const unknown = await binary(name, { id: "987654" });
  const j = JSON.parse(unknown.bytes.toString());
  validate(`${name} of an unknown id`, j);
  check(j["subsonic-response"].error?.code === 70 && unknown.status === 200, `${name} of an unknown id: error 70 in an HTTP 200 answer (got ${unknown.status})`);
  // As XML (the default without f): the failed envelope in the spec's namespace.
  const asXml = await binary(name, { id: "987654", f: "xml" });
  check(asXml.status === 200 && (asXml.headers.get("content-type") || "").startsWith("application/xml") &&
    /<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="failed"[^>]*><error code="70"/.test(asXml.bytes.toString()),
    `${name} of an unknown id as XML: ${asXml.status} ${asXml.bytes.toString().slice(0, 300)}`);
  const missing = await raw(name, { u: env.user, p: env.password, v: "1.16.1", c: "media-test", f: "json" });
  validate(`${name} without an id`, missing.json);
  check(missing.json?.["subsonic-response"].error?.code === 10, `${name} without an id: error 10`);
}

// --- lyrics --------------------------------------------------------------------------------
{
  const synced = await call(api, "getLyricsBySongId", { id: song("High Whistle") });
  validate("getLyricsBySongId (LRC)", synced.body, { lyricsList: ref("LyricsList") });
  const l = synced.body["subsonic-response"].lyricsList?.structuredLyrics?.[0];
  check(l?.synced === true && l.lang === "und" && l.displayTitle === "High Whistle" && l.displayArtist === "Sine Ensemble",
    `LRC lyrics are synced, language und: ${JSON.stringify(l)}`);
  check(JSON.stringify(l?.line) === JSON.stringify([
    { start: 1000, value: "First line" }, { start: 2500, value: "Twice sung" }, { start: 4250, value: "Third line" }, { start: 5000, value: "Twice sung" }]),
    `LRC lines by start time, a line with two stamps twice, tag lines dropped: ${JSON.stringify(l?.line)}`);
  const viaClient = await api.getLyricsBySongId({ id: song("Fifth") });
  const u = viaClient.lyricsList?.structuredLyrics;
  check(u?.length === 1 && u[0].synced === false && JSON.stringify(u[0].line) === JSON.stringify([{ value: FIFTH_LINES[0] }, { value: FIFTH_LINES[1] }]),
    `a Vorbis LYRICS comment: unsynced lines without start: ${JSON.stringify(u)}`);
  const none = await call(api, "getLyricsBySongId", { id: song("Pink Rain") });
  validate("getLyricsBySongId without lyrics", none.body, { lyricsList: ref("LyricsList") });
  check(JSON.stringify(none.body["subsonic-response"].lyricsList) === '{"structuredLyrics":[]}', `no lyrics: an empty list (got ${JSON.stringify(none.body["subsonic-response"].lyricsList)})`);
  const unknown = await call(api, "getLyricsBySongId", { id: "987654" });
  validate("getLyricsBySongId of an unknown id", unknown.body);
  check(unknown.body["subsonic-response"].error?.code === 70, "getLyricsBySongId of an unknown id: error 70");
  // XML: each line an element, its start an attribute, its text the element's text.
  const xml = await (await api.custom("getLyricsBySongId", { id: song("High Whistle"), f: "xml" })).text();
  check(xml.includes('<line start="1000">First line</line>'), `getLyricsBySongId as XML: ${xml.slice(0, 400)}`);

  const found = await call(api, "getLyrics", { artist: "sine ensemble", title: "fifth" });
  validate("getLyrics", found.body, { lyrics: ref("Lyrics") });
  check(JSON.stringify(found.body["subsonic-response"].lyrics) === JSON.stringify({ value: FIFTH_LINES.join("\n"), artist: "Sine Ensemble", title: "Fifth" }),
    `getLyrics by artist and title (any case): ${JSON.stringify(found.body["subsonic-response"].lyrics)}`);
  // As XML: the lyrics are the <lyrics> element's text, escaped, and read back the same.
  const asXml = parseXml(await (await api.custom("getLyrics", { artist: "sine ensemble", title: "fifth", f: "xml" })).text());
  const lyricsElement = asXml.children.find((c) => c.name === "lyrics");
  check(lyricsElement?.text === FIFTH_LINES.join("\n") && lyricsElement.attributes.title === "Fifth" && !("value" in lyricsElement.attributes),
    `getLyrics as XML: the text of <lyrics> (got ${JSON.stringify(lyricsElement)})`);
  const lrc = await api.getLyrics({ title: "High Whistle" });
  check(lrc.lyrics?.value === "First line\nTwice sung\nThird line\nTwice sung", `getLyrics of LRC lyrics: the text without stamps: ${JSON.stringify(lrc.lyrics)}`);
  const nothing = await call(api, "getLyrics", { artist: "Nobody", title: "Nothing" });
  validate("getLyrics without a match", nothing.body, { lyrics: ref("Lyrics") });
  check(JSON.stringify(nothing.body["subsonic-response"].lyrics) === '{"value":""}', `getLyrics without a match: empty lyrics (got ${JSON.stringify(nothing.body["subsonic-response"].lyrics)})`);
}

// --- the extensions ------------------------------------------------------------------------
{
  const names = new Map((await api.getOpenSubsonicExtensions()).openSubsonicExtensions.map((e) => [e.name, e.versions]));
  for (const need of ["songLyrics", "transcodeOffset"]) check(names.get(need)?.includes(1), `getOpenSubsonicExtensions lists ${need} 1`);
}

done("media");
