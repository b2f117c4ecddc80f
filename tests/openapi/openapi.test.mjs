// Every route of `clapsearch serve` against src/server/openapi.json (tests/openapi/run.sh starts
// the servers). Whatever a route answers, its status must be one the document lists for that
// operation, and its body must match the documented schema: Ajv compiles the document's schemas,
// and every object schema of a response must say additionalProperties (false where the shape is
// fixed), so a field the document does not list fails. The cases are answers and typical
// errors of each route; the checks do not assume which 4xx a route gives (that is the
// document's business), only that it is documented and shaped as documented. Every operation
// must be seen answering 2xx at least once, so a route added without a case here fails.
//
//   node openapi.test.mjs --url URL --token-url URL --strict-url URL --strict-db DB --token T --doc openapi.json \
//     --clip WAV --long-clip FLAC --not-audio FILE
// (the strict server: --queue 0 --head-timeout 1, serving its own copy of the index, STRICT_DB,
// which the test damages to see 503s)
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv from "ajv";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
for (const need of ["url", "token-url", "strict-url", "strict-db", "token", "doc", "clip", "long-clip", "not-audio"])
  if (!args[need]) throw new Error(`missing --${need}`);

const docText = readFileSync(args.doc, "utf8");
const doc = JSON.parse(docText);
let passed = 0, failed = 0;
const problems = [];
function check(ok, what) {
  if (ok) passed++;
  else failed++, problems.push(what), console.log(`not ok - ${what}`);
  return ok;
}

// --- the document -------------------------------------------------------------------------------
{
  const res = await new Validator().validate(structuredClone(doc));
  check(res.valid, `the document is valid OpenAPI ${doc.openapi}: ${JSON.stringify(res.errors)}`);
}

const deref = (node) => {
  while (node && node.$ref) {
    const parts = node.$ref.replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    node = parts.reduce((n, p) => n[p], doc);
  }
  return node;
};

// Strictness of the document itself: every object schema a response can carry says which
// fields it requires and whether others may appear.
function strictObjects(schema, where, seen = new Set()) {
  if (!schema || typeof schema !== "object" || seen.has(schema)) return;
  seen.add(schema);
  if (schema.$ref) return strictObjects(deref(schema), `${where} -> ${schema.$ref}`, seen);
  if (schema.type === "object") {
    check("additionalProperties" in schema, `${where}: an object schema without additionalProperties`);
    if (schema.properties) check(Array.isArray(schema.required), `${where}: an object schema without a required list`);
  }
  for (const [k, v] of Object.entries(schema.properties || {})) strictObjects(v, `${where}.${k}`, seen);
  for (const key of ["items", "additionalProperties"]) if (typeof schema[key] === "object") strictObjects(schema[key], `${where}[]`, seen);
  for (const key of ["oneOf", "anyOf", "allOf"]) (schema[key] || []).forEach((s, i) => strictObjects(s, `${where}.${key}[${i}]`, seen));
}

// The operations, and a matcher from a request path to its documented path.
const operations = [];
for (const [path, item] of Object.entries(doc.paths)) {
  const pattern = new RegExp("^" + path.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+") + "$");
  for (const [method, op] of Object.entries(item)) {
    if (!["get", "post", "put", "delete", "patch"].includes(method)) continue;
    operations.push({ path, method, op, pattern, id: op.operationId, seen2xx: false });
    check(typeof op.operationId === "string", `${method} ${path}: no operationId`);
    for (const [status, r] of Object.entries(op.responses))
      for (const [type, media] of Object.entries(deref(r).content || {}))
        strictObjects(media.schema, `${method} ${path} ${status} ${type}`);
  }
}

// Ajv over the document's schemas: "#/components/schemas/X" becomes a reference into one schema
// that holds them all. OpenAPI 3.0's `nullable` is Ajv's own; `example` is an annotation.
const SCHEMAS_ID = "urn:clapsearch:openapi-schemas";
const rewriteRefs = (node) => {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === "$ref" && typeof v === "string" ? v.replace("#/components/schemas/", `${SCHEMAS_ID}#/$defs/`) : rewriteRefs(v);
  return out;
};
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: true });
ajv.addKeyword("example");
ajv.addFormat("binary", true);
ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewriteRefs(doc.components.schemas) });
const compiled = new Map();
const validatorOf = (schema) => {
  if (!compiled.has(schema)) compiled.set(schema, ajv.compile(rewriteRefs(schema)));
  return compiled.get(schema);
};

