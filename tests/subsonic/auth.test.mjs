// Authentication (the spec's API Reference and the apiKeyAuthentication extension): token (what
// the client sends), clear and enc: passwords, API keys, and each refusal with its code - wrong
// credentials 40, an unknown API key 44, conflicting mechanisms 43, missing parameters 10 - plus
// the limit on wrong passwords (5 a minute per address and user name). Every failure is HTTP 200
// with a failed envelope that validates. Wrong passwords are tried on users of this file's own
// (added with the CLI while the server runs), never on the shared user: the other test files
// must not meet the limit.
import { createHash } from "node:crypto";
import { check, validate, client, raw, call, done, env, runCli } from "./lib.mjs";
import { ref } from "./schemas.mjs";

const base = { v: "1.16.1", c: "auth-test", f: "json" };
const hex = (s) => Buffer.from(s, "utf8").toString("hex");
const md5 = (s) => createHash("md5").update(s, "utf8").digest("hex");

// A user of this file's own, added as the docs say (seen by the running server at once).
async function addUser(name, password) {
  await runCli(["user", "add", name, "--db", env.db], password + "\n");
}
const stamp = Date.now();
const w1 = "wrong-1-" + stamp, w2 = "wrong-2-" + stamp, wPassword = "right password";
await addUser(w1, wPassword);
await addUser(w2, wPassword);

async function expectOk(what, params) {
  const r = await raw("ping.view", { ...base, ...params });
  check(r.status === 200 && r.json?.["subsonic-response"]?.status === "ok", `${what}: answered ok (got ${r.status} ${r.text.slice(0, 300)})`);
  if (r.json) validate(what, r.json, {});
}

async function expectFailure(what, params, code, name = "ping.view") {
  const r = await raw(name, { ...base, ...params });
  const envelope = r.json?.["subsonic-response"];
  check(r.status === 200 && envelope?.status === "failed" && envelope?.error?.code === code,
    `${what}: failed with code ${code} (got ${r.status} ${r.text.slice(0, 300)})`);
  if (r.json) validate(what, r.json);
  return envelope?.error?.message ?? "";
}

// The client as its README has it: token auth (u, t, s), and API key auth; GET and POST.
for (const post of [false, true]) {
  const how = post ? "POST" : "GET";
  const token = await call(client({ post }), "ping.view");
  check(token.body["subsonic-response"].status === "ok", `token auth through the client (${how})`);
  const key = await call(client({ apiKey: env.apiKey, post }), "ping.view");
  check(key.body["subsonic-response"].status === "ok", `API key auth through the client (${how})`);
  const wrong = await call(client({ user: w1, password: "not the password", post }), "ping.view");
  check(wrong.body["subsonic-response"].error?.code === 40, `a wrong password through the client is 40 (${how})`);
  const badKey = await call(client({ apiKey: "0".repeat(64), post }), "ping.view");
  check(badKey.body["subsonic-response"].error?.code === 44, `an unknown API key through the client is 44 (${how})`);
}

// tokenInfo (the apiKeyAuthentication extension, which getOpenSubsonicExtensions lists): the user
// an API key belongs to; an unknown key is 44. The client has no method for it: customJSON, its
// documented way for such endpoints.
for (const post of [false, true]) {
  const how = post ? "POST" : "GET";
  const info = await call(client({ apiKey: env.apiKey, post }), "tokenInfo.view");
  validate(`tokenInfo (${how})`, info.body, { tokenInfo: ref("TokenInfo") });
  check(info.body["subsonic-response"].tokenInfo?.username === env.user, `tokenInfo names the key's user (${how}): ${JSON.stringify(info.body)}`);
  const viaClient = await client({ apiKey: env.apiKey, post }).customJSON("tokenInfo", {});
  check(viaClient.tokenInfo?.username === env.user, `customJSON tokenInfo (${how}): ${JSON.stringify(viaClient)}`);
  const byToken = await client({ post }).customJSON("tokenInfo", {});
  check(byToken.tokenInfo?.username === env.user, `tokenInfo signed in with a token names that user (${how}): ${JSON.stringify(byToken)}`);
}
check((await raw("tokenInfo.view", { ...base, apiKey: "e".repeat(64) })).json?.["subsonic-response"]?.error?.code === 44, "tokenInfo of an unknown key is 44");

