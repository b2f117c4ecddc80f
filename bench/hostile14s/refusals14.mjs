// Hostile pass 14 (server): every refusal of a /rest/ request that the server answers before a route
// runs (a header over 8 KB, a form body over 1 MB or not a form, both framings, odd and unknown methods,
// another HTTP version, a request line over 8 KB and over the head's 64 KB, a head too slow is not
// here) validated against the spec's failure schema (tests/subsonic/schemas.mjs, ajv from its
// node_modules), JSON asked by f=json; with f=xml the answer must be XML with a subsonic-response root
// in the restapi namespace; with f=jsonp&callback=... the callback must never be echoed.
// Usage: node bench/hostile14s/refusals14.mjs PORT
import net from "node:net";
import Ajv from "../../tests/subsonic/node_modules/ajv/dist/ajv.js";
import addFormats from "../../tests/subsonic/node_modules/ajv-formats/dist/index.js";
import { failure } from "../../tests/subsonic/schemas.mjs";
const port = Number(process.argv[2]);
const ajv = new (Ajv.default ?? Ajv)({ allErrors: true, strict: false });
(addFormats.default ?? addFormats)(ajv);
const valid = ajv.compile(failure);
function raw(data) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const chunks = [];
    s.setTimeout(20000, () => { chunks.push(Buffer.from("<TIMEOUT>")); s.destroy(); });
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    s.write(data);
    s.end();
  });
}
const host = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
const make = (q) => ({
  "header over 8 KB": `GET /rest/ping?${q}${host}X-Big: ${"b".repeat(10000)}\r\n\r\n`,
  "200 headers": `GET /rest/ping?${q}${host}${Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
  "form over 1 MB": `POST /rest/ping?${q}${host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\n\r\nx=1`,
  "POST not a form": `POST /rest/ping?${q}${host}Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nx=1`,
  "both framings": `POST /rest/ping?${q}${host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  "Content-Length -1": `POST /rest/ping?${q}${host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: -1\r\n\r\n`,
  PUT: `PUT /rest/ping?${q}${host}Content-Length: 0\r\n\r\n`,
  DELETE: `DELETE /rest/ping?${q}${host}\r\n`,
  PATCH: `PATCH /rest/ping?${q}${host}Content-Length: 0\r\n\r\n`,
  TRACE: `TRACE /rest/ping?${q}${host}\r\n`,
  PROPFIND: `PROPFIND /rest/ping?${q}${host}\r\n`,
  "made-up method": `<svg/onload=alert(1)> /rest/ping?${q}${host}\r\n`,
  "HTTP/2.0": `GET /rest/ping?${q} HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  "HTTP/0.9-like": `GET /rest/ping?${q} HTTP/0.9\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  "line over 8 KB": `GET /rest/ping?${q}&x=${"a".repeat(9000)}${host}\r\n`,
  "line over 64 KB": `GET /rest/ping?${q}&x=${"a".repeat(70000)}${host}\r\n`,
  "line of 2 MB": `GET /rest/ping?${q}&x=${"a".repeat(2000000)}${host}\r\n`,
});
const auth = "u=bob&p=bobpw&v=1.16.1&c=h14";
let n = 0, bad = 0;
for (const [fmt, q] of [["json", `f=json&${auth}`], ["xml", `f=xml&${auth}`], ["jsonp", `f=jsonp&callback=alert(document.domain)//&${auth}`]]) {
  for (const [what, req] of Object.entries(make(q))) {
    const resp = await raw(req);
    n++;
    const [head, ...rest] = resp.split("\r\n\r\n");
    const body = rest.join("\r\n\r\n");
    const line = head.split("\r\n")[0];
    let why = null;
    if (!line.startsWith("HTTP/1.1 ")) why = `no status line: ${resp.slice(0, 80)}`;
    else if (body.includes("alert(document")) why = "callback echoed";
    else if (line.startsWith("HTTP/1.1 200") && body.includes('status="ok"') + body.includes('"status":"ok"')) why = null;  // within the limits: answered
    else if (fmt === "json") {
      try {
        const env = JSON.parse(body);
        if (!valid(env)) why = `not the spec's failure: ${ajv.errorsText(valid.errors).slice(0, 200)}`;
      } catch { why = `not JSON: ${body.slice(0, 100)}`; }
    } else if (!/^<\?xml[^>]*\?>\s*<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="failed"[^>]*><error code="\d+" message="[^"<]*"\/><\/subsonic-response>\s*$/.test(body))
      why = `not an XML failure: ${body.slice(0, 120)}`;
    if (why) bad++;
    console.log(`${why ? "FLAG" : "ok  "} ${fmt.padEnd(5)} ${what.padEnd(18)} ${line} ${why ?? ""}`);
  }
}
console.log(`cases ${n} flags ${bad}`);
