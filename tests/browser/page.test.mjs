// Drives the clapsearch web page in a real Chromium (playwright-core, system browser).
// Usage: node page.test.mjs URL --clip FILE --clip-track NAME --artifacts DIR [--token-url URL --token T] [--hostile-url URL]
//        [--cli BUILD/clapsearch --db LIBRARY.db] [--web-dir src/server/web] (page files from disk instead of the binary: for working on the page)
// The model under test has random weights: only mechanics are checked, never which track ranks first
// (except that query by example with a clip of an indexed file finds that file).
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const BASE = argv[0] && !argv[0].startsWith('--') ? argv[0] : null;
if (!BASE) { console.error('usage: node page.test.mjs URL --clip FILE --clip-track NAME --artifacts DIR'); process.exit(2); }
const CLIP = opt('clip');
const CLIP_TRACK = opt('clip-track');            // file name of the indexed track the clip was cut from
const ARTIFACTS = opt('artifacts', 'test-artifacts/browser');
const TOKEN_URL = opt('token-url');              // a second server started with --token
const TOKEN = opt('token');
const HOSTILE_URL = opt('hostile-url');          // a server of a library with hostile tags (run.sh)
const CLI = opt('cli'), DB = opt('db');        // the binary and the index: the CLI's answer to compare with
// Development aid: serve the page's files from this folder instead of the binary's copies (no rebuild).
const WEB_DIR = opt('web-dir');
const STEP_TIMEOUT_MS = Number(opt('step-timeout', 45000));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Full-page screenshots with the sticky header and the fixed player bar in their place in the flow.
const SHOT_STYLE = '.top, .player-bar { position: static !important; }';
const url = (rel, base = BASE) => new URL(rel, base).href;
fs.mkdirSync(ARTIFACTS, {recursive: true});

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});
const problems = [];   // uncaught page errors: always a failure
async function newPage(viewport = {width: 1280, height: 900}) {
  const context = await browser.newContext({viewport});
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [console] ${m.text()}`); });
  page.on('requestfailed', (r) => {
    // Media loads cut short by the browser itself (pause, new src) are normal; anything else is reported.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') console.log(`  [request failed] ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  // Nothing may be fetched from anywhere but the server under test.
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    const allowed = [new URL(BASE).host, TOKEN_URL ? new URL(TOKEN_URL).host : null, HOSTILE_URL ? new URL(HOSTILE_URL).host : null];
    const file = {'/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css'}[u.pathname];
    if (WEB_DIR && file && allowed.includes(u.host)) {
      const type = {html: 'text/html', js: 'text/javascript', css: 'text/css'}[file.split('.').pop()];
      return route.fulfill({status: 200, contentType: `${type}; charset=utf-8`, body: fs.readFileSync(path.join(WEB_DIR, file))});
    }
    if (u.protocol === 'blob:' || u.protocol === 'data:' || allowed.includes(u.host)) return route.continue();
    problems.push(`request outside the server: ${u.href}`);
    return route.abort();
  });
  return page;
}

