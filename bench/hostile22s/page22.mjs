// Hostile pass 22 (server): the web page's own flows in a real Chromium (playwright-core from
// tests/browser/node_modules, Debian's /usr/bin/chromium), over page_library22.sh's library.
// Every view is shown at 1280 and 390 px; after each: no script of the library's ran
// (window.__pwned, dialogs), no element the page did not make (img, script, b#injected, a second
// svg), no horizontal overflow of the page or of a card, and the text of each view is kept for a
// look at what is shown raw (control characters, bidi overrides).
// Usage: node bench/hostile22s/page22.mjs URL OUT_DIR [--web-dir src/server/web]
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const {chromium} = await import(path.join(HERE, '../../tests/browser/node_modules/playwright-core/index.mjs'));
const [BASE, OUT] = process.argv.slice(2);
const argv = process.argv.slice(2);
const WEB_DIR = argv.includes('--web-dir') ? argv[argv.indexOf('--web-dir') + 1] : null;
fs.mkdirSync(OUT, {recursive: true});
const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--mute-audio', '--autoplay-policy=no-user-gesture-required']});

const findings = [];
let cases = 0;
const flag = (what) => { findings.push(what); console.log(`FLAG ${what}`); };

async function newPage(width) {
  const context = await browser.newContext({viewport: {width, height: 900}});
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (e) => flag(`page error: ${e.message}`));
  page.on('dialog', (d) => { flag(`dialog: ${d.message()}`); d.dismiss(); });
  if (WEB_DIR) {
    await page.route('**/*', (route) => {
      const u = new URL(route.request().url());
      const file = {'/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css'}[u.pathname];
      if (!file) return route.continue();
      const type = {html: 'text/html', js: 'text/javascript', css: 'text/css'}[file.split('.').pop()];
      return route.fulfill({status: 200, contentType: `${type}; charset=utf-8`, body: fs.readFileSync(path.join(WEB_DIR, file))});
    });
  }
  return page;
}

// The checks after every view.
async function check(page, view) {
  cases++;
  const r = await page.evaluate(() => {
    const out = {pwned: window.__pwned, foreign: [], overflow: [], docWidth: document.documentElement.scrollWidth, vw: innerWidth};
    for (const el of document.querySelectorAll('img, script:not([src]), b, i, iframe, object, embed, svg svg, style'))
      out.foreign.push(el.outerHTML.slice(0, 80));
    if (document.querySelectorAll('svg').length > 1) out.foreign.push(`${document.querySelectorAll('svg').length} svg elements`);
    // An element whose box reaches past its section (or past the viewport) is a broken layout,
    // unless an ancestor clips it (overflow hidden, the seeds' ellipsis).
    const clipped = (el) => { for (let a = el.parentElement; a; a = a.parentElement) { const o = getComputedStyle(a).overflowX; if (o !== 'visible') return true; } return false; };
    for (const sec of document.querySelectorAll('main > section, header.top, footer.player-bar')) {
      const box = sec.getBoundingClientRect();
      for (const el of sec.querySelectorAll('*')) {
        const rect = el.getBoundingClientRect();
        if (!rect.width || el.closest('[hidden]')) continue;
        if ((rect.right > box.right + 2 || rect.right > innerWidth + 2) && !clipped(el))
          out.overflow.push(`${sec.id || sec.className} ${el.tagName.toLowerCase()}.${el.className || ''} right ${Math.round(rect.right)} > ${Math.round(Math.min(box.right, innerWidth))}: ${(el.textContent || '').slice(0, 40)}`);
      }
    }
    return out;
  });
  if (r.pwned !== undefined) flag(`${view}: window.__pwned = ${r.pwned}`);
  if (r.foreign.length) flag(`${view}: elements the page did not make: ${r.foreign.slice(0, 3).join(' | ')}`);
  if (r.docWidth > r.vw + 1) flag(`${view}: the page is ${r.docWidth} px wide in a ${r.vw} px window`);
  if (r.overflow.length) flag(`${view}: ${r.overflow.length} elements past their section: ${r.overflow.slice(0, 4).join(' || ')}`);
  // A page many thousand pixels wide cannot be captured whole: its first screen then.
  await page.screenshot({path: path.join(OUT, `${view}.png`), fullPage: r.docWidth < 4000, style: '.top, .player-bar { position: static !important; }'}).catch((e) => console.log(`  (no screenshot of ${view}: ${e.message.split('\n')[0]})`));
  const text = await page.evaluate(() => document.body.innerText);
  fs.writeFileSync(path.join(OUT, `${view}.txt`), text);
}