// getUser and getUsers (the spec's User Management pages): apps read the roles right after signing
// in. A user gets their own record (any case of the name, as sign-in matches it), another user's
// is 50; getUsers is 50 for a user who is not an admin; an admin gets anyone's, 70 for a name no
// user has, and every user from getUsers. Through the client's own methods, GET and POST.
const adminName = "auth-admin-" + stamp, adminPassword = "admin password";
await runCli(["user", "add", adminName, "--admin", "--db", env.db], adminPassword + "\n");
const folders = (await client().getMusicFolders()).musicFolders.musicFolder.map((f) => f.id);
for (const post of [false, true]) {
  const how = post ? "POST" : "GET";
  const mine = await call(client({ post }), "getUser.view", { username: env.user.toUpperCase() });
  validate(`getUser of oneself (${how})`, mine.body, { user: ref("User") });
  const me = mine.body["subsonic-response"].user;
  check(me?.username === env.user && me.adminRole === false && me.settingsRole === false && me.streamRole === true &&
    me.downloadRole === true && me.playlistRole === true && me.scrobblingEnabled === true && me.jukeboxRole === false &&
    JSON.stringify(me.folder) === JSON.stringify(folders), `getUser of oneself names the user, their roles and every music folder (${how}): ${JSON.stringify(me)}`);
  const viaClient = await client({ post }).getUser({ username: env.user });
  check(viaClient.user?.username === env.user, `the client's getUser (${how}): ${JSON.stringify(viaClient)}`);
  const byKey = await client({ apiKey: env.apiKey, post }).getUser({ username: env.user });
  check(byKey.user?.username === env.user, `getUser signed in by API key (${how}): ${JSON.stringify(byKey)}`);
  const other = await call(client({ post }), "getUser.view", { username: adminName });
  validate(`getUser of another user (${how})`, other.body);
  check(other.body["subsonic-response"].error?.code === 50, `getUser of another user by a user who is not an admin is 50 (${how}): ${JSON.stringify(other.body)}`);
  const unknownByUser = await call(client({ post }), "getUser.view", { username: "nobody-" + stamp });
  check(unknownByUser.body["subsonic-response"].error?.code === 50, `getUser of a name nobody has, by a user who is not an admin, is 50, not a way to learn which names exist (${how})`);
  const list = await call(client({ post }), "getUsers.view");
  validate(`getUsers by a user who is not an admin (${how})`, list.body);
  check(list.body["subsonic-response"].error?.code === 50, `getUsers by a user who is not an admin is 50 (${how}): ${JSON.stringify(list.body)}`);
  const admin = client({ user: adminName, password: adminPassword, post });
  const theirs = await call(admin, "getUser.view", { username: env.user });
  validate(`getUser by an admin (${how})`, theirs.body, { user: ref("User") });
  check(theirs.body["subsonic-response"].user?.username === env.user, `an admin gets another user's record (${how})`);
  const adminSelf = (await admin.getUser({ username: adminName })).user;
  check(adminSelf?.adminRole === true && adminSelf.settingsRole === true, `an admin's own record has adminRole and settingsRole (${how}): ${JSON.stringify(adminSelf)}`);
  const missing = await call(admin, "getUser.view", { username: "nobody-" + stamp });
  validate(`getUser of nobody (${how})`, missing.body);
  check(missing.body["subsonic-response"].error?.code === 70, `getUser of a name no user has is 70 for an admin (${how}): ${JSON.stringify(missing.body)}`);
  const noName = await call(admin, "getUser.view");
  check(noName.body["subsonic-response"].error?.code === 10, `getUser without username is 10 (${how}): ${JSON.stringify(noName.body)}`);
  const all = await call(admin, "getUsers.view");
  validate(`getUsers (${how})`, all.body, { users: ref("Users") });
  const names = (await admin.getUsers()).users.user.map((u) => u.username);
  check([env.user, adminName, w1, w2].every((n) => names.includes(n)), `getUsers lists every user (${how}): ${JSON.stringify(names)}`);
}