let stepNo = 0, current = null;
async function step(name, fn, shot = {fullPage: true}) {
  const n = String(++stepNo).padStart(2, '0');
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`step timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS); })]);
    clearTimeout(timer);
    assert.deepEqual(problems, [], 'the page reported errors');
    if (current) await current.screenshot({path: path.join(ARTIFACTS, `${n}-${name}.png`), ...shot, style: SHOT_STYLE});
    console.log(`ok ${n} ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    clearTimeout(timer);
    console.error(`FAILED ${n} ${name}: ${e.message}`);
    if (current) {
      const msg = await current.locator('#message').textContent().catch(() => null);
      if (msg) console.error(`  #message on the page: ${msg}`);
      await current.screenshot({path: path.join(ARTIFACTS, `${n}-${name}-FAILED.png`), fullPage: true, style: SHOT_STYLE}).catch(() => {});
    }
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

const apiJson = async (page, rel) => page.evaluate(async (u) => {
  const r = await fetch(u); if (!r.ok) throw new Error(`${u}: ${r.status}`); return r.json();
}, url(rel));
const noError = async (page) => {
  const m = page.locator('#message');
  if (await m.isVisible()) assert.fail(`error message shown: ${await m.textContent()}`);
};
const resultScores = (page) => page.locator('#results .result-list').first().locator('.result').evaluateAll((els) => els.map((e) => Number(e.dataset.score)));
// Waits until an audio element plays at or after `from` seconds.
async function expectPlaying(page, audioSelector, from, what) {
  try {
    await page.waitForFunction(([sel, t]) => {
      const a = typeof sel === 'string' ? document.querySelector(sel) : sel;
      return a && !a.paused && a.readyState >= 2 && a.currentTime >= t - 0.5;
    }, [audioSelector, from], {timeout: 15000});
  } catch {
    const st = await page.evaluate((sel) => { const a = document.querySelector(sel);
      return a ? {paused: a.paused, t: a.currentTime, readyState: a.readyState, error: a.error && a.error.message, src: a.currentSrc} : null; }, audioSelector);
    assert.fail(`${what}: expected to play from ≥ ${from - 0.5} s; audio state ${JSON.stringify(st)}`);
  }
}

const page = await newPage();
current = page;
let status, firstQueryResults;

await step('load', async () => {
  await page.goto(BASE);
  await page.locator('#library-status dl').waitFor();
  status = await apiJson(page, '/api/status');
  assert.ok(status.ok >= 2, `the test library should have ≥ 2 ok tracks, /api/status says ${status.ok}`);
  await noError(page);
  assert.equal(await page.title(), 'clapsearch');
});

await step('search', async () => {
  await page.locator('#q').fill('female vocalist');
  await page.locator('#q').press('Enter');   // Enter submits
  await page.locator('#results .result').first().waitFor();
  await noError(page);
  const scores = await resultScores(page);
  firstQueryResults = scores.length;
  assert.ok(scores.length >= 1, 'no results');
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1] >= scores[i], `scores not descending: ${scores}`);
  const labels = await page.locator('#results .result .badge').allTextContents();
  assert.equal(labels.length, scores.length, 'every result shows HIGH/MODERATE/LOW');
  for (const l of labels) assert.ok(['HIGH', 'MODERATE', 'LOW'].includes(l), `label ${l}`);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'female vocalist', `URL ${page.url()}`);
  const first = page.locator('#results .result').first();
  assert.match(await first.locator('.title').textContent(), /\S/, 'the first result has a title');
  assert.match(await first.locator('.score').textContent(), /^-?\d+\.\d+$/, 'the first result shows its score');
});

await step('play-best-window', async () => {
  // The first result, then (if any) a result whose best window is not at 0, to see the seek happen.
  const starts = await page.locator('#results .result').evaluateAll((els) => els.map((e) => Number(e.dataset.bestStart)));
  const picks = [0];
  const later = starts.findIndex((s) => s > 0);
  if (later > 0) picks.push(later);
  for (const i of picks) {
    const card = page.locator('#results .result').nth(i);
    const best = starts[i];
    // The strip marks the best window, at the result's best_start.
    const bestWin = card.locator('.strip .win.best');
    await bestWin.waitFor();
    assert.equal(await card.locator('.strip .win.best').count(), 1, 'exactly one best window');
    assert.ok(Math.abs(Number(await bestWin.getAttribute('data-start')) - best) < 1e-3, 'the highlighted window starts at best_start');
    assert.ok(await card.locator('.strip .win').count() >= 1);
    await card.locator('button.play').click();
    const id = await card.getAttribute('data-track-id');
    await expectPlaying(page, `#results .result:nth-child(${i + 1}) audio`, best, `result ${i + 1} (track ${id}, best_start ${best})`);
    await noError(page);
    await card.locator('audio').evaluate((a) => a.pause());
  }
  if (picks.length === 1) console.log('  (every result has its best window at 0 s: the seek itself was not exercised)');
});

let similarUrl;
await step('more-like-this', async () => {
  const first = page.locator('#results .result').first();
  const id = await first.getAttribute('data-track-id');
  await first.locator('button.more-like-this').focus();
  await page.keyboard.press('Enter');   // real buttons: keyboard works
  await page.waitForURL((u) => u.searchParams.get('similar') === id);
  await page.locator('#results-header h2', {hasText: 'More like'}).waitFor();
  await page.locator('#results .result').first().waitFor();
  await noError(page);
  const scores = await resultScores(page);
  assert.ok(scores.length >= 1, 'no similar tracks');
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1] >= scores[i], `scores not descending: ${scores}`);
  similarUrl = page.url();
});

await step('back-button', async () => {
  await page.goBack();
  await page.waitForURL((u) => u.searchParams.get('q') === 'female vocalist');
  await page.locator('#results-header h2', {hasText: 'female vocalist'}).waitFor();
  await page.locator('#results .result').first().waitFor();
  assert.equal((await resultScores(page)).length, firstQueryResults, 'the previous results are back');
  await page.goForward();
  await page.locator('#results-header h2', {hasText: 'More like'}).waitFor();
  assert.equal(page.url(), similarUrl);
  await page.goBack();
  await page.locator('#results-header h2', {hasText: 'female vocalist'}).waitFor();
});

