// The play queue and bookmarks, per user (issue 54): getPlayQueue and savePlayQueue through the
// real client (GET and form POST), the indexBasedQueue extension's getPlayQueueByIndex and
// savePlayQueueByIndex (which the client lacks) by name, getBookmarks, createBookmark and
// deleteBookmark through the client; the errors the spec names; a second user who sees none of
// it; and the queue read by a second server process on the same index (a restart). Every JSON
// answer validated against schemas written from the spec (openapi/schemas/PlayQueue.json,
// PlayQueueByIndex.json, Bookmark.json, Bookmarks.json); the read-only answers also as XML
// (lib.mjs). move.test.mjs checks that a move and `index --rebuild` keep both.
import { spawn } from "node:child_process";
import { check, validate, client, call, done, env, raw, xmlOnce, runCli, fetchRetrying } from "./lib.mjs";
import { strict, arrayOf, ref, string, integer, dateTime } from "./schemas.mjs";

const queueFields = { position: integer, username: string, changed: dateTime, changedBy: string, entry: arrayOf("Child") };
const PlayQueue = strict({ current: string, ...queueFields }, ["username", "changed", "changedBy"]);
const PlayQueueByIndex = strict({ currentIndex: integer, ...queueFields }, ["username", "changed", "changedBy"]);
const Bookmark = strict({ position: integer, username: string, comment: string, created: dateTime, changed: dateTime, entry: ref("Child") },
  ["position", "username", "created", "changed", "entry"]);
const Bookmarks = strict({ bookmark: { type: "array", items: Bookmark } });

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
// A saved queue with entries carries every member; nothing saved answers without one (as the
// client's own type has it: Partial<{playQueue}>), so an app offers no empty queue to resume.
const queue = async (what, as = api) => (await ok(what, "getPlayQueue.view", {}, { playQueue: PlayQueue }, as)).playQueue;
const queueByIndex = async (what, as = api) =>
  (await ok(what, "getPlayQueueByIndex.view", {}, { playQueueByIndex: PlayQueueByIndex }, as)).playQueueByIndex;
const noQueue = async (what, as = api) => {
  const r = await ok(what, "getPlayQueue.view", {}, {}, as);
  const i = await ok(`${what} (by index)`, "getPlayQueueByIndex.view", {}, {}, as);
  check(r.playQueue === undefined && i.playQueueByIndex === undefined, `${what}: no queue (${JSON.stringify([r, i]).slice(0, 300)})`);
};

{
  const names = new Map((await api.getOpenSubsonicExtensions()).openSubsonicExtensions.map((e) => [e.name, e.versions]));
  check(names.get("indexBasedQueue")?.includes(1), `getOpenSubsonicExtensions lists indexBasedQueue 1: ${JSON.stringify([...names])}`);
}

// --- savePlayQueue / getPlayQueue ---
await noQueue("getPlayQueue before any save");
const t0 = Date.now();
await api.savePlayQueue({ id: ["1", "3", "2"], current: "3", position: 61234 });
let q = await queue("getPlayQueue after a save");
check(JSON.stringify(ids(q.entry)) === '["1","3","2"]' && q.current === "3" && q.position === 61234 && q.username === env.user &&
  q.changedBy === "subsonic-api" && Math.abs(Date.parse(q.changed) - t0) < 5000,
  `getPlayQueue answers the saved queue, who saved it and when: ${JSON.stringify(q).slice(0, 400)}`);
{
  const viaClient = (await api.getPlayQueue()).playQueue;
  check(viaClient?.current === "3" && viaClient.entry.length === 3, "the client's getPlayQueue reads it");
  const i = await queueByIndex("getPlayQueueByIndex of an id-saved queue");
  check(i.currentIndex === 1 && i.position === 61234 && JSON.stringify(ids(i.entry)) === '["1","3","2"]', `getPlayQueueByIndex: ${JSON.stringify(i).slice(0, 300)}`);
}
// A form POST (the formPost extension) replaces it; no position is position 0.
await client({ post: true }).savePlayQueue({ id: ["2", "1"], current: "1" });
q = await queue("getPlayQueue after a form POST save");
check(JSON.stringify(ids(q.entry)) === '["2","1"]' && q.current === "1" && (q.position ?? 0) === 0, `a form POST save: ${JSON.stringify(q).slice(0, 300)}`);
// The errors: current missing (10), current not in the queue (10), an unknown id (70), a bad position.
await fails("savePlayQueue without current", "savePlayQueue.view", { id: ["1", "2"] }, 10);
await fails("savePlayQueue with current not in the queue", "savePlayQueue.view", { id: ["1", "2"], current: "3" }, 10);
await fails("savePlayQueue of a song not in the library", "savePlayQueue.view", { id: ["1", "999999"], current: "1" }, 70);
await fails("savePlayQueue with a negative position", "savePlayQueue.view", { id: "1", current: "1", position: -5 }, 10);
await fails("savePlayQueue with a position that is not a number", "savePlayQueue.view", { id: "1", current: "1", position: "soon" }, 10);
q = await queue("getPlayQueue after refused saves");
check(JSON.stringify(ids(q.entry)) === '["2","1"]', "a refused save changes nothing");
// An empty save clears it (OpenSubsonic: "Send a call without any parameters to clear").
await ok("savePlayQueue without ids", "savePlayQueue.view", {});
await noQueue("getPlayQueue after clearing");