// Each mechanism by hand.
const salt = "c19b2d";
await expectOk("token auth", { u: env.user, t: md5(env.password + salt), s: salt });
await expectOk("token auth, token in upper case", { u: env.user, t: md5(env.password + salt).toUpperCase(), s: salt });
await expectOk("clear password", { u: env.user, p: env.password });
await expectOk("enc: password", { u: env.user, p: "enc:" + hex(env.password) });
await expectOk("enc: password in upper-case hex", { u: env.user, p: "enc:" + hex(env.password).toUpperCase() });
await expectOk("API key", { apiKey: env.apiKey });
await expectOk("the same credential twice", { u: env.user, p: [env.password, env.password] });

// Wrong credentials: 40, the same for an unknown user as for a wrong password (at most 4 wrong
// attempts per user here: the limit is tested below).
await expectOk("token auth of a second user", { u: w1, t: md5(wPassword + salt), s: salt });
await expectFailure("wrong token", { u: w1, t: md5("nope" + salt), s: salt }, 40);
await expectFailure("token with another salt", { u: w1, t: md5(wPassword + salt), s: salt + "x" }, 40);
await expectFailure("wrong clear password", { u: w2, p: wPassword + "x" }, 40);
await expectFailure("enc: that is not hex", { u: w2, p: "enc:zz" }, 40);
await expectFailure("a password for another user", { u: w2, p: env.password }, 40);
await expectFailure("unknown user", { u: "nobody-" + Date.now(), p: env.password }, 40);
await expectFailure("unknown API key", { apiKey: "f".repeat(64) }, 44);
await expectFailure("an API key longer than the extension allows", { apiKey: "a".repeat(3000) }, 44);

// A refusal as XML (the default form; lib.mjs checks the other codes' XML, but never re-asks a 40):
// HTTP 200, the failed envelope in the spec's namespace with the error's code.
for (const [what, params, code] of [["wrong credentials", { u: "nobody-xml-" + stamp, p: "x" }, 40], ["an unknown API key", { apiKey: "d".repeat(64) }, 44],
  ["conflicting mechanisms", { apiKey: env.apiKey, u: env.user }, 43], ["no credentials", {}, 10]]) {
  const r = await raw("ping.view", { v: "1.16.1", c: "auth-test", ...params });
  check(r.status === 200 && r.type.startsWith("application/xml") &&
    new RegExp(`<subsonic-response xmlns="http://subsonic.org/restapi" status="failed"[^>]*><error code="${code}" message="[^"]+"/></subsonic-response>`).test(r.text),
    `${what} as XML: HTTP 200, error ${code} in the spec's namespace (got ${r.status} ${r.text.slice(0, 300)})`);
}

// Conflicting mechanisms: 43.
await expectFailure("apiKey with u (the extension: must be 43)", { apiKey: env.apiKey, u: env.user }, 43);
await expectFailure("apiKey with p", { apiKey: env.apiKey, p: env.password }, 43);
await expectFailure("apiKey with t and s", { apiKey: env.apiKey, t: md5(env.password + salt), s: salt }, 43);
await expectFailure("p with t and s", { u: env.user, p: env.password, t: md5(env.password + salt), s: salt }, 43);
await expectFailure("two different passwords", { u: env.user, p: [env.password, "other"] }, 43);