const settle = (page) => page.waitForFunction(() => document.querySelector('#busy').hidden, null, {timeout: 30000}).catch(() => flag('busy never ended'));

for (const width of [1280, 390]) {
  const page = await newPage(width);
  const v = (name) => `${width}-${name}`;
  await page.goto(BASE);
  await page.locator('#library-status dl').waitFor();
  await page.locator('#map svg').waitFor();
  await page.locator('#foryou .centre-card, #foryou .empty').first().waitFor();
  await page.locator('#browse-list li').first().waitFor();
  await check(page, v('load'));

  // Search: results with their window strips, every hostile title in them.
  await page.locator('#q').fill('tone');
  await page.locator('#q').press('Enter');
  await page.locator('#results .result').first().waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.strip')].every((s) => s.children.length));
  await check(page, v('search'));

  // More like this, chunk matches and Add as seed of every result.
  const ids = await page.locator('#results .result').evaluateAll((els) => els.map((e) => e.dataset.trackId));
  for (const id of ids) {
    await page.locator(`#results .result[data-track-id="${id}"] button.add-seed`).first().click();
  }
  await check(page, v('seeds'));
  for (const id of ids) {
    await page.goto(`${BASE}/?similar=${id}`);
    await settle(page);
    await check(page, v(`similar-${id}`));
    await page.goto(`${BASE}/?like=${id}`);
    await settle(page);
    await check(page, v(`like-${id}`));
  }
  // The map by every field, with the tooltip of each point.
  await page.goto(BASE);
  await page.locator('#map svg').waitFor();
  await page.locator('#foryou .centre-card, #foryou .empty').first().waitFor();
  for (const field of ['genre', 'album', 'artist', 'folder', 'labels']) {
    await page.locator('#map-color').selectOption(field);
    const n = await page.locator('#map circle.point').count();
    for (let i = 0; i < n; i++) {
      await page.locator('#map circle.point').nth(i).focus();
      await check(page, v(`map-${field}-${i}`));
    }
  }
  // For you: the centres (and their marks on the map), the mixes, playing a mix.
  const centres = await page.locator('#map g.centre').count();
  for (let i = 0; i < centres; i++) { await page.locator('#map g.centre').nth(i).focus(); await page.keyboard.press('Enter'); }
  await check(page, v('foryou'));
  const users = await page.locator('#foryou-user option').allTextContents();
  for (const u of users) {
    await page.locator('#foryou-user').selectOption({label: u});
    await page.waitForTimeout(500);
    await check(page, v(`foryou-user-${users.indexOf(u)}`));
  }
  await page.locator('#foryou-user').selectOption({label: 'ann'}).catch(() => {});
  await page.waitForTimeout(500);
  if (await page.locator('.play-mix').count()) {
    await page.locator('.play-mix').first().click();
    await page.waitForTimeout(500);
    await check(page, v('play-mix'));
  }
  // Library: each folder's button, the filter with hostile text.
  const folders = await page.locator('#library-folders button').count();
  for (let i = 0; i < folders; i++) {
    await page.locator('#library-folders button').nth(i).click();
    await page.waitForTimeout(300);
    await check(page, v(`folder-${i}`));
  }
  for (const [i, text] of ['<img src=x onerror=window.__pwned=20>', '%', '_', '\u202eevil', 'W'.repeat(5000)].entries()) {
    await page.locator('#browse-text').fill(text);
    await page.locator('#browse-text').press('Enter');
    await page.waitForTimeout(400);
    await check(page, v(`filter-${i}`));
  }
  // The search box and the address bar with hostile input.
  const queries = ['<img src=x onerror=window.__pwned=21>', '</script><script>window.__pwned=22</script>', '\u202eevil query',
    'Q'.repeat(3000), 'a\u0001b\u0007c', '|||', ' | <b>x</b> | ', '"\'`${window.__pwned=23}`'];
  for (const [i, q] of queries.entries()) {
    await page.locator('#q').fill(q);
    await page.locator('#q').press('Enter');
    await settle(page);
    await check(page, v(`query-${i}`));
  }
  const addresses = ['?similar=%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D24%3E', '?like=..%2F..%2Fstatus', '?like=%3Cb%3Ex',
    '?seed=%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D25%3E&seed=5', '?q=x&k=-1', '?q=x&k=1e9', '?q=x&aggregate=%3Cb%3E',
    '?q=x&where=' + encodeURIComponent('title = "<img src=x onerror=window.__pwned=26>"'), '?upload=%3Cb%3Ex', '?q=' + 'Z'.repeat(9000),
    '?similar=&seed=6&not=' + encodeURIComponent('\u202e<b>not</b>'), '?like=99999', '?similar=-1'];
  for (const [i, a] of addresses.entries()) {
    await page.goto(BASE + '/' + a);
    await settle(page);
    await check(page, v(`address-${i}`));
  }
  await page.context().close();
}