await step('refine', async () => {
  // The Options (a filter, a description to move away from, variety, a cap per artist) go to the
  // REST route as its parameters and into the page's URL, and the results keep the cap and the filter.
  await page.locator('details.options summary').click();
  await page.locator('#opt-where').fill('artist != "Noise Collective"');
  await page.locator('#opt-not').fill('thunder');
  await page.locator('#opt-diversity').fill('0.5');
  await page.locator('#opt-per-artist').fill('1');
  const asked = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/search'));
  await page.locator('#q').fill('a calm tone');
  await page.locator('#q').press('Enter');
  const sent = new URL((await asked).url()).searchParams;
  assert.deepEqual([sent.get('where'), sent.get('not'), sent.get('diversity'), sent.get('per_artist')],
    ['artist != "Noise Collective"', 'thunder', '0.5', '1'], `request ${sent}`);
  await page.waitForURL((u) => u.searchParams.get('q') === 'a calm tone' && u.searchParams.get('per_artist') === '1' &&
    u.searchParams.get('not') === 'thunder');
  await page.locator('#results-header h2', {hasText: 'a calm tone'}).waitFor();
  await page.locator('#results .result').first().waitFor();
  await noError(page);
  const artists = await page.locator('#results .result .artist').allTextContents();
  assert.ok(artists.length >= 1, 'no results');
  assert.equal(new Set(artists).size, artists.length, `one result per artist: ${artists}`);
  assert.ok(!artists.includes('Noise Collective'), `the filter let through ${artists}`);
  // The step's own screenshot comes after it has emptied the Options: this one shows them in use.
  await page.screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-refine-options.png`), fullPage: true,
    style: SHOT_STYLE});
  // "More like this" keeps them: its request carries the same Options.
  const similar = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/similar'));
  await page.locator('#results .result').first().locator('button.more-like-this').click();
  const again = new URL((await similar).url()).searchParams;
  assert.deepEqual([again.get('not'), again.get('per_artist')], ['thunder', '1'], `request ${again}`);
  await page.locator('#results-header h2', {hasText: 'not like “thunder”'}).waitFor();
  await noError(page);
  // Back twice to the first search: its history entry has no Options, so the fields empty again
  // (and the later steps ask without them).
  await page.goBack();
  await page.locator('#results-header h2', {hasText: 'a calm tone'}).waitFor();
  await page.goBack();
  await page.locator('#results-header h2', {hasText: 'female vocalist'}).waitFor();
  for (const sel of ['#opt-where', '#opt-not', '#opt-diversity', '#opt-per-artist'])
    assert.equal(await page.locator(sel).inputValue(), '', `${sel} is emptied by the entry without Options`);
  await page.locator('details.options summary').click();
});

let seedIds = [];
await step('several-seeds', async () => {
  // "Add as seed" on two results: chips under the Options, the URL holds both (a reload restores them);
  // "More like these" asks /api/similar with both seeds, "More like this" with a track and the seeds.
  const cards = page.locator('#results .result');
  await cards.nth(1).waitFor();
  const picked = await cards.evaluateAll((els) => els.slice(0, 2).map((e) => ({id: e.dataset.trackId, title: e.querySelector('.title').textContent})));
  seedIds = picked.map((p) => p.id);
  for (const i of [0, 1]) await cards.nth(i).locator('button.add-seed').click();
  const chips = page.locator('#seeds .seed-chip');
  const chipIds = () => chips.evaluateAll((els) => els.map((e) => e.dataset.trackId));
  const urlSeeds = () => new URL(page.url()).searchParams.getAll('seed');
  assert.deepEqual(await chipIds(), seedIds, 'one chip per seed, in order');
  assert.deepEqual(urlSeeds(), seedIds, `the URL keeps the seeds: ${page.url()}`);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'female vocalist', 'adding a seed keeps the query');
  assert.equal(await cards.nth(0).locator('button.add-seed').textContent(), '✓ Seed');
  assert.match(await cards.nth(0).locator('button.add-seed').getAttribute('aria-label'), /^Remove .* from the seeds$/);
  const names = await page.locator('#seeds .seed-name').allTextContents();
  for (const [i, p] of picked.entries()) assert.ok(names[i].startsWith(p.title), `chip ${i} names ${p.title}: ${names[i]}`);
  // A reload restores the chips (their names looked up by id).
  await page.reload();
  await page.locator('#results .result').first().waitFor();
  assert.deepEqual(await chipIds(), seedIds, 'the chips are back after a reload');
  await page.waitForFunction((n) => [...document.querySelectorAll('#seeds .seed-name')].map((e) => e.textContent).join('|') === n, names.join('|'));
  // More like these: the seeds alone.
  const these = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/similar'));
  await page.locator('#more-like-these').click();
  const sent = new URL((await these).url()).searchParams;
  assert.deepEqual(sent.getAll('seed'), seedIds, `request ${sent}`);
  assert.ok(!sent.has('track'), `the seeds alone: ${sent}`);
  await page.locator('#results-header h2', {hasText: `More like “${names[0]}” + 1 seed`}).waitFor();
  await page.locator('#results .result').first().waitFor();
  await noError(page);
  assert.equal(new URL(page.url()).searchParams.get('similar'), '');
  assert.deepEqual(urlSeeds(), seedIds);
  let ids = await page.locator('#results .result').evaluateAll((els) => els.map((e) => e.dataset.trackId));
  for (const id of seedIds) assert.ok(!ids.includes(id), `seed ${id} is among its own results: ${ids}`);
  const direct = await apiJson(page, `/api/similar?seed=${seedIds[0]}&seed=${seedIds[1]}&k=10`);
  assert.deepEqual(ids, direct.results.map((r) => String(r.track_id)), 'the page shows what /api/similar?seed=A&seed=B answers');
  if (CLI && DB) {
    const cli = JSON.parse(execFileSync(CLI, ['similar', '--seed', seedIds[0], '--seed', seedIds[1], '-k', '10', '--json', '--db', DB],
      {encoding: 'utf8', env: process.env}));
    assert.deepEqual(ids, cli.map((r) => String(r.track_id)), 'the page shows what `clapsearch similar --seed A --seed B --json` lists');
    console.log(`  \`clapsearch similar --seed ${seedIds[0]} --seed ${seedIds[1]}\` lists the page's ${ids.length} tracks`);
  }
  await page.screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-several-seeds-these.png`), fullPage: true, style: SHOT_STYLE});
  // More like this on a result: that track and both seeds.
  const other = await page.locator('#results .result').first().getAttribute('data-track-id');
  const withTrack = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/similar'));
  await page.locator('#results .result').first().locator('button.more-like-this').click();
  const sent2 = new URL((await withTrack).url()).searchParams;
  assert.deepEqual([sent2.get('track'), ...sent2.getAll('seed')], [other, ...seedIds], `request ${sent2}`);
  await page.locator('#results-header h2', {hasText: '+ 2 seeds'}).waitFor();
  await page.locator('#results .result').first().waitFor();
  ids = await page.locator('#results .result').evaluateAll((els) => els.map((e) => e.dataset.trackId));
  for (const id of [other, ...seedIds]) assert.ok(!ids.includes(id), `seed ${id} is among the results: ${ids}`);
  // Remove a chip: on a "More like" entry the query is asked again without it.
  const again = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/similar'));
  await page.locator(`#seeds .seed-chip[data-track-id="${seedIds[1]}"] button.remove-seed`).click();
  const sent3 = new URL((await again).url()).searchParams;
  assert.deepEqual([sent3.get('track'), ...sent3.getAll('seed')], [other, seedIds[0]], `request ${sent3}`);
  await page.locator('#results-header h2', {hasText: '+ 1 seed'}).waitFor();
  assert.deepEqual(await chipIds(), [seedIds[0]], 'the chip is gone');
  assert.deepEqual(urlSeeds(), [seedIds[0]]);
  await noError(page);
  // Back: both seeds again.
  await page.goBack();
  await page.locator('#results-header h2', {hasText: '+ 2 seeds'}).waitFor();
  assert.deepEqual(await chipIds(), seedIds, 'back restores the removed chip');
  await page.screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-several-seeds-track.png`), fullPage: true, style: SHOT_STYLE});
  // Clear: no chips, no seed in the URL; the later steps start from the first search without seeds.
  await page.locator('#seeds button.clear-seeds').click();
  await page.locator('#seeds').waitFor({state: 'hidden'});
  await page.goto(url('/?q=female%20vocalist'));
  await page.locator('#results-header h2', {hasText: 'female vocalist'}).waitFor();
  await page.locator('#results .result').first().waitFor();
  assert.equal(await chips.count(), 0);
});

let clipTrackId = null;
await step('query-by-example', async () => {
  assert.ok(CLIP && fs.existsSync(CLIP), `--clip FILE needed (got ${CLIP})`);
  await page.locator('#drop-zone input[type=file]').setInputFiles(CLIP);
  await page.locator('#chunk-matches .chunk-match').first().waitFor({timeout: 30000});
  await noError(page);
  assert.ok(await page.locator('#chunk-matches .chunk').count() >= 1, 'chunks listed');
  const results = await page.locator('#results .result').evaluateAll((els) => els.map((e) => ({
    id: e.dataset.trackId, path: e.querySelector('.path').textContent})));
  assert.ok(results.length >= 1, 'no results for the clip');
  if (CLIP_TRACK) {
    const hit = results.find((r) => r.path.endsWith(CLIP_TRACK));
    assert.ok(hit, `the clip's own track ${CLIP_TRACK} is not among the results: ${JSON.stringify(results)}`);
    clipTrackId = hit.id;
    console.log(`  clip found its track ${CLIP_TRACK} at rank ${results.indexOf(hit) + 1}`);
  }
  // The input chunk plays from the object URL, seeking to its start.
  const lastChunk = page.locator('#chunk-matches .chunk').last();
  const chunkStart = Number(await lastChunk.getAttribute('data-start'));
  await lastChunk.locator('button.play-input').click();
  await expectPlaying(page, '#player', chunkStart, 'the input chunk');
  assert.match(await page.locator('#player').evaluate((a) => a.currentSrc), /^blob:/, 'the input plays from the dropped file');
  // The matched window plays from the server, seeking to the matched window's start.
  const match = page.locator('#chunk-matches .chunk-match').last();
  const start = Number(await match.getAttribute('data-start'));
  await match.locator('button.play-match').click();
  await expectPlaying(page, '#player', start, 'the matched clip');
  assert.match(await page.locator('#player').evaluate((a) => a.currentSrc), /\/api\/tracks\/\d+\/audio/);
  await page.locator('#player').evaluate((a) => a.pause());
  assert.ok(new URL(page.url()).searchParams.has('upload'), 'an upload is a history entry');
});

