// What every /rest/ test shares (run.sh starts the server and passes its URL and the users'
// credentials in the environment): the real subsonic-api client, the checks, and validation of
// every answer against the spec's schemas (schemas.mjs). A test file runs its cases and calls
// done() at the end, which exits non-zero when any check failed.
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { spawn } from "node:child_process";
import { SubsonicAPI } from "subsonic-api";
import { endpoint, failure } from "./schemas.mjs";
import { compareForms, parseXml } from "./xml.mjs";
export { compareForms };

export const env = {
  url: process.env.SUBSONIC_URL,
  user: process.env.SUBSONIC_USER,
  password: process.env.SUBSONIC_PASSWORD,
  apiKey: process.env.SUBSONIC_API_KEY,
  music: process.env.SUBSONIC_MUSIC,
  db: process.env.SUBSONIC_DB,
  cli: process.env.SUBSONIC_CLI,
};
for (const [k, v] of Object.entries(env)) if (!v) throw new Error(`run by run.sh: ${k} is not set`);

// The CLI run while the server answers this file's requests (user add/remove, API keys, an index
// run): asynchronously, so the client's connection pool keeps running its timers. A synchronous
// run (execFileSync) blocked node's event loop for longer than the server's keep-alive under load,
// and the next request went out on the pooled connection the server had closed in the meantime
// ("other side closed": auth.test.mjs at load 24). Returns its standard output; rejects, with its
// standard error, when it exits non-zero.
export function runCli(args, input = "") {
  return new Promise((resolve, reject) => {
    const child = spawn(env.cli, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`clapsearch ${args.join(" ")}: exit ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

// RFC 9112 §9.3.1.1: a server may close an idle keep-alive connection at any moment (this one after
// 5 s, or after 0.5 s while another connection waits for a thread: docs/security.md), and a request
// sent on it at that moment gets no answer; a client retries it once on a new connection (Android's
// OkHttp does by default). Node's fetch does not, and on this 2-core machine at load 20+ the race
// failed auth.test.mjs and userdata.test.mjs now and then ("other side closed"). So the tests'
// fetch retries once, only a request whose connection closed without an answer; done() prints
// how many. A server that died refuses the retry, which then fails the test.
let retried = 0;
export async function fetchRetrying(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    const code = e?.cause?.code;
    if (!(e instanceof TypeError) || (code !== "UND_ERR_SOCKET" && code !== "ECONNRESET")) throw e;
    retried++;
    return await fetch(url, init);
  }
}

let passed = 0, failed = 0;
export function check(ok, what) {
  if (ok) passed++;
  else failed++, console.log(`not ok - ${what}`);
  return ok;
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new Map();
// Validates a whole parsed answer ({"subsonic-response": ...}) against the envelope carrying
// `members` (a map of member name -> schema, from schemas.mjs), or against the failure envelope.
export function validate(what, answer, members) {
  const key = members === undefined ? "failure" : JSON.stringify(members);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(members === undefined ? failure : endpoint(members)));
  const v = compiled.get(key);
  return check(v(answer), `${what}: the answer does not follow the spec: ${ajv.errorsText(v.errors)} in ${JSON.stringify(answer).slice(0, 600)}`);
}

// Endpoints asked a second time as XML (see xmlChecked): those that only read. Binary answers and
// those that change something (a second star, scrobble or createPlaylist would change what the
// tests check) are not asked twice.
const WRITES = new Set(["star", "unstar", "setRating", "scrobble", "createPlaylist", "updatePlaylist", "deletePlaylist",
  "startScan", "stream", "download", "getCoverArt", "getAvatar", "hls.m3u8", "savePlayQueue", "savePlayQueueByIndex",
  "createBookmark", "deleteBookmark", "reportPlayback"]);
// Answers that differ between two requests: only where each member is in the XML is checked.
const UNSTABLE = new Set(["getRandomSongs", "getNowPlaying", "getScanStatus"]);
export let xmlAnswersChecked = 0;

// A fetch for the client that, for every read-only endpoint answered as JSON (ok or failed), asks
// the same request with f=xml and checks the XML against the JSON by the XSD's rules (xml.mjs),
// its root <subsonic-response> in the spec's namespace: every endpoint the tests call is checked
// in both forms, its failures too.
async function xmlChecked(url, init = {}) {
  const res = await fetchRetrying(url, init);
  const request = new URL(url);
  const params = new URLSearchParams(init.method === "POST" ? init.body : request.search);
  const name = request.pathname.split("/").pop().replace(/\.view$/, "");
  if (params.get("f") !== "json" || WRITES.has(name) || !(res.headers.get("content-type") || "").includes("json")) return res;
  const json = await res.clone().json().catch(() => undefined);
  const status = json?.["subsonic-response"]?.status;
  // A failure is an envelope with status "failed" in an HTTP 200 answer (the spec's "Error
  // handling"; Subsonic apps read the envelope and show its message, not an HTTP error).
  if (status === "failed") check(res.status === 200, `${name}: a failed envelope in an HTTP ${res.status} answer (the spec: 200)`);
  // Failures are asked as XML too, but not wrong credentials (40): the second attempt would count
  // against the limit on wrong passwords that auth.test.mjs checks.
  if (status !== "ok" && (status !== "failed" || json["subsonic-response"].error?.code === 40)) return res;
  params.set("f", "xml");
  const again = init.method === "POST" ? await fetchRetrying(url, { ...init, body: params.toString() })
    : await fetchRetrying(`${request.origin}${request.pathname}?${params}`, init);
  const text = await again.text();
  let problems;
  try {
    const random = UNSTABLE.has(name) || (name.startsWith("getAlbumList") && params.get("type") === "random");
    const root = parseXml(text);
    // Every answer in the spec's namespace, as application/xml (a client that reads the XML by
    // namespace finds nothing in another one).
    problems = [];
    if (root.name !== "subsonic-response" || root.attributes.xmlns !== "http://subsonic.org/restapi")
      problems.push(`the root is <${root.name}> in namespace ${JSON.stringify(root.attributes.xmlns)}, not <subsonic-response> in http://subsonic.org/restapi`);
    if (!(again.headers.get("content-type") || "").startsWith("application/xml")) problems.push(`Content-Type ${again.headers.get("content-type")}`);
    if (again.status !== res.status) problems.push(`HTTP ${again.status} as XML, ${res.status} as JSON`);
    problems.push(...compareForms(json["subsonic-response"], root, "subsonic-response", random));
  } catch (e) {
    problems = [e.message];
  }
  check(problems.length === 0, `${name} as XML does not carry what its JSON does, as the XSD places it:\n  ${problems.slice(0, 8).join("\n  ")}\n  in ${text.slice(0, 500)}`);
  xmlAnswersChecked++;
  return res;
}

// The client exactly as its README configures it (the base URL; it adds rest/ itself), with a
// fetch that also checks each answer's XML form (the client's own `fetch` option).
// `xml: false`: no second request, for polling while the library changes (the XML asked a moment
// after the JSON may show the newer library, which is no fault of either form).
export function client(options = {}) {
  const auth = options.apiKey ? { apiKey: options.apiKey } : { username: options.user ?? env.user, password: options.password ?? env.password };
  return new SubsonicAPI({ url: env.url, auth, post: options.post ?? false, fetch: options.xml === false ? fetchRetrying : xmlChecked });
}

// A raw GET of /rest/NAME with the given query (for what the client cannot send: wrong or
// conflicting credentials, XML); returns {status, type, text, json}.
export async function raw(name, params) {
  const url = new URL(`rest/${name}`, env.url);
  for (const [k, v] of Object.entries(params)) for (const one of [].concat(v)) url.searchParams.append(k, String(one));
  const res = await fetchRetrying(url);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, type: res.headers.get("content-type") || "", text, json };
}

// An endpoint that changes something (not asked twice by xmlChecked) asked once as XML through the
// client (`f` is the client's own parameter, which a request's parameters may set): the parsed
// root, checked to be <subsonic-response> in the spec's namespace with status ok, as
// application/xml.
export async function xmlOnce(api, name, params = {}) {
  const res = await api.custom(name, { ...params, f: "xml" });
  const text = await res.text();
  let root;
  try { root = parseXml(text); } catch (e) { check(false, `${name} as XML: ${e.message}`); return undefined; }
  check(root.name === "subsonic-response" && root.attributes.xmlns === "http://subsonic.org/restapi" && root.attributes.status === "ok" &&
    (res.headers.get("content-type") || "").startsWith("application/xml"), `${name} as XML: ok in the spec's namespace: ${text.slice(0, 300)}`);
  return root;
}

// The answer's subsonic-response JSON as the client would parse it (customJSON returns the
// inner object; this keeps the envelope for validation).
export async function call(api, name, params = {}) {
  const res = await api.custom(name, params);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), headers: res.headers };
}

export function done(name) {
  console.log(`${name}: ${passed} checks passed, ${failed} failed (${xmlAnswersChecked} answers also checked as XML` +
    `${retried ? `; ${retried} requests retried on a connection the server had closed` : ""})`);
  process.exit(failed ? 1 : 0);
}