// --- the indexBasedQueue extension: the same song twice, the second one playing ---
await ok("savePlayQueueByIndex", "savePlayQueueByIndex.view", { id: ["1", "2", "1"], currentIndex: 2, position: 500 });
{
  const i = await queueByIndex("getPlayQueueByIndex");
  check(JSON.stringify(ids(i.entry)) === '["1","2","1"]' && i.currentIndex === 2 && i.position === 500 && i.changedBy === "subsonic-api",
    `getPlayQueueByIndex: the second copy of song 1 plays: ${JSON.stringify(i).slice(0, 300)}`);
  const byId = await queue("getPlayQueue of an index-saved queue");
  check(byId.current === "1" && byId.position === 500, `getPlayQueue names the current song by id: ${JSON.stringify(byId).slice(0, 200)}`);
}
await fails("savePlayQueueByIndex without currentIndex", "savePlayQueueByIndex.view", { id: ["1", "2"] }, 10);
await fails("savePlayQueueByIndex with currentIndex past the end", "savePlayQueueByIndex.view", { id: ["1", "2"], currentIndex: 2 }, 10);
await fails("savePlayQueueByIndex with a negative currentIndex", "savePlayQueueByIndex.view", { id: ["1", "2"], currentIndex: -1 }, 10);
await fails("savePlayQueueByIndex clearing with a currentIndex", "savePlayQueueByIndex.view", { currentIndex: 0 }, 10);
await fails("savePlayQueueByIndex of an unknown song", "savePlayQueueByIndex.view", { id: ["1", "999999"], currentIndex: 0 }, 70);
check((await queueByIndex("getPlayQueueByIndex after refused saves")).currentIndex === 2, "refused saves change nothing");

// --- bookmarks ---
const marks = async (what, as = api) => (await ok(what, "getBookmarks.view", {}, { bookmarks: Bookmarks }, as)).bookmarks.bookmark ?? [];
check((await marks("getBookmarks before any")).length === 0, "no bookmarks at first");
await api.createBookmark({ id: "2", position: 1500, comment: "the bridge — «ünïcode» & <tags>" });
await api.createBookmark({ id: "3", position: 0 });
let b = await marks("getBookmarks");
{
  const two = b.find((x) => x.entry.id === "2");
  check(b.length === 2 && two?.position === 1500 && two.comment === "the bridge — «ünïcode» & <tags>" && two.username === env.user &&
    two.entry.isDir === false, `getBookmarks lists both with their songs: ${JSON.stringify(b).slice(0, 400)}`);
  // Overwritten, not added: one bookmark per song, its creation time kept.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await api.createBookmark({ id: "2", position: 2500 });
  b = await marks("getBookmarks after an overwrite");
  const again = b.filter((x) => x.entry.id === "2");
  check(again.length === 1 && again[0].position === 2500 && again[0].comment === undefined && again[0].created === two.created &&
    Date.parse(again[0].changed) > Date.parse(two.changed), `createBookmark overwrites the song's bookmark: ${JSON.stringify(again)}`);
  check((await api.getBookmarks()).bookmarks.bookmark.length === 2, "the client's getBookmarks reads them");
}
await fails("createBookmark without id", "createBookmark.view", { position: 1 }, 10);
await fails("createBookmark without position", "createBookmark.view", { id: "1" }, 10);
await fails("createBookmark of an unknown song", "createBookmark.view", { id: "999999", position: 1 }, 70);
await fails("createBookmark with a negative position", "createBookmark.view", { id: "1", position: -1 }, 10);
await fails("createBookmark with a comment of 10,001 bytes (form POST)", "createBookmark.view", { id: "1", position: 1, comment: "x".repeat(10001) }, 10, client({ post: true }));
await fails("deleteBookmark without id", "deleteBookmark.view", {}, 10);
await fails("deleteBookmark of an unknown song", "deleteBookmark.view", { id: "999999" }, 70);
await api.deleteBookmark({ id: "3" });
await ok("deleteBookmark of a song without one", "deleteBookmark.view", { id: "3" });
b = await marks("getBookmarks after a delete");
check(JSON.stringify(b.map((x) => x.entry.id)) === '["2"]', `deleteBookmark removed one: ${JSON.stringify(b).slice(0, 300)}`);
{
  const xml = await raw("getBookmarks.view", { u: env.user, p: env.password, v: "1.16.1", c: "test" });
  check(/xmlns="http:\/\/subsonic.org\/restapi"/.test(xml.text) && /<bookmark [^>]*position="2500"/.test(xml.text) && /<entry [^>]*id="2"/.test(xml.text),
    `getBookmarks as XML: ${xml.text.slice(0, 400)}`);
}