await step('drop-zone', async () => {
  // The same clip dropped on the zone (a synthetic drop event carrying a File).
  await page.goBack();
  await page.locator('#results-header h2', {hasText: 'female vocalist'}).waitFor();
  const bytes = fs.readFileSync(CLIP).toString('base64');
  const dataTransfer = await page.evaluateHandle(([b64, name]) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], name, {type: 'audio/wav'}));
    return dt;
  }, [bytes, path.basename(CLIP)]);
  await page.dispatchEvent('#drop-zone', 'dragover', {dataTransfer});
  await page.dispatchEvent('#drop-zone', 'drop', {dataTransfer});
  await page.locator('#results-header h2', {hasText: path.basename(CLIP)}).waitFor({timeout: 30000});
  await page.locator('#chunk-matches .chunk-match').first().waitFor();
  await noError(page);
});

await step('map', async () => {
  const points = page.locator('#map svg circle.point');
  await points.first().waitFor();
  assert.equal(await points.count(), status.ok, 'one point per ok track');
  const ids = await points.evaluateAll((els) => els.map((e) => e.dataset.trackId));
  assert.equal(new Set(ids).size, ids.length, 'one point per track');
  const tracks = await apiJson(page, '/api/tracks?limit=1000');
  const okIds = tracks.tracks.filter((t) => t.status === 'ok').map((t) => String(t.track_id)).sort();
  assert.deepEqual([...ids].sort(), okIds, 'the map shows exactly the ok tracks of /api/tracks');
  // The current results (the clip's) are ringed.
  const hits = await page.locator('#results .result').evaluateAll((els) => [...new Set(els.map((e) => e.dataset.trackId))]);
  assert.deepEqual((await page.locator('#map circle.point.hit').evaluateAll((els) => els.map((e) => e.dataset.trackId))).sort(), hits.sort(), 'results ringed on the map');
  // Colour by artist: one legend entry per distinct artist, distinct colours.
  await page.locator('#map-color').selectOption('artist');
  const artists = new Set(tracks.tracks.filter((t) => t.status === 'ok').map((t) => t.artist || '(none)'));
  assert.equal(await page.locator('#map-legend li').count(), artists.size, 'legend by artist');
  const fills = new Set(await page.locator('#map svg circle.point').evaluateAll((els) => els.map((e) => e.getAttribute('fill'))));
  assert.equal(fills.size, artists.size, 'one colour per artist');
  await page.locator('#map-color').selectOption('genre');
  // Hover shows the title; click plays the track.
  const p = page.locator('#map svg circle.point').first();
  const pid = await p.getAttribute('data-track-id');
  const t = tracks.tracks.find((x) => String(x.track_id) === pid);
  await p.scrollIntoViewIfNeeded();
  await p.hover();
  await page.locator('#map-tooltip').waitFor({state: 'visible'});
  if (t.title) assert.match(await page.locator('#map-tooltip').textContent(), new RegExp(t.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await p.click();
  await expectPlaying(page, '#player', 0, `map point ${pid}`);
  assert.match(await page.locator('#player').evaluate((a) => a.currentSrc), new RegExp(`/api/tracks/${pid}/audio`));
  await page.locator('#player').evaluate((a) => a.pause());
  // From the keyboard: focus a point, Enter plays it.
  const last = page.locator('#map svg circle.point').last();
  const lid = await last.getAttribute('data-track-id');
  await last.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector('#player').currentSrc.includes(`/api/tracks/${id}/audio`), lid);
  await expectPlaying(page, '#player', 0, `map point ${lid} from the keyboard`);
  await page.locator('#player').evaluate((a) => a.pause());
  await noError(page);
});

await step('for-you', async () => {
  // run.sh made users ann (a history, her mixes) and bob (nothing yet): the view shows a picker,
  // ann's centres, mixes and reasons exactly as /api/taste and /api/mixes answer them, her centres
  // on the map; its songs play; bob gets the empty state that says what to do.
  const users = await apiJson(page, '/api/users');
  assert.deepEqual(users.users, ['ann', 'bob'], `users ${JSON.stringify(users)}`);
  await page.locator('#foryou-section').scrollIntoViewIfNeeded();
  await page.locator('#foryou-user-label').waitFor({state: 'visible'});
  assert.equal(await page.locator('#foryou-user').inputValue(), 'ann', 'the first user is shown first');
  await page.locator('#foryou .centre-card').first().waitFor();
  const taste = await apiJson(page, '/api/taste?user=ann');
  const mixes = await apiJson(page, '/api/mixes?user=ann');
  assert.ok(taste.centres.length >= 1 && mixes.mixes.length >= 1, `ann has centres and mixes: ${JSON.stringify(taste).slice(0, 300)}`);
  const shownCentres = await page.locator('#foryou .centre-card').evaluateAll((els) => els.map((e) => ({
    label: e.querySelector('.centre-label').textContent,
    ids: [...e.querySelectorAll('.song')].map((s) => Number(s.dataset.trackId))})));
  assert.deepEqual(shownCentres, taste.centres.map((c, i) => ({label: `${i + 1}. ${c.label}`, ids: c.tracks.map((t) => t.track_id)})),
    'the centres shown are /api/taste\'s');
  const shownMixes = await page.locator('#foryou .mix').evaluateAll((els) => els.map((e) => ({
    name: e.querySelector('.mix-name').textContent,
    songs: [...e.querySelectorAll('.song')].map((s) => ({id: Number(s.dataset.trackId), reason: s.querySelector('.reason')?.textContent ?? ''}))})));
  assert.deepEqual(shownMixes, mixes.mixes.map((m) => ({name: m.name, songs: m.tracks.map((t) => ({id: t.track_id, reason: t.reason}))})),
    'the mixes and reasons shown are /api/mixes\'s');
  for (const m of mixes.mixes) for (const t of m.tracks) assert.match(t.reason, /\S/, `every song of ${m.name} has a reason`);
  // Each centre on the map, a labelled marker.
  const markers = page.locator('#map svg g.centre');
  await page.waitForFunction((n) => document.querySelectorAll('#map svg g.centre').length === n, taste.centres.filter((c) => c.map).length);
  assert.deepEqual(await markers.locator('text').allTextContents(), taste.centres.map((c, i) => `${i + 1}. ${c.label}`));
  await markers.first().locator('rect').click();
  await page.locator('#centre-0.focused').waitFor();
  // A song of a mix plays; "Play the mix" plays the mix through.
  const firstMix = page.locator('#foryou .mix').first();
  const song = firstMix.locator('.song').first();
  const sid = await song.getAttribute('data-track-id');
  await song.locator('button.play-song').click();
  await expectPlaying(page, '#player', 0, `mix song ${sid}`);
  assert.match(await page.locator('#player').evaluate((a) => a.currentSrc), new RegExp(`/api/tracks/${sid}/audio`));
  await firstMix.locator('button.play-mix').click();
  await expectPlaying(page, '#player', 0, 'the mix');
  if (mixes.mixes[0].tracks.length > 1) {
    const next = mixes.mixes[0].tracks[1].track_id;
    await page.locator('#player').evaluate((a) => a.dispatchEvent(new Event('ended')));
    await page.waitForFunction((id) => document.querySelector('#player').currentSrc.includes(`/api/tracks/${id}/audio`), next);
    assert.match(await page.locator('#now-playing').textContent(), /2 of \d+\)$/, 'the next song of the mix plays');
  }
  await page.locator('#player').evaluate((a) => a.pause());
  await noError(page);
  await page.locator('#foryou-section').screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-for-you-ann.png`), style: SHOT_STYLE});
  // Bob: nothing yet, and the page says what to do; the map loses ann's centres.
  await page.locator('#foryou-user').selectOption('bob');
  await page.locator('#foryou .empty', {hasText: 'No plays yet'}).waitFor();
  assert.match(await page.locator('#foryou').textContent(), /clapsearch history import FILE --user bob/);
  await page.waitForFunction(() => document.querySelectorAll('#map svg g.centre').length === 0);
  await page.locator('#foryou-section').screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-for-you-bob.png`), style: SHOT_STYLE});
  await page.locator('#foryou-user').selectOption('ann');
  await page.locator('#foryou .centre-card').first().waitFor();
  await noError(page);
});