// --- requests -----------------------------------------------------------------------------------
function request(base, method, path, { headers = {}, body } = {}) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    // Content-Length always with a body: Node sends a GET's body with neither it nor chunked
    // encoding, and the server rightly reads no body then.
    const length = body === undefined ? {} : { "Content-Length": String(Buffer.byteLength(body)) };
    const req = http.request(url, { method, headers: { Connection: "close", ...length, ...headers } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Validates one answer against the operation the request's method and path name.
function validate(method, path, res, label) {
  const bare = path.split("?")[0];
  const entry = operations.find((o) => o.method === method.toLowerCase() && o.pattern.test(bare));
  if (!check(entry, `${label}: no documented operation for ${method} ${bare}`)) return;
  const documented = entry.op.responses[String(res.status)] ?? entry.op.responses.default;
  if (!check(documented, `${label}: ${method} ${bare} answered ${res.status}, which ${entry.id ?? `${method} ${bare}`} does not document (${res.body.toString().slice(0, 200)})`)) return;
  const response = deref(documented);
  if (res.status >= 200 && res.status < 300) entry.seen2xx = true;
  const content = response.content || {};
  const type = (res.headers["content-type"] || "").split(";")[0].trim();
  if (Object.keys(content).length === 0) {
    check(res.body.length === 0, `${label}: ${res.status} documents no body, but one came (${type})`);
    return;
  }
  const mediaKey = Object.keys(content).find((k) => k === type || (k.endsWith("/*") && type.startsWith(k.slice(0, -1))));
  if (!check(mediaKey, `${label}: ${res.status} answered ${type || "no Content-Type"}, documented ${Object.keys(content).join(", ")}`)) return;
  const schema = content[mediaKey].schema;
  if (mediaKey !== "application/json") {
    check(res.body.length > 0, `${label}: an empty ${type} body`);
    return;
  }
  let json;
  try {
    json = JSON.parse(res.body.toString("utf8"));
  } catch (e) {
    check(false, `${label}: the body is not JSON: ${e.message}`);
    return;
  }
  const v = validatorOf(schema);
  const why = (e) => `${e.instancePath || "the body"} ${e.message}${e.params?.additionalProperty ? ` ("${e.params.additionalProperty}")` : ""}`;
  if (!v(json)) check(false, `${label}: ${res.status} body does not match the document: ${[...new Set(v.errors.map(why))].slice(0, 8).join("; ")}`);
  else check(true, label);
  return json;
}

async function call(method, path, opts = {}, base = args.url) {
  const res = await request(base, method, path, opts);
  const label = `${method} ${path.length > 90 ? path.slice(0, 90) + "…" : path}${opts.label ? ` (${opts.label})` : ""}`;
  console.log(`${res.status} ${label}`);
  const json = validate(method, path, res, label);
  return { ...res, json };
}
const q = (params) => new URLSearchParams(params).toString();

// --- the cases ------------------------------------------------------------------------------------
const served = await call("GET", "/api/openapi.json");
check(served.body.toString("utf8") === docText, "GET /api/openapi.json serves this document (rebuild clapsearch after editing it)");

await call("GET", "/api/status");
const list = (await call("GET", "/api/tracks?limit=50")).json;
const ok = list.tracks.filter((t) => t.status === "ok");
const broken = list.tracks.find((t) => t.status === "error");
check(ok.length >= 4 && broken, "the library has four audio tracks and one error track");
const [a, b] = ok;
const tones = ok.find((t) => t.album === "Tones");

await call("GET", "/api/tracks?status=error");
await call("GET", "/api/tracks?" + q({ text: "concert", offset: 0, limit: 2 }));
await call("GET", "/api/tracks?status=bogus");
await call("GET", "/api/tracks?limit=abc");
await call("GET", `/api/tracks/${a.track_id}`);
await call("GET", `/api/tracks/${broken.track_id}`);
await call("GET", "/api/tracks/999999");
await call("GET", "/api/tracks/abc");

await call("GET", `/api/tracks/${a.track_id}/audio`);
await call("GET", `/api/tracks/${a.track_id}/audio`, { headers: { Range: "bytes=0-99" }, label: "a range" });
await call("GET", `/api/tracks/${a.track_id}/audio`, { headers: { Range: "bytes=99999999-" }, label: "past the end" });
await call("GET", `/api/tracks/${broken.track_id}/audio`);
await call("GET", "/api/tracks/999999/audio");

await call("GET", `/api/tracks/${a.track_id}/scores?q=a+pure+tone`);
await call("GET", `/api/tracks/${a.track_id}/scores?` + q({ q: "noise", aggregate: "max", high: 0.5, moderate: 0.1 }));
await call("GET", `/api/tracks/${a.track_id}/scores`);
await call("GET", `/api/tracks/${a.track_id}/scores?q=x&aggregate=median`);
await call("GET", "/api/tracks/999999/scores?q=x");

await call("GET", "/api/search?q=a+pure+tone&q=rain");
await call("GET", "/api/search?" + q({ q: "tone", k: 3, aggregate: "max", per_artist: 1, diversity: 0.5, where: "duration < 5:00" }));
await call("GET", "/api/search?" + q({ seed: a.track_id, not: "noise" }));
await call("GET", "/api/search?q=tone&seed=" + a.track_id);
await call("GET", "/api/search");
await call("GET", "/api/search?q=tone&k=0");
await call("GET", "/api/search?q=tone&where=" + encodeURIComponent("genre = "));
await call("GET", "/api/search?q=tone&seed=999999");

await call("GET", `/api/similar?track=${a.track_id}`);
await call("GET", `/api/similar?` + q({ track: a.track_id, k: 2, diversity: 0.3, exclude: "false" }));
await call("GET", `/api/similar?` + q({ seed: a.track_id, text: "rain", not_like: b.track_id }));
await call("GET", "/api/similar");
await call("GET", "/api/similar?track=999999");
await call("GET", "/api/similar?track=abc");

await call("GET", `/api/like?track=${a.track_id}`);
await call("GET", `/api/like?` + q({ track: a.track_id, exclude_self: 1, per_chunk: 2, k: 3 }));
await call("GET", `/api/like?` + q({ seed: a.track_id, text: "rain" }));
await call("GET", "/api/like");
await call("GET", "/api/like?track=999999");

const clip = readFileSync(args.clip);
const boundary = "----clapsearch-openapi-test";
const multipart = (name, bytes) =>
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
const form = { "Content-Type": `multipart/form-data; boundary=${boundary}` };
await call("POST", "/api/like?k=3", { headers: form, body: multipart("clip.wav", clip), label: "multipart" });
await call("POST", "/api/like", { headers: { "Content-Type": "application/octet-stream" }, body: clip, label: "raw body" });
await call("POST", `/api/like?seed=${b.track_id}&text=rain`, { headers: form, body: multipart("clip.wav", clip), label: "with terms" });
await call("POST", "/api/like", { headers: form, body: multipart("empty.wav", Buffer.alloc(0)), label: "an empty file" });
await call("POST", "/api/like", { headers: form, body: multipart("broken.mp3", readFileSync(args["not-audio"])), label: "not audio" });
await call("POST", "/api/like", { label: "no body" });
// (A small body: the server refuses it before reading, and a large one would still be in flight.)
await call("POST", "/api/like", { headers: { "Content-Encoding": "gzip" }, body: clip.subarray(0, 512), label: "compressed" });

await call("GET", "/api/classify?label=tone&label=noise");
await call("GET", "/api/classify?" + q({ label: "tone", top: 1, template: "the sound of {}" }) + "&label=noise&label=rain");
await call("GET", "/api/classify?label=tone");

await call("GET", "/api/analyze?q=tone&q=rain");
await call("GET", "/api/analyze?q=tone&format=json");
await call("GET", "/api/analyze?q=tone&format=xml");
await call("GET", "/api/analyze");

await call("GET", "/api/map");

await call("GET", "/api/users");
const taste = (await call("GET", "/api/taste")).json;
check(taste?.centres?.length >= 1 && taste.centres[0].tracks.length >= 1, "ann's history gives a taste centre with its songs");
await call("GET", "/api/taste?" + q({ user: "ANN", nearest: 2, max_centres: 2, half_life: 30, exclude: "false" }));
await call("GET", "/api/taste?user=nobody");
await call("GET", "/api/taste?user=");
await call("GET", "/api/taste?nearest=abc");
const mixes = (await call("GET", "/api/mixes")).json;
check(mixes?.mixes?.length >= 1 && mixes.mixes[0].tracks.length >= 1, "clapsearch mix saved ann's mixes");
await call("GET", "/api/mixes?user=ann");
await call("GET", "/api/mixes?user=nobody");
await call("GET", "/api/mixes?user=");

await call("GET", "/api/artists?q=noise");
await call("GET", "/api/artists?" + q({ like: "Sine Ensemble", k: 3 }));
await call("GET", "/api/artists");
await call("GET", "/api/artists?like=Nobody+Known");
await call("GET", "/api/albums?q=weather");
await call("GET", "/api/albums?" + q({ like: "Tones", artist: "Sine Ensemble" }));
await call("GET", "/api/albums?like=---");
await call("GET", "/api/albums?like=No+Such+Album");

await call("GET", `/api/sonic/resolve?track=${a.track_id}`);
await call("GET", "/api/sonic/resolve?" + q({ path: tones.display_path }));
await call("GET", "/api/sonic/resolve?" + q({ artist: tones.artist, title: tones.title }));
await call("GET", "/api/sonic/resolve?" + q({ artist: tones.artist, name: tones.title, durationMs: Math.round(tones.duration_s * 1000) }));
await call("GET", "/api/sonic/resolve");
await call("GET", "/api/sonic/resolve?path=no/such/file.flac");
await call("GET", "/api/sonic/resolve?track=-1");
await call("GET", "/api/sonic/resolve?track=abc");
await call("GET", "/api/sonic/resolve?duration=abc&path=x");

await call("GET", `/api/sonic/getSonicSimilarTracks?` + q({ track: a.track_id, count: 2, perArtist: 1, excludeDuplicates: "false" }));
await call("GET", `/api/sonic/getSonicSimilarTracks?` + q({ artist: tones.artist, name: tones.title, duplicateCosine: 0.9 }));
await call("GET", "/api/sonic/getSonicSimilarTracks");
await call("GET", "/api/sonic/getSonicSimilarTracks?track=999999");
await call("GET", `/api/sonic/getSonicSimilarTracks?track=${a.track_id}&count=0`);
await call("GET", `/api/sonic/getSonicSimilarTracks?id=${a.track_id}&count=2`);
await call("GET", `/api/sonic/getSonicSimilarTracks?id=${a.track_id}&track=${b.track_id}`);

await call("GET", `/api/sonic/findSonicPath?` + q({ startTrack: a.track_id, endTrack: b.track_id, count: 3 }));
await call("GET", `/api/sonic/findSonicPath?` + q({ startArtist: tones.artist, startName: tones.title, endTrack: b.track_id === tones.track_id ? a.track_id : b.track_id }));
await call("GET", `/api/sonic/findSonicPath?` + q({ startTrack: a.track_id, endTrack: a.track_id }));
await call("GET", `/api/sonic/findSonicPath?startTrack=${a.track_id}`);
await call("GET", `/api/sonic/findSonicPath?` + q({ startSongId: a.track_id, endSongId: b.track_id, count: 3 }));
await call("GET", `/api/sonic/findSonicPath?` + q({ startSongId: a.track_id, endSongId: b.track_id, count: 0 }));
await call("GET", `/api/sonic/findSonicPath?` + q({ startTrack: a.track_id, endPath: "no/such.flac" }));

await call("GET", "/api/sonic/search?" + q({ q: "rain", count: 2, perArtist: 1, where: "genre = \"Test\"" }));
await call("GET", "/api/sonic/search");
await call("GET", "/api/sonic/search?q=rain&where=" + encodeURIComponent("genre ="));

await call("GET", "/api/sonic/similarToArtist?artist=Sine+Ensemble");
await call("GET", "/api/sonic/similarToArtist?artist=Nobody+Known");
await call("GET", "/api/sonic/similarToArtist");
await call("GET", "/api/sonic/similarToAlbum?" + q({ album: "Tones", artist: "Sine Ensemble", count: 2 }));
await call("GET", "/api/sonic/similarToAlbum?album=No+Such+Album");
await call("GET", "/api/sonic/similarToAlbum");

// Every operation: no token on the token server (401), a foreign Host on the open one (421), a
// body where none is taken (413), an 8 KB request line (414).
const sample = (path) => path.replace(/\{id\}/g, String(a.track_id));
for (const o of operations) {
  const path = sample(o.path);
  const method = o.method.toUpperCase();
  await call(method, path, { label: "no token" }, args["token-url"]);
  await call(method, path, { headers: { Host: "attacker.example" }, label: "a foreign Host" });
  if (!(o.method === "post" && o.path === "/api/like"))
    await call(method, path, { headers: { "Content-Type": "text/plain" }, body: "unexpected", label: "a body" });
  await call(method, `${path}?where=${"x".repeat(9000)}`, { label: "a 9 KB request line" });
}
// With the token the routes answer; ?token= is taken on the audio route only (the document's
// security: an audio element cannot send a header), elsewhere it is a 401.
const bearer = { Authorization: `Bearer ${args.token}` };
await call("GET", "/api/status", { headers: bearer, label: "with the token" }, args["token-url"]);
await call("GET", `/api/tracks/${a.track_id}`, { headers: bearer, label: "with the token" }, args["token-url"]);
const audio = await call("GET", `/api/tracks/${a.track_id}/audio?token=${args.token}`, { label: "?token=" }, args["token-url"]);
check(audio.status === 200, `the audio route takes ?token= (answered ${audio.status})`);
const status = await call("GET", `/api/status?token=${args.token}`, { label: "?token=" }, args["token-url"]);
check(status.status === 401, `?token= is refused outside the audio route (answered ${status.status})`);

// A parameter given twice (only q, label, seed, text, not and not_like repeat) is a 400 on every
// route, those that take no parameters too.
for (const o of operations) await call(o.method.toUpperCase(), `${sample(o.path)}?zz=1&zz=2`, { label: "a parameter given twice" });

// The third server (--queue 0 --head-timeout 1, on its own copy of the index): what no request
// to the first two can make it send.
const strict = args["strict-url"];
// 408: a head that never ends, on every route at once (the server closes it after 1 s).
const unfinishedHead = (method, path) =>
  new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(strict).port), "127.0.0.1");
    const chunks = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf("\r\n\r\n");
      const head = raw.subarray(0, end < 0 ? raw.length : end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(head[0].split(" ")[1]), headers, body: end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4) });
    });
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  });
const heads = await Promise.all(operations.map(async (o) => {
  const path = sample(o.path), method = o.method.toUpperCase();
  return { method, path, res: await unfinishedHead(method, path) };
}));
for (const { method, path, res } of heads) {
  console.log(`${res.status} ${method} ${path} (a head that never ends)`);
  validate(method, path, res, `${method} ${path} (a head that never ends)`);
  check(res.status === 408, `${method} ${path}: a head that never ends is a 408 (answered ${res.status})`);
}
// 429: while a 4-minute query holds the one model run, every route that embeds a text is asked
// for new texts; with no queue (--queue 0) they are refused at once. (The long query may find
// the model busy itself, e.g. with the server's start-up work: then it is sent again.)
{
  const long = readFileSync(args["long-clip"]);
  const textual = {
    "/api/search": (t) => `/api/search?${q({ q: t })}`,
    "/api/tracks/{id}/scores": (t) => `/api/tracks/${a.track_id}/scores?${q({ q: t })}`,
    "/api/similar": (t) => `/api/similar?${q({ track: a.track_id, text: t })}`,
    "/api/like": (t) => `/api/like?${q({ track: a.track_id, text: t })}`,
    "/api/classify": (t) => `/api/classify?${q({ label: t })}&label=other`,
    "/api/analyze": (t) => `/api/analyze?${q({ q: t })}`,
    "/api/sonic/search": (t) => `/api/sonic/search?${q({ q: t })}`,
  };
  const refused = new Set();
  for (let attempt = 0; attempt < 20 && refused.size === 0; ++attempt) {
    let done = false;
    const slow = call("POST", "/api/like", { headers: form, body: multipart("long.flac", long), label: "a long query" }, strict).finally(() => (done = true));
    for (let i = 0; !done; ++i) {
      for (const [route, make] of Object.entries(textual)) {
        const res = await call("GET", make(`an unseen text ${attempt} ${i} ${route} ${Date.now()}`), { label: "while the model is busy" }, strict);
        if (res.status === 429) {
          refused.add(route);
          check(res.headers["retry-after"] !== undefined, `${route}: a 429 says Retry-After`);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await slow;
  }
  check(refused.size > 0, "no route answered 429 while the model was busy with the long query");
  console.log(`429 seen on: ${[...refused].join(", ")}`);
}
// 503: the index's file damaged under the server. A route that needs the file says so (503, the
// server's trouble), one that answers from what the server holds in memory may still answer;
// none blames the request (400).
{
  writeFileSync(args["strict-db"], "this is not a database\n");
  for (const suffix of ["-wal", "-shm"]) rmSync(args["strict-db"] + suffix, { force: true });
  let down = false;
  for (let i = 0; i < 100 && !down; ++i) {
    down = (await request(strict, "GET", "/api/status")).status === 503;
    if (!down) await new Promise((r) => setTimeout(r, 100));
  }
  check(down, "GET /api/status never answered 503 after the index was damaged");
  for (const o of operations) {
    const path = sample(o.path), method = o.method.toUpperCase();
    const upload = o.method === "post" ? { headers: form, body: multipart("clip.wav", clip) } : {};
    const res = await call(method, path, { ...upload, label: "the index damaged" }, strict);
    // (A 400 for what the request lacks is still right: a route without its parameters.)
    const aboutTheIndex = res.body.toString().includes("strict.db");
    check(!(res.status === 400 && aboutTheIndex), `${method} ${path}: a damaged index is not the request's fault, but it answered 400 (${res.body.toString().slice(0, 200)})`);
  }
}

for (const o of operations) check(o.seen2xx, `${o.method.toUpperCase()} ${o.path} (${o.id}) never answered 2xx here: add a case`);

console.log(`\nopenapi: ${passed} passed, ${failed} failed`);
if (failed) {
  console.log(problems.map((p) => `  - ${p}`).join("\n"));
  process.exit(1);
}
