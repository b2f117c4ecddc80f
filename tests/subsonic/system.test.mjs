// The system endpoints (ping, getLicense, getOpenSubsonicExtensions), the envelope in both
// forms, GET and form POST, and what an unknown endpoint gets.
import { check, validate, client, raw, call, done, env } from "./lib.mjs";
import { arrayOf, ref } from "./schemas.mjs";

for (const post of [false, true]) {
  const api = client({ post });
  const how = post ? "POST" : "GET";
  const ping = await call(api, "ping.view");
  validate(`ping (${how})`, ping.body, {});
  check(ping.body["subsonic-response"].status === "ok", `ping (${how}) answers ok`);
  const p = await api.ping();
  check(p.status === "ok" && p.openSubsonic === true && p.type === "clapsearch" && typeof p.serverVersion === "string",
    `ping (${how}) through the client: ${JSON.stringify(p)}`);
  validate(`getLicense (${how})`, (await call(api, "getLicense.view")).body, { license: ref("License") });
  check((await api.getLicense()).license?.valid === true, `getLicense (${how}) through the client`);
  const ext = await call(api, "getOpenSubsonicExtensions.view");
  validate(`getOpenSubsonicExtensions (${how})`, ext.body, { openSubsonicExtensions: arrayOf("OpenSubsonicExtension") });
  const names = new Map((await api.getOpenSubsonicExtensions()).openSubsonicExtensions.map((e) => [e.name, e.versions]));
  for (const need of ["sonicSimilarity", "apiKeyAuthentication", "formPost"])
    check(names.get(need)?.includes(1), `getOpenSubsonicExtensions lists ${need} version 1: ${JSON.stringify([...names])}`);
}

// Without f=json the answer is XML in the spec's namespace, with the same envelope.
{
  const api = client();
  const res = await api.custom("ping", { f: "xml" });
  const text = await res.text();
  check(/^<\?xml version="1.0" encoding="UTF-8"\?>\s*<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="ok" version="1\.16\.1" type="clapsearch" serverVersion="[^"]+" openSubsonic="true"\/>$/.test(text),
    `ping as XML: ${text}`);
  check((res.headers.get("content-type") || "").startsWith("application/xml"), "ping as XML is application/xml");
}

// The leniencies docs/integrations.md states: v and c may be left out, no version is refused
// (no error 20 or 30), and f=jsonp (not offered) is answered as XML.
{
  const bare = await raw("ping.view", { u: env.user, p: env.password, f: "json" });
  check(bare.status === 200 && bare.json?.["subsonic-response"]?.status === "ok", `ping without v and c: ${bare.text.slice(0, 200)}`);
  for (const v of ["1.1.0", "1.99.0", "2.0.0"]) {
    const r = await raw("ping.view", { u: env.user, p: env.password, v, c: "test", f: "json" });
    check(r.json?.["subsonic-response"]?.status === "ok" && r.json["subsonic-response"].version === "1.16.1", `ping of a client at v=${v}: ${r.text.slice(0, 200)}`);
  }
  const jsonp = await raw("ping.view", { u: env.user, p: env.password, v: "1.16.1", c: "test", f: "jsonp", callback: "cb" });
  check(jsonp.type.startsWith("application/xml") && jsonp.text.includes('<subsonic-response xmlns="http://subsonic.org/restapi" status="ok"'), `f=jsonp is answered as XML: ${jsonp.type} ${jsonp.text.slice(0, 200)}`);
}

// An unknown endpoint: HTTP 404 with a failed envelope.
{
  const r = await raw("noSuchThing.view", { u: env.user, p: env.password, v: "1.16.1", c: "test", f: "json" });
  check(r.status === 404, `an unknown endpoint is a 404 (got ${r.status})`);
  if (r.json) validate("an unknown endpoint", r.json);
}
done("system");