await step('library', async () => {
  await page.locator('#library-section').scrollIntoViewIfNeeded();
  const text = await page.locator('#library-status').textContent();
  assert.ok(text.includes(`${status.ok} ok`), `library status shows the ok count: ${text}`);
  assert.ok(text.includes(`${status.coverage.windows} of ${status.coverage.window_total}`) && text.includes('tracks complete'),
    `library status says how much is embedded (issue 56): ${text}`);
  const choice = status.precision_choice;
  if (choice?.measured)
    assert.ok(text.includes(`chosen on this machine from ${choice.sample.windows} windows of ${choice.sample.tracks} tracks`) && !text.includes('undefined'),
      `library status says what --precision auto measured on (it said "undefined windows of undefined tracks"): ${text}`);
  assert.equal(await page.locator('#library-folders tbody tr').count(), (status.folders || []).length, 'one row per folder');
  assert.equal(await page.locator('#library-errors tbody tr').count(), (status.error_list || []).length, 'one row per error');
  if (status.error_list && status.error_list.length) {
    assert.ok((await page.locator('#library-errors').textContent()).includes(status.error_list[0].path));
  }
  await page.locator('#browse-list .track').first().waitFor();
});

await step('deep-link-q', async () => {
  await page.goto(url('/?q=calm%20piano'));
  await page.locator('#results .result').first().waitFor();
  assert.equal(await page.locator('#q').inputValue(), 'calm piano');
  await page.locator('#results .result .strip .win.best').first().waitFor();
  await noError(page);
});