// Missing parameters: 10.
await expectFailure("no credentials at all", {}, 10);
await expectFailure("u alone", { u: env.user }, 10);
await expectFailure("t without s", { u: env.user, t: md5(env.password + salt) }, 10);
await expectFailure("s without t", { u: env.user, s: salt }, 10);
await expectFailure("p without u", { p: env.password }, 10);
// Every endpoint authenticates.
await expectFailure("getLicense with wrong credentials", { u: "nobody-" + stamp, p: "x" }, 40, "getLicense.view");
// API keys are not limited (256 random bits are not guessed): many wrong keys, then the right one.
for (let i = 0; i < 6; i++) await expectFailure(`unknown API key ${i + 1}`, { apiKey: String(i).repeat(64) }, 44);
await expectOk("the right API key after 6 wrong ones", { apiKey: env.apiKey });

// The limit: a second user, added while the server runs (seen at once), gets 5 wrong attempts;
// the 6th attempt is refused with 40 although its password is right, saying how long to wait;
// the first user, from the same address, is not affected.
const bob = "bob-" + stamp, bobPassword = "bob's own password";
await addUser(bob, bobPassword);
await expectOk("a user added while the server runs", { u: bob, p: bobPassword });
for (let i = 0; i < 5; i++) await expectFailure(`wrong attempt ${i + 1}`, { u: bob, p: "guess " + i }, 40);
const locked = await expectFailure("the right password after 5 wrong ones", { u: bob, p: bobPassword }, 40);
check(/too many failed attempts/.test(locked) && /try again in \d+ s/.test(locked), `the refusal says why and for how long: ${locked}`);
// run.sh's --login-lockout 3600: the lock outlasts the 10,001 requests below at any load.
const lockedFor = Number(/try again in (\d+) s/.exec(locked)?.[1]);
check(lockedFor > 60 && lockedFor <= 3600, `the lock lasts serve --login-lockout (3600 s), not the default 60 s: ${locked}`);
// Failures under 10,001 made-up names (more keys than the limit tracks) do not erase the lock:
// else each such round would buy 5 more guesses at bob's password.
{
  let next = 0, wrong = 0;
  const worker = async () => {
    while (next < 10001) {
      const r = await raw("ping.view", { ...base, u: `made-up-${stamp}-${next++}`, p: "guess" });
      if (r.json?.["subsonic-response"]?.error?.code !== 40) wrong++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  check(wrong === 0, `every made-up name is refused with 40 (${wrong} were not)`);
}
const still = await expectFailure("the right password after 10,001 made-up names", { u: bob, p: bobPassword }, 40);
check(/too many failed attempts/.test(still), `the lock holds: ${still}`);
await expectOk("another user from the same address", { u: env.user, t: md5(env.password + salt), s: salt });
// A revoked API key is refused at once (44); a new one works.
const cli = (...args) => runCli([...args, "--db", env.db]);
const carolKeyUser = "keys-" + stamp;
await addUser(carolKeyUser, "pw");
const key1 = (await cli("user", "key", carolKeyUser)).trim();
await expectOk("a new API key", { apiKey: key1 });
const listed = JSON.parse(await cli("user", "keys", carolKeyUser, "--json"));
check(listed.length === 1 && !JSON.stringify(listed).includes(key1), `user keys lists it without the key: ${JSON.stringify(listed)}`);
await cli("user", "revoke", carolKeyUser, String(listed[0].id));
await expectFailure("a revoked API key", { apiKey: key1 }, 44);
await cli("user", "remove", carolKeyUser);

// A removed user can no longer sign in; the users of this file go.
const carol = "carol-" + stamp;
await addUser(carol, "carol's password");
await expectOk("a user before removal", { u: carol, p: "carol's password" });
await runCli(["user", "remove", carol, "--db", env.db]);
await expectFailure("a removed user", { u: carol, p: "carol's password" }, 40);
for (const name of [w1, w2, bob]) await runCli(["user", "remove", name, "--db", env.db]);

done("auth");