// --- a second user sees none of it and keeps their own ---
const bob = "bob-queue-" + Date.now(), bobPassword = "bob's queue password";
await runCli(["user", "add", bob, "--db", env.db], bobPassword + "\n");
const bobApi = client({ user: bob, password: bobPassword });
await noQueue("another user's getPlayQueue", bobApi);
check((await marks("another user's getBookmarks", bobApi)).length === 0, "bookmarks are per user");
await ok("another user saves a queue", "savePlayQueue.view", { id: "3", current: "3", position: 7 }, {}, bobApi);
await ok("another user bookmarks song 2", "createBookmark.view", { id: "2", position: 9 }, {}, bobApi);
await ok("another user deletes their bookmark of song 2", "deleteBookmark.view", { id: "2" }, {}, bobApi);
{
  const bobQueue = await queue("another user's own queue", bobApi);
  check(bobQueue.username === bob && JSON.stringify(ids(bobQueue.entry)) === '["3"]', `the other user's queue: ${JSON.stringify(bobQueue).slice(0, 200)}`);
  const mine = await queueByIndex("the first user's queue after the other's save");
  check(JSON.stringify(ids(mine.entry)) === '["1","2","1"]' && mine.currentIndex === 2, "one user's save leaves the other's queue");
  const mineMarks = await marks("the first user's bookmarks after the other's delete");
  check(mineMarks.length === 1 && mineMarks[0].position === 2500, "one user's delete leaves the other's bookmark");
}
await runCli(["user", "remove", bob, "--db", env.db]);

// --- a restart: a new server process on the same index reads the queue and the bookmark ---
{
  const server = spawn(env.cli, ["serve", "--db", env.db, "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  const url = await new Promise((resolve) => {
    let out = "";
    const timer = setTimeout(() => resolve(undefined), 30000);
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) clearTimeout(timer), resolve(m[1]);
    });
    server.on("exit", () => resolve(undefined));
  });
  if (check(url !== undefined, "a second server starts on the same index")) {
    const get = async (name) => (await (await fetchRetrying(new URL(`rest/${name}?${new URLSearchParams({ u: env.user, p: env.password, v: "1.16.1", c: "test", f: "json" })}`, url))).json());
    const again = await get("getPlayQueueByIndex.view");
    validate("getPlayQueueByIndex after a restart", again, { playQueueByIndex: PlayQueueByIndex });
    const i = again["subsonic-response"].playQueueByIndex;
    check(JSON.stringify(ids(i?.entry)) === '["1","2","1"]' && i.currentIndex === 2 && i.position === 500, `the queue after a restart: ${JSON.stringify(i).slice(0, 300)}`);
    const kept = await get("getBookmarks.view");
    validate("getBookmarks after a restart", kept, { bookmarks: Bookmarks });
    check(kept["subsonic-response"].bookmarks?.bookmark?.[0]?.position === 2500, "the bookmark after a restart");
  }
  server.kill("SIGTERM");
}

// The writes as XML (xmlChecked asks only reads twice): empty envelopes in the spec's namespace.
for (const [name, params] of [["savePlayQueueByIndex", { id: ["1", "2"], currentIndex: 1 }], ["createBookmark", { id: "3", position: 10 }],
  ["deleteBookmark", { id: "3" }]])
  check((await xmlOnce(api, name, params))?.children.length === 0, `${name} as XML is an empty envelope`);

// Leave the shared user as it was (the last two writes as XML too).
check((await xmlOnce(api, "savePlayQueue", {}))?.children.length === 0, "savePlayQueue as XML is an empty envelope");
check((await xmlOnce(api, "deleteBookmark", { id: "2" }))?.children.length === 0, "deleteBookmark as XML is an empty envelope");
done("queue");