// The server answering errors, slowly, or not JSON (page.route stands in for the server).
const failures = [
  ['html-500', {status: 500, contentType: 'text/html', body: '<html><body><img src=x onerror=window.__pwned=30>boom</body></html>'}],
  ['json-error', {status: 400, contentType: 'application/json', body: JSON.stringify({error: '<img src=x onerror=window.__pwned=31>', detail: '\u202eevil'.repeat(500)})}],
  ['json-not-object', {status: 200, contentType: 'application/json', body: '[1,2,3]'}],
  ['json-null', {status: 200, contentType: 'application/json', body: 'null'}],
  ['json-empty-object', {status: 200, contentType: 'application/json', body: '{}'}],
  ['truncated', {status: 200, contentType: 'application/json', body: '{"queries": [{"query": "x", "res'}],
  ['status-503', {status: 503, contentType: 'application/json', body: '{"error":"index unavailable"}'}],
  ['status-429', {status: 429, headers: {'Retry-After': '1'}, contentType: 'application/json', body: '{"error":"busy"}'}],
  ['abort', null],
];
for (const [name, answer] of failures) {
  const page = await newPage(1280);
  await page.route('**/api/**', (route) => (answer ? route.fulfill(answer) : route.abort('connectionreset')));
  await page.goto(BASE + '/?q=tone');
  await settle(page);
  await page.waitForTimeout(500);
  await check(page, `fail-${name}`);
  // Every view says something: the status, the map, For you and the track list each show a message
  // or a placeholder, never a bare "Loading…".
  const stuck = await page.evaluate(() => [...document.querySelectorAll('#library-status, #foryou, #map')].filter((e) => /Loading…/.test(e.textContent)).map((e) => e.id));
  if (stuck.length) flag(`fail-${name}: still "Loading…": ${stuck.join(', ')}`);
  await page.context().close();
}
// A server that answers a search after 20 s: the page stays usable (a new search replaces it).
{
  const page = await newPage(1280);
  let slow = true;
  await page.route('**/api/search**', async (route) => { if (slow) { slow = false; await new Promise((r) => setTimeout(r, 20000)); } return route.continue(); });
  await page.goto(BASE);
  await page.locator('#q').fill('slow one');
  await page.locator('#q').press('Enter');
  await page.waitForTimeout(500);
  await page.locator('#q').fill('fast one');
  await page.locator('#q').press('Enter');
  await page.locator('#results-header h2', {hasText: 'fast one'}).waitFor({timeout: 15000}).catch(() => flag('slow: the second search did not show'));
  await page.waitForTimeout(21000);
  const heading = await page.locator('#results-header h2').textContent();
  if (!heading.includes('fast one')) flag(`slow: the late answer replaced the newer one: ${heading}`);
  await check(page, 'slow');
  await page.context().close();
}
await browser.close();
console.log(`${cases} views checked, ${findings.length} flags`);
fs.writeFileSync(path.join(OUT, 'flags.txt'), findings.join('\n') + '\n');