await step('deep-link-like', async () => {
  const tracks = await apiJson(page, '/api/tracks?limit=1000');
  const id = clipTrackId || String(tracks.tracks.find((t) => t.status === 'ok').track_id);
  await page.goto(url(`/?like=${id}`));
  await page.locator('#chunk-matches .chunk-match').first().waitFor();
  await noError(page);
  const ids = await page.locator('#results .result').evaluateAll((els) => els.map((e) => e.dataset.trackId));
  assert.ok(ids.includes(id), `querying track ${id} by itself finds it: ${ids}`);
  // A new search, then back: the like results return.
  await page.locator('#q').fill('drums');
  await page.locator('#search-button').click();
  await page.waitForURL((u) => u.searchParams.get('q') === 'drums');
  await page.locator('#results-header h2', {hasText: 'drums'}).waitFor();
  await page.goBack();
  await page.waitForURL((u) => u.searchParams.get('like') === id);
  await page.locator('#chunk-matches .chunk-match').first().waitFor();
  await page.locator('#results-header h2', {hasText: 'Sounds like'}).waitFor();
});

await step('errors-are-shown', async () => {
  await page.goto(url('/?similar=987654321'));
  await page.locator('#message').waitFor({state: 'visible'});
  assert.match(await page.locator('#message').textContent(), /\b4\d\d\b/, 'the status of the failed request is shown');
  // A file that is not audio, given for query by example: the server's refusal is shown.
  await page.locator('#drop-zone input[type=file]').setInputFiles({name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not audio at all\n')});
  await page.locator('#message', {hasText: 'Query by example failed'}).waitFor();
  assert.match(await page.locator('#message').textContent(), /\b4\d\d\b/, 'the status of the refused upload is shown');
});

await step('phone-width', async () => {
  const phone = await newPage({width: 375, height: 800});
  current = phone;
  // With two seeds: their chips must fit too.
  await phone.goto(url(`/?q=female%20vocalist${seedIds.map((id) => `&seed=${id}`).join('')}`));
  await phone.locator('#results .result .strip .win.best').first().waitFor();
  assert.equal(await phone.locator('#seeds .seed-chip').count(), seedIds.length, 'the seed chips at phone width');
  await phone.locator('#map svg circle.point').first().waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is wider than the phone by ${overflow}px`);
  const box = await phone.locator('#results .result').first().boundingBox();
  assert.ok(box.width <= 375, `a result is ${box.width}px wide`);
  await phone.locator('#foryou .mix').first().waitFor();
  for (const sel of ['#foryou .centre-card', '#foryou .mix']) {
    const b = await phone.locator(sel).first().boundingBox();
    assert.ok(b.x >= 0 && b.x + b.width <= 375, `${sel} does not fit the phone: ${JSON.stringify(b)}`);
  }
  await noError(phone);
  await phone.screenshot({path: path.join(ARTIFACTS, `${String(stepNo).padStart(2, '0')}-phone-width-full.png`), fullPage: true, style: SHOT_STYLE});
}, {fullPage: false});

if (HOSTILE_URL) {
  // Tags are whatever a file carries (hostile pass 22): a word of 3,000 letters made the page
  // 54,000 px wide (H22S-1); control characters drew as boxes and a title's U+202E reversed the
  // artist and the words after it in the same line (H22S-2). Markup stays text.
  await step('hostile-tags', async () => {
    for (const viewport of [{width: 1280, height: 900}, {width: 375, height: 800}]) {
      const p = await newPage(viewport);
      current = p;
      await p.goto(url('/?q=tone', HOSTILE_URL));
      await p.locator('#results .result .strip .win').first().waitFor();
      await p.waitForFunction(() => document.querySelectorAll('#results .result').length === 2);
      await p.locator('#map svg circle.point').first().waitFor();
      await p.locator('#browse-list .track').nth(1).waitFor();
      await p.locator('#library-status dl').waitFor();
      // Every view that names a track: results, seeds, the player bar, the tooltip, the legend.
      for (const id of await p.locator('#results .result').evaluateAll((els) => els.map((e) => e.dataset.trackId)))
        await p.locator(`#results .result[data-track-id="${id}"] button.add-seed`).click();
      await p.locator('#browse-list .track button[aria-label^="Play"]').first().click();
      await p.locator('#map-color').selectOption('album');
      await p.locator('#map svg circle.point').first().focus();
      await p.locator('#map-tooltip').waitFor({state: 'visible'});
      const seen = await p.evaluate(() => {
        const controls = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;
        const texts = [document.body.innerText, ...[...document.querySelectorAll('[aria-label], [title]')]
          .flatMap((e) => [e.getAttribute('aria-label') || '', e.getAttribute('title') || ''])];
        const wide = [...document.querySelectorAll('main *, footer *')].filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width && r.right > innerWidth + 1 && !e.closest('[hidden]') && getComputedStyle(e.parentElement).overflowX === 'visible';
        }).map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`);
        return {pageWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5),
          controls: texts.filter((t) => controls.test(t)).map((t) => JSON.stringify(t.match(/.{0,20}[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069].{0,20}/su)[0])).slice(0, 5),
          injected: document.querySelectorAll('img, b#injected').length, pwned: window.__pwned ?? null};
      });
      // The tags are shown, as text: the artist's markup and the title with U+FFFD where a control was.
      const results = await p.locator('#results').textContent();
      const wrong = [
        seen.pageWidth > viewport.width + 1 ? `the page is ${seen.pageWidth} px wide in ${viewport.width} px` : '',
        seen.wide.length ? `elements past the window's edge: ${seen.wide.join(', ')}` : '',
        seen.controls.length ? `control characters or bidirectional overrides of the tags shown as they are: ${seen.controls.join(', ')}` : '',
        seen.injected ? 'markup in a tag became elements' : '', seen.pwned !== null ? 'a tag ran a script' : '',
        results.includes('<img src=x onerror="window.__pwned=1">Bob') ? '' : 'the markup of the artist is not shown as text',
        results.includes('\ufffdEvil ctl\ufffd\ufffd\ufffd[31mred\ufffd\ufffd') ? '' : `the title's controls are not shown as U+FFFD: ${JSON.stringify(results.slice(0, 120))}`,
      ].filter(Boolean);
      assert.deepEqual(wrong, [], `the hostile tags at ${viewport.width} px`);
      await noError(p);
    }
  }, {fullPage: false});
}

if (TOKEN_URL) {
  await step('token', async () => {
    const p = await newPage();
    current = p;
    await p.goto(url(`/?token=${encodeURIComponent(TOKEN)}&q=piano`, TOKEN_URL));
    await p.locator('#results .result').first().waitFor();
    assert.ok(!new URL(p.url()).searchParams.has('token'), 'the token leaves the address bar');
    const src = await p.locator('#results .result audio').first().getAttribute('src');
    assert.match(src, /[?&]token=/, 'audio URLs carry the token');
    await p.locator('#results .result button.play').first().click();
    const best = Number(await p.locator('#results .result').first().getAttribute('data-best-start'));
    await expectPlaying(p, '#results .result:nth-child(1) audio', best, 'audio with a token');
    await p.locator('#map svg circle.point').first().waitFor();
    // Without the token: the refusal is shown, not swallowed.
    const q = await newPage();
    current = q;
    await q.goto(url('/?q=piano', TOKEN_URL));
    await q.locator('#message').waitFor({state: 'visible'});
    assert.match(await q.locator('#message').textContent(), /401|403/);
  });
}

await browser.close();
console.log(`all ${stepNo} steps passed; screenshots in ${ARTIFACTS}`);
