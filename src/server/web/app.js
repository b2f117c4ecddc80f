// clapsearch web page: text search, more like this, query by example, map, For you and library.
// Plain JavaScript, no build step; talks to the JSON API under /api/ (see /api/openapi.json).
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);

// ---- Token: read once from ?token=, kept in sessionStorage, taken out of the address bar. ----
const TOKEN = (() => {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem('clapsearch-token', t);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem('clapsearch-token') || '';
})();

// Adds ?token= to a same-origin URL (before any #t= media fragment).
function withToken(u) {
  if (!TOKEN || !u) return u;
  const hash = u.indexOf('#');
  const base = hash < 0 ? u : u.slice(0, hash), frag = hash < 0 ? '' : u.slice(hash);
  return base + (base.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(TOKEN) + frag;
}

class ApiError extends Error {}

async function api(path, params, init = {}) {
  const url = new URL('api/' + path, document.baseURI);
  for (const [k, v] of Object.entries(params || {})) {
    for (const one of [].concat(v)) if (one !== undefined && one !== null && one !== '') url.searchParams.append(k, one);
  }
  const headers = Object.assign({Accept: 'application/json'}, init.headers || {});
  if (TOKEN) headers.Authorization = 'Bearer ' + TOKEN;
  let res;
  try {
    res = await fetch(url, Object.assign({}, init, {headers}));
  } catch (e) {
    throw new ApiError(`Cannot reach the server (${e.message})`);
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const what = body && body.error ? body.error + (body.detail ? ': ' + body.detail : '') : res.statusText;
    const hint = res.status === 401 || res.status === 403 ? ' (open the page with ?token=… as printed by clapsearch serve)' : '';
    throw new ApiError(`${res.status} ${what}${hint}`);
  }
  if (body === null) throw new ApiError(`${url.pathname}: the answer is not JSON`);
  return body;
}

// ---- Small DOM helpers. ----
// Text from the library (tags, file and folder names, labels) as the page shows it: the
// characters that draw as boxes or move the text after them are shown as U+FFFD, as the CLI's
// terminal_text shows them as '?' (R9C-6): C0 controls but tab and line ends (which HTML shows as
// a space), DEL, C1, the line and paragraph separators and the bidirectional embeddings,
// overrides and isolates (U+2028..U+202E, U+2066..U+2069). A title's U+202E would otherwise
// reverse the artist, the mix and the buttons' words after it in the same line (hostile pass 22,
// H22S-2). The marks U+200E/U+200F stay: they move nothing beyond their neighbours.
const LAYOUT_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g;
const shown = (text) => String(text).replace(LAYOUT_CONTROLS, '\ufffd');
const SHOWN_ATTRIBUTES = new Set(['title', 'aria-label']);
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = shown(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : SHOWN_ATTRIBUTES.has(k) ? shown(v) : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) el.append(typeof kid === 'string' ? shown(kid) : kid);
  return el;
}
const fmtTime = (s) => {
  if (s === null || s === undefined || !isFinite(s)) return '–';
  const t = Math.abs(s - Math.round(s)) < 0.05 ? Math.round(s) : Math.round(s * 10) / 10;
  const m = Math.floor(t / 60), r = t - 60 * m;
  return `${m}:${r < 10 ? '0' : ''}${Number.isInteger(r) ? r : r.toFixed(1)}`;
};
const fmtHours = (sec) => (sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : `${Math.round(sec / 60)} min`);
const fmtScore = (x) => (x === null || x === undefined ? '–' : Number(x).toFixed(3));
const fmtDist = (d) => fmtScore(Math.max(0, d));   // cosine distance; rounding can make it a hair below 0
const trackName = (t) => t.title ? (t.artist ? `${t.title} — ${t.artist}` : t.title) : (t.display_path || t.path || `track ${t.track_id}`);

function showMessage(text, kind = 'error') {
  const m = $('#message');
  m.textContent = shown(text);
  m.className = kind;
  m.hidden = !text;
}
function setBusy(on) { $('#busy').hidden = !on; }

// A play() the browser dropped because a newer pause() or load came first (AbortError): the
// newer request is what the user asked for, not an error to show (seen when a mix moves on to its
// next song while the last play() was still starting).
const superseded = (e) => e && e.name === 'AbortError';

// ---- The shared player (map clicks, chunk matches, library): plays one segment. ----
const player = $('#player');
let segmentEnd = null;
let queue = null;   // a mix played song after song ("Play the mix"): {songs, at, name}; any other play ends it
function playAt(url, start = 0, end = null, label = '') {
  segmentEnd = end;
  queue = null;
  $('#now-playing').textContent = label ? shown(`▶ ${label}`) : '';
  if (player.dataset.src !== url) {
    player.dataset.src = url;
    player.src = url;
  }
  const seek = () => { if (Math.abs(player.currentTime - start) > 0.25) player.currentTime = start; };
  if (player.readyState >= 1) seek(); else { player.currentTime = start; player.addEventListener('loadedmetadata', seek, {once: true}); }
  player.play().catch((e) => { if (!superseded(e)) showMessage(`Cannot play ${label || url}: ${e.message}`); });
}
player.addEventListener('timeupdate', () => {
  if (segmentEnd !== null && player.currentTime >= segmentEnd) { player.pause(); segmentEnd = null; }
});
player.addEventListener('error', () => showMessage(`Cannot play ${$('#now-playing').textContent.replace('▶ ', '')}: the audio did not load`));
// The songs of a list one after another, from the i-th.
function playList(songs, i, name) {
  if (i >= songs.length) return;
  playAt(withToken(songs[i].audio_url), 0, null, `${trackName(songs[i])} (${name}, ${i + 1} of ${songs.length})`);
  queue = {songs, at: i, name};
}
player.addEventListener('ended', () => { if (queue) playList(queue.songs, queue.at + 1, queue.name); });
// One sound at a time.
document.addEventListener('play', (e) => {
  for (const a of document.querySelectorAll('audio')) if (a !== e.target && !a.paused) a.pause();
}, true);

// ---- Results. ----
let currentHits = new Set();   // track ids of the shown results (ringed on the map)
const cache = new Map();       // URL search string -> rendered data (back/forward without refetching uploads)

function labelBadge(label) {
  return label ? h('span', {class: `badge ${String(label).toLowerCase()}`, text: label}) : null;
}
function tagList(labels) {
  const names = (labels || []).map((l) => (typeof l === 'string' ? l : l.label)).filter(Boolean);
  return names.length ? h('ul', {class: 'tags', 'aria-label': 'tags'}, names.map((n) => h('li', {text: n}))) : null;
}

// One result card; opts.query enables the per-window score strip.
function resultCard(r, opts = {}) {
  const start = r.best_start ?? (r.matches && r.matches[0] ? r.matches[0].start : 0);
  const audio = h('audio', {controls: true, preload: 'metadata', 'aria-label': `Player: ${trackName(r)}`});
  audio.src = withToken(r.play_url || r.audio_url);
  audio.dataset.start = start;
  audio.addEventListener('loadedmetadata', () => {
    if (start > 0 && audio.currentTime < start - 0.25 && !audio.dataset.seeked) audio.currentTime = start;
  }, {once: true});
  audio.addEventListener('seeking', () => { audio.dataset.seeked = '1'; });
  audio.addEventListener('error', () => showMessage(`Cannot play ${trackName(r)}: the audio did not load`));
  const play = h('button', {type: 'button', class: 'play', 'aria-label': `Play ${trackName(r)} from ${fmtTime(start)}`, text: `▶ Play from ${fmtTime(start)}`,
    onclick: () => {
      if (audio.currentTime < start - 0.25 || (r.best_end && audio.currentTime > r.best_end)) audio.currentTime = start;
      audio.play().catch((e) => { if (!superseded(e)) showMessage(`Cannot play ${trackName(r)}: ${e.message}`); });
    }});
  const card = h('li', {class: 'result', dataset: {trackId: r.track_id, bestStart: start, score: r.score}},
    h('div', {class: 'result-head'},
      h('span', {class: 'rank', text: `#${r.rank}`}),
      h('div', {class: 'who'},
        h('strong', {class: 'title', text: r.title || r.display_path || r.path}),
        r.artist ? h('span', {class: 'artist', text: r.artist}) : null,
        h('div', {class: 'path muted small', text: r.display_path || r.path}),
        // Progressive indexing embeds a few windows a track first: its score comes from those.
        r.window_total > r.window_count
          ? h('div', {class: 'coverage muted small', text: `${r.window_count} of ${r.window_total} windows indexed so far`}) : null),
      h('div', {class: 'scorebox'},
        h('span', {class: 'score', title: 'score', text: fmtScore(r.score)}),
        labelBadge(r.label),
        r.votes !== undefined ? h('span', {class: 'muted small', text: `${r.votes} vote${r.votes === 1 ? '' : 's'}`}) : null)),
    tagList(r.labels),
    opts.query ? h('div', {class: 'strip', role: 'group', 'aria-label': 'Score of each window (best highlighted)'}) : null,
    h('div', {class: 'controls'}, play, audio),
    r.matches && r.matches.length ? h('ul', {class: 'matches small'}, r.matches.map((m) =>
      h('li', {text: `query ${fmtTime(m.query_start)}–${fmtTime(m.query_end)} → ${fmtTime(m.start)}–${fmtTime(m.end)} (d = ${fmtDist(m.distance)})`}))) : null,
    h('div', {class: 'actions'},
      h('button', {type: 'button', class: 'more-like-this', text: 'More like this', onclick: () => moreLike(r)}),
      seedButton(r),
      h('button', {type: 'button', class: 'sounds-like', text: 'Chunk matches', title: 'Query by example with this track', onclick: () => navigate({like: r.track_id})})));
  if (opts.query) loadStrip(card, r, opts.query, audio);
  return card;
}

async function loadStrip(card, r, query, audio) {
  const strip = $('.strip', card);
  try {
    const s = await api(`tracks/${r.track_id}/scores`, {q: query});
    const scores = s.windows.filter((w) => !w.silent && w.score !== null).map((w) => w.score);
    const lo = Math.min(...scores), hi = Math.max(...scores);
    const bestStart = s.best_start ?? r.best_start;
    let bestMarked = false;
    for (const w of s.windows) {
      const silent = w.silent || w.score === null;
      const best = !silent && !bestMarked && Math.abs(w.start - bestStart) < 1e-3;
      bestMarked ||= best;
      const frac = silent ? 0 : (hi > lo ? (w.score - lo) / (hi - lo) : 1);
      const desc = `${fmtTime(w.start)}–${fmtTime(w.end)}: ${silent ? 'silent' : 'score ' + fmtScore(w.score)}${best ? ' (best)' : ''}`;
      strip.append(h('button', {type: 'button', class: `win${best ? ' best' : ''}${silent ? ' silent' : ''}`,
        style: `--level:${(0.15 + 0.85 * frac).toFixed(3)}`, title: desc, 'aria-label': `Play window ${desc}`,
        dataset: {start: w.start, end: w.end},
        onclick: () => { audio.currentTime = w.start; audio.play().catch((e) => { if (!superseded(e)) showMessage(e.message); }); }}));
    }
    audio.addEventListener('timeupdate', () => {
      const t = audio.currentTime;
      for (const b of strip.children) b.classList.toggle('playing', t >= +b.dataset.start && t < +b.dataset.end && !audio.paused);
    });
  } catch (e) {
    strip.append(h('span', {class: 'muted small', text: `window scores unavailable (${e.message})`}));
  }
}

function renderResults(title, groups, opts = {}) {
  const header = $('#results-header'), out = $('#results');
  header.replaceChildren(h('h2', {text: title}), h('p', {class: 'muted', text: opts.sub || ''}));
  out.replaceChildren();
  currentHits = new Set();
  for (const g of groups) {
    if (g.heading) out.append(h('h3', {class: 'query-heading', text: g.heading}));
    if (!g.results.length) { out.append(h('p', {class: 'muted', text: 'No results.'})); continue; }
    out.append(h('ol', {class: 'result-list'}, g.results.map((r) => resultCard(r, {query: g.query}))));
    for (const r of g.results) currentHits.add(r.track_id);
  }
  if (!opts.keepChunks) $('#chunk-matches').hidden = true;
  highlightMap();
}

// Per query chunk: which window of which track it matched; input and match both playable.
function renderChunks(data, inputUrl, inputName) {
  const box = $('#chunk-matches');
  const byChunk = new Map((data.chunks || []).map((c) => [c.index, {chunk: c, hits: []}]));
  for (const r of data.results || []) {
    for (const m of r.matches || []) {
      let idx = m.chunk;
      if (idx === undefined) { const c = (data.chunks || []).find((c) => Math.abs(c.start - m.query_start) < 1e-3); idx = c ? c.index : -1; }
      if (!byChunk.has(idx)) byChunk.set(idx, {chunk: {index: idx, start: m.query_start, end: m.query_end}, hits: []});
      byChunk.get(idx).hits.push({r, m});
    }
  }
  const rows = [...byChunk.values()].sort((a, b) => a.chunk.index - b.chunk.index);
  box.replaceChildren(h('h2', {text: 'Input sample → matched clip'}),
    h('p', {class: 'muted small', text: 'For every chunk of the input, the library windows it matched (d = cosine distance; smaller is closer).'}),
    h('ol', {class: 'chunk-list'}, rows.map(({chunk, hits}) => {
      hits.sort((a, b) => a.m.distance - b.m.distance);
      const label = `${inputName} ${fmtTime(chunk.start)}–${fmtTime(chunk.end)}`;
      return h('li', {class: 'chunk', dataset: {chunk: chunk.index, start: chunk.start}},
        h('div', {class: 'chunk-input'},
          h('button', {type: 'button', class: 'play-input', 'aria-label': `Play input ${label}`, text: `▶ input ${fmtTime(chunk.start)}–${fmtTime(chunk.end)}`,
            onclick: () => playAt(inputUrl, chunk.start, chunk.end, label)}),
          chunk.silent ? h('span', {class: 'muted small', text: ' silent (not matched)'}) : null),
        hits.length ? h('ul', {class: 'chunk-hits'}, hits.slice(0, 3).map(({r, m}) => {
          const mlabel = `${trackName(r)} ${fmtTime(m.start)}–${fmtTime(m.end)}`;
          return h('li', {class: 'chunk-match', dataset: {trackId: r.track_id, start: m.start}},
            h('span', {class: 'arrow', 'aria-hidden': 'true', text: '→ '}),
            h('button', {type: 'button', class: 'play-match', 'aria-label': `Play match ${mlabel}`, text: `▶ ${mlabel}`,
              onclick: () => playAt(withToken(r.audio_url), m.start, m.end, mlabel)}),
            h('span', {class: 'muted small', text: ` d = ${fmtDist(m.distance)}`}));
        })) : (chunk.silent ? null : h('p', {class: 'muted small', text: 'no match among the shown tracks'})));
    })));
  box.hidden = false;
}

// ---- Refinements: the Options that apply to every query (a filter, a description to move away
// from, variety, a cap per artist), read when a query is asked, kept in its URL, sent as the
// REST parameters of the same names. ----
const REFINE = [['where', '#opt-where'], ['not', '#opt-not'], ['diversity', '#opt-diversity'], ['per_artist', '#opt-per-artist']];
function readRefine(st) {
  for (const [key, sel] of REFINE) if (st[key] === undefined && $(sel).value.trim()) st[key] = $(sel).value.trim();
  return st;
}
function refineParams(st, keys = REFINE.map(([key]) => key)) {
  const out = {};
  for (const key of keys) if (st[key] !== undefined) out[key] = st[key];
  return out;
}

// ---- Seeds: tracks the next "More like this" should also be like ("Add as seed" on a result or a
// library row), shown as chips under the Options and kept in the URL as repeated seed=ID (so a
// reload or the back button restores them). "More like this" on a track asks /api/similar with
// track=ID and the seeds as its seed parameters (one query: normalise(sum of the L2-normalised
// track embeddings), the seeds left out of the results); "More like these" asks with the seeds alone. ----
let seeds = [];                 // track ids (strings) of the current history entry
const names = new Map();        // track id -> display name, for the chips and headings
const nameOf = (id) => names.get(String(id)) || `track ${id}`;
const remember = (t) => names.set(String(t.track_id), trackName(t));
// Looks up the names not known yet (a reload, a deep link), each once; failures leave "track ID".
const lookups = new Map();      // track id -> its pending or finished lookup
function fetchNames(ids) {
  return Promise.all([...new Set(ids.map(String))].filter((id) => id && !names.has(id)).map((id) => {
    if (!lookups.has(id)) lookups.set(id, api(`tracks/${encodeURIComponent(id)}`).then(remember, () => {}));
    return lookups.get(id);
  }));
}
function moreLike(t) {
  remember(t);
  return navigate({similar: String(t.track_id)});
}
function markSeedButton(b) {
  const on = seeds.includes(b.dataset.trackId), name = nameOf(b.dataset.trackId);
  b.classList.toggle('on', on);
  b.textContent = on ? '✓ Seed' : b.dataset.short ? '+ Seed' : '+ Add as seed';
  b.setAttribute('aria-label', shown(on ? `Remove ${name} from the seeds` : `Add ${name} as a seed`));
}
function seedButton(t, short = false) {
  const id = String(t.track_id);
  remember(t);
  const b = h('button', {type: 'button', class: 'add-seed', dataset: short ? {trackId: id, short: '1'} : {trackId: id},
    onclick: () => setSeeds(seeds.includes(id) ? seeds.filter((s) => s !== id) : [...seeds, id])});
  markSeedButton(b);
  return b;
}
// A new seed list: on a "More like" entry the seeds are its query, so it is asked again (a new
// history entry); elsewhere the current entry's URL just takes the new list.
function setSeeds(next) {
  const st = Object.assign(searchToState(location.search), {seeds: next});
  if (st.similar !== undefined) return st.similar === '' && !next.length ? navigate({seeds: []}) : navigate(st);
  history.replaceState(st, '', stateToSearch(st));
  seeds = next;
  renderSeeds();
}
function renderSeeds() {
  const box = $('#seeds');
  box.hidden = !seeds.length;
  box.replaceChildren(...(seeds.length ? [
    h('span', {id: 'seeds-label', class: 'seeds-label', text: 'Also like:'}),
    h('ul', {class: 'seed-chips', 'aria-labelledby': 'seeds-label'}, seeds.map((id) => h('li', {class: 'seed-chip', dataset: {trackId: id}},
      h('span', {class: 'seed-name', title: nameOf(id), text: nameOf(id)}),
      h('button', {type: 'button', class: 'remove-seed', title: 'Remove this seed', 'aria-label': `Remove ${nameOf(id)} from the seeds`, text: '×',
        onclick: () => { setSeeds(seeds.filter((s) => s !== id)); ($('#seeds .remove-seed') || $('#q')).focus(); }})))),
    h('button', {type: 'button', id: 'more-like-these', text: 'More like these', onclick: () => navigate({similar: ''})}),
    h('button', {type: 'button', class: 'link clear-seeds', text: 'Clear', 'aria-label': 'Clear the seeds',
      onclick: () => { setSeeds([]); $('#q').focus(); }})] : []));
  markSeedButtons();
  if (seeds.some((id) => !names.has(id))) fetchNames(seeds).then(() => { if (seeds.some((id) => names.has(id))) renderSeedNames(); });
}
function markSeedButtons() {
  for (const b of document.querySelectorAll('button.add-seed')) markSeedButton(b);
}
// Only the names, once looked up (the chips keep their focus).
function renderSeedNames() {
  for (const li of document.querySelectorAll('#seeds .seed-chip')) {
    const name = shown(nameOf(li.dataset.trackId));
    $('.seed-name', li).textContent = name; $('.seed-name', li).title = name;
    $('.remove-seed', li).setAttribute('aria-label', `Remove ${name} from the seeds`);
  }
  markSeedButtons();
}

// ---- Navigation: every search / like / similar is a history entry; popstate re-renders. ----
function stateToSearch(st) {
  const p = new URLSearchParams();
  if (st.q) for (const q of [].concat(st.q)) p.append('q', q);
  if (st.q && st.k && st.k !== '10') p.set('k', st.k);
  if (st.q && st.aggregate && st.aggregate !== 'mean') p.set('aggregate', st.aggregate);
  for (const [key] of REFINE) if (st[key]) p.set(key, st[key]);
  if (st.similar !== undefined) p.set('similar', st.similar);
  if (st.like !== undefined) p.set('like', st.like);
  if (st.upload !== undefined) p.set('upload', st.upload);
  for (const id of st.seeds || []) p.append('seed', id);
  const s = p.toString();
  return s ? '?' + s : location.pathname;
}
function searchToState(search) {
  const p = new URLSearchParams(search);
  const st = {};
  const qs = p.getAll('q').filter((q) => q.trim());
  if (qs.length) { st.q = qs; st.k = p.get('k') || undefined; st.aggregate = p.get('aggregate') || undefined; }
  if (p.has('similar')) st.similar = p.get('similar');
  if (p.has('like')) st.like = p.get('like');
  if (p.has('upload')) st.upload = p.get('upload');
  for (const [key] of REFINE) if (p.get(key)) st[key] = p.get(key);
  const ids = [...new Set(p.getAll('seed').filter((id) => id.trim()))];
  if (ids.length) st.seeds = ids;
  return st;
}
// An uploaded query's cache key: its URL without the seeds (the seed list may change on its entry).
const uploadKey = (st) => stateToSearch(Object.assign({}, st, {seeds: undefined}));
function navigate(st) {
  // The Options apply to whatever is asked next (a search, "More like this", a drop); the seeds stay.
  readRefine(st);
  if (st.seeds === undefined && seeds.length) st.seeds = seeds.slice();
  const search = stateToSearch(st);
  history.pushState(st, '', search);
  return route(st);
}
window.addEventListener('popstate', () => route(searchToState(location.search)));

let routeSeq = 0;
async function route(st) {
  const seq = ++routeSeq;
  const key = uploadKey(st);
  showMessage('');
  seeds = st.seeds || [];
  renderSeeds();
  if (!st.q && (st.similar !== undefined || st.like !== undefined || st.upload !== undefined)) $('#q').value = '';
  for (const [key, sel] of REFINE) $(sel).value = st[key] || '';
  if (st.q) { $('#q').value = st.q.join(' | '); if (st.k) $('#opt-k').value = st.k; if (st.aggregate) $('#opt-aggregate').value = st.aggregate; }
  const run = async () => {
    if (st.q) {
      const data = await api('search', {q: st.q, k: st.k, aggregate: st.aggregate, ...refineParams(st)});
      return () => renderResults(st.q.length === 1 ? `Results for “${st.q[0]}”` : 'Results',
        data.queries.map((g) => ({heading: st.q.length > 1 ? g.query : null, query: g.query, results: g.results})));
    }
    if (st.similar !== undefined) {
      // similar=ID: that track plus the seeds; similar= (empty): the seeds alone ("More like these").
      const extra = (st.seeds || []).filter((id) => id !== st.similar);
      if (!st.similar && !extra.length) throw new ApiError('More like these: add a track as a seed first.');
      const data = await api('similar', {track: st.similar, seed: extra, k: 10, ...refineParams(st)});
      if (data.query.track_id === undefined) await fetchNames([st.similar || extra[0]]);
      // With seeds or "not like" the answer names its terms rather than the track (a mixed query).
      const lead = data.query.track_id !== undefined ? trackName(data.query) : nameOf(st.similar || extra[0]);
      const more = st.similar ? extra.length : extra.length - 1;
      const plus = more ? ` + ${more} seed${more === 1 ? '' : 's'}` : '';
      const away = st.not ? `, not like “${st.not}”` : '';
      return () => renderResults(`More like “${lead}”${plus}${away}`, [{results: data.results}],
        {sub: more ? 'Nearest tracks to the seeds together (their track embeddings summed).' : 'Nearest tracks by track embedding.'});
    }
    if (st.like !== undefined) {
      const data = await api('like', {track: st.like, ...refineParams(st)});
      const q = data.query || {};
      return () => {
        renderChunks(data, withToken(`/api/tracks/${st.like}/audio`), q.name || `track ${st.like}`);
        renderResults(`Sounds like “${q.name || 'track ' + st.like}”`, [{results: data.results}], {keepChunks: true, sub: 'Tracks whose windows match the chunks of the query.'});
      };
    }
    if (st.upload !== undefined) {
      const hit = cache.get(key);
      if (!hit) throw new ApiError('An uploaded query is not kept across page loads: drop the file again.');
      return hit;
    }
    return () => { $('#results-header').replaceChildren(); $('#results').replaceChildren(); $('#chunk-matches').hidden = true; currentHits = new Set(); highlightMap(); };
  };
  setBusy(true);
  try {
    const render = await run();
    if (seq !== routeSeq) return;
    render();
  } catch (e) {
    if (seq !== routeSeq) return;
    showMessage(e.message);
    $('#results-header').replaceChildren(); $('#results').replaceChildren(); $('#chunk-matches').hidden = true;
    currentHits = new Set(); highlightMap();
  } finally {
    if (seq === routeSeq) setBusy(false);
  }
}

async function uploadLike(file) {
  if (!file) return;
  const inputUrl = URL.createObjectURL(file);
  const st = {upload: file.name};
  readRefine(st);
  delete st.not;  // an uploaded file's query takes no text terms
  if (seeds.length) st.seeds = seeds.slice();  // kept as chips; not sent with the upload
  const key = uploadKey(st);
  const form = new FormData();
  form.append('file', file, file.name);
  showMessage('');
  setBusy(true);
  try {
    const data = await api('like', {k: 10, ...refineParams(st)}, {method: 'POST', body: form});
    const name = (data.query && data.query.name) || file.name;
    const render = () => {
      renderChunks(data, inputUrl, name);
      renderResults(`Sounds like “${name}”`, [{results: data.results}], {keepChunks: true, sub: 'Tracks whose windows match the chunks of the dropped file.'});
    };
    cache.set(key, render);
    history.pushState(st, '', stateToSearch(st));
    routeSeq++;
    render();
  } catch (e) {
    showMessage(`Query by example failed: ${e.message}`);
  } finally {
    setBusy(false);
  }
}

// ---- Map: one SVG circle per track, coloured by a field. ----
let mapPoints = [];
let mapCentres = [], mapCentresUser = '';   // the For you user's taste centres placed on the map ({x, y, label})
const W = 600, H = 400, PAD = 18;
function colorFor(i, n) { return `hsl(${Math.round((i * 360) / Math.max(n, 1) + 15) % 360} 65% 50%)`; }
function fieldOf(p, field) {
  const v = field === 'labels' ? (p.labels || [])[0] : p[field];
  return v === undefined || v === null || v === '' ? '(none)' : String(v);
}
function drawMap() {
  const field = $('#map-color').value;
  const box = $('#map');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'group');
  svg.setAttribute('aria-label', `Map of ${mapPoints.length} tracks`);
  if (!mapPoints.length) { box.replaceChildren(h('p', {class: 'muted', text: 'No tracks to show.'})); $('#map-legend').replaceChildren(); return; }
  // The extent holds the taste centres too (a centre may lie beyond its songs).
  const xs = [...mapPoints, ...mapCentres].map((p) => p.x), ys = [...mapPoints, ...mapCentres].map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => PAD + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (W - 2 * PAD);
  const sy = (y) => H - PAD - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - 2 * PAD);
  const values = [...new Set(mapPoints.map((p) => fieldOf(p, field)))].sort();
  const colors = new Map(values.map((v, i) => [v, colorFor(i, values.length)]));
  for (const p of mapPoints) {
    const c = document.createElementNS(ns, 'circle');
    c.setAttribute('class', 'point');
    c.setAttribute('cx', sx(p.x).toFixed(1));
    c.setAttribute('cy', sy(p.y).toFixed(1));
    c.setAttribute('r', 7);
    c.setAttribute('fill', colors.get(fieldOf(p, field)));
    c.setAttribute('tabindex', '0');
    c.setAttribute('role', 'button');
    c.setAttribute('aria-label', shown(`${trackName(p)} (${field}: ${fieldOf(p, field)}); play`));
    c.dataset.trackId = p.track_id;
    const t = document.createElementNS(ns, 'title');
    t.textContent = shown(trackName(p));
    c.append(t);
    const show = () => showTip(c, p, field);
    c.addEventListener('mouseenter', show);
    c.addEventListener('focus', show);
    c.addEventListener('mouseleave', hideTip);
    c.addEventListener('blur', hideTip);
    const play = () => playAt(withToken(`/api/tracks/${p.track_id}/audio`), 0, null, trackName(p));
    c.addEventListener('click', play);
    c.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); play(); } });
    svg.append(c);
  }
  mapCentres.forEach((c, i) => {
    const g = document.createElementNS(ns, 'g');
    g.setAttribute('class', 'centre');
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    g.setAttribute('aria-label', shown(`Taste centre ${i + 1} of ${mapCentresUser}: ${c.label}; show it under For you`));
    g.dataset.centre = i;
    const [cx, cy] = [sx(c.x), sy(c.y)];
    const mark = document.createElementNS(ns, 'rect');
    mark.setAttribute('x', (cx - 7).toFixed(1));
    mark.setAttribute('y', (cy - 7).toFixed(1));
    mark.setAttribute('width', 14);
    mark.setAttribute('height', 14);
    mark.setAttribute('transform', `rotate(45 ${cx.toFixed(1)} ${cy.toFixed(1)})`);
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', (cx + (cx > W - 160 ? -12 : 12)).toFixed(1));
    label.setAttribute('y', (cy + 4).toFixed(1));
    label.setAttribute('text-anchor', cx > W - 160 ? 'end' : 'start');
    label.textContent = shown(`${i + 1}. ${c.label}`);
    const t = document.createElementNS(ns, 'title');
    t.textContent = shown(`Taste centre ${i + 1} of ${mapCentresUser}: ${c.label}`);
    g.append(mark, label, t);
    const show = () => showCentre(i);
    g.addEventListener('click', show);
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(); } });
    svg.append(g);
  });
  const note = $('#map-centres');
  note.textContent = mapCentres.length ? shown(`◆ ${mapCentresUser}'s taste centres (For you).`) : '';
  note.hidden = !mapCentres.length;
  box.replaceChildren(svg);
  $('#map-legend').replaceChildren(...values.map((v) => h('li', {},
    h('span', {class: 'swatch', style: `background:${colors.get(v)}`}), ` ${v} (${mapPoints.filter((p) => fieldOf(p, field) === v).length})`)));
  highlightMap();
}
function showTip(el, p, field) {
  const tip = $('#map-tooltip');
  tip.replaceChildren(h('strong', {text: p.title || p.display_path}), p.artist ? h('div', {text: p.artist}) : null,
    h('div', {class: 'muted small', text: `${field}: ${fieldOf(p, field)}`}));
  const r = el.getBoundingClientRect(), m = $('#map-section').getBoundingClientRect();
  tip.style.left = `${Math.min(r.left - m.left + 12, m.width - 180)}px`;
  tip.style.top = `${r.top - m.top + 14}px`;
  tip.hidden = false;
}
function hideTip() { $('#map-tooltip').hidden = true; }
function highlightMap() {
  for (const c of document.querySelectorAll('#map circle.point')) {
    const hit = currentHits.has(Number(c.dataset.trackId));
    c.classList.toggle('hit', hit);
    if (hit) c.parentNode.append(c);   // on top
  }
  for (const g of document.querySelectorAll('#map g.centre')) g.parentNode.append(g);   // the taste centres above all
}
let mapLoaded = false;
async function loadMap() {
  try {
    const data = await api('map');
    mapPoints = data.points || [];
    mapLoaded = true;
    const ev = data.explained_variance || [];
    if (ev.length === 2) $('#map-heading').textContent = `Map (explains ${Math.round(100 * (ev[0] + ev[1]))}% of the variance)`;
    drawMap();
  } catch (e) {
    $('#map').replaceChildren(h('p', {class: 'muted', text: 'The map is unavailable.'}));
    showMessage(`Map: ${e.message}`);
  }
}

// ---- For you: a user's taste centres (also marked on the map) and the mixes `clapsearch mix` saved
// for them, each song with its reason and a play button (GET /api/users, /api/taste, /api/mixes). ----
const FORYOU_USER_KEY = 'clapsearch-foryou-user';
// A sentence whose `commands` are shown as code.
const withCode = (text) => text.split('`').map((part, i) => (i % 2 ? h('code', {text: part}) : part));
const emptyNote = (text) => h('p', {class: 'empty muted'}, withCode(text));
const times = (n) => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);
function songRow(t, extra, play) {
  return h('li', {class: 'song', dataset: {trackId: t.track_id}},
    h('button', {type: 'button', class: 'play-song', text: '▶', 'aria-label': `Play ${trackName(t)}`, onclick: play}),
    h('div', {class: 'what'}, h('strong', {class: 'song-title', text: t.title || t.display_path}), t.artist ? ` — ${t.artist}` : '',
      extra ? h('span', {class: 'reason', text: extra}) : null));
}
const playOne = (t) => () => playAt(withToken(t.audio_url), 0, null, trackName(t));
function centreCard(c, i) {
  const names = (list) => list.slice(0, 3).map((x) => x.name).join(', ') || '–';
  return h('li', {class: 'centre-card', id: `centre-${i}`, tabindex: '-1', dataset: {label: c.label}},
    h('h4', {class: 'centre-label', text: `${i + 1}. ${c.label}`}),
    h('span', {class: 'muted small', text: ` ${Math.round(100 * c.weight)}% of the listening · ${c.size} song${c.size === 1 ? '' : 's'}`}),
    h('div', {class: 'muted small', text: `Artists: ${names(c.top_artists)} · Genres: ${names(c.top_genres)}`}),
    c.tracks.length ? h('ol', {class: 'songs', 'aria-label': `Songs nearest ${c.label}`}, c.tracks.map((t) =>
      songRow(t, t.plays ? `played ${times(t.plays)}` : 'not played yet', playOne(t)))) : null);
}
function mixCard(m, i) {
  const made = m.made_at ? new Date(m.made_at).toLocaleDateString() : '';
  return h('li', {class: 'mix', dataset: {playlistId: m.playlist_id}},
    h('details', {open: i === 0},
      h('summary', {}, h('h4', {class: 'mix-name', text: m.name}), h('span', {class: 'muted small', text: ` ${m.tracks.length} songs${made ? ' · ' + made : ''}`})),
      h('p', {class: 'about muted small', text: m.about + (m.missing ? ` (${m.missing} song${m.missing === 1 ? ' is' : 's are'} no longer in the library)` : '')}),
      m.tracks.length ? h('button', {type: 'button', class: 'play-mix', text: '▶ Play the mix', onclick: () => playList(m.tracks, 0, m.name)}) : null,
      h('ol', {class: 'songs'}, m.tracks.map((t, j) => songRow(t, t.reason, () => playList(m.tracks, j, m.name))))));
}
function showCentre(i) {
  const card = document.getElementById(`centre-${i}`);
  if (!card) return;
  for (const c of document.querySelectorAll('.centre-card.focused')) c.classList.remove('focused');
  card.classList.add('focused');
  card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  card.focus({preventScroll: true});
}
function setMapCentres(user, centres) {
  mapCentresUser = user;
  mapCentres = centres.filter((c) => c.map).map((c) => ({x: c.map.x, y: c.map.y, label: c.label}));
  if (mapLoaded) drawMap();
}
let forYouSeq = 0;
async function showForYou(user) {
  const seq = ++forYouSeq;
  const box = $('#foryou');
  box.replaceChildren(h('p', {class: 'muted', text: `Loading ${user}'s taste…`}));
  try {
    const [taste, mixes] = await Promise.all([api('taste', {user}), api('mixes', {user})]);
    if (seq !== forYouSeq) return;
    const kids = [];
    if (taste.label_note) kids.push(h('p', {class: 'muted small', text: `Labels: ${taste.label_note}`}));
    kids.push(h('h3', {text: 'Taste centres'}));
    if (!taste.centres.length) {
      kids.push(emptyNote(taste.plays
        ? `${taste.user}'s history does not make a taste yet: only skips or low ratings of this library's songs.`
        : `No plays yet${taste.unresolved ? ` of songs this library holds (${taste.unresolved} entries of ${taste.user}'s history name others)` : ''}: scrobble from a Subsonic app signed in as ${taste.user}, or import a history with \`clapsearch history import FILE --user ${taste.user}\` (ListenBrainz or Last.fm export).`));
    } else {
      kids.push(h('p', {class: 'muted small', text: `From ${taste.plays} play${taste.plays === 1 ? '' : 's'}; the songs nearest each centre.`}),
        h('ol', {class: 'centres'}, taste.centres.map(centreCard)));
    }
    kids.push(h('h3', {text: 'Mixes'}));
    if (!mixes.mixes.length) {
      kids.push(emptyNote(taste.centres.length
        ? `No mixes yet: \`clapsearch mix --user ${taste.user}\` makes them (the Debian package's clapsearch-mix.timer runs it nightly).`
        : 'No mixes yet: mixes are made from the taste centres, once there are plays.'));
    } else {
      kids.push(h('ol', {class: 'mixes'}, mixes.mixes.map(mixCard)));
    }
    box.replaceChildren(...kids);
    setMapCentres(taste.user, taste.centres);
  } catch (e) {
    if (seq !== forYouSeq) return;
    box.replaceChildren(h('p', {class: 'muted', text: `For you is unavailable (${e.message}).`}));
    setMapCentres('', []);
  }
}
async function loadForYou() {
  const box = $('#foryou');
  try {
    const data = await api('users');
    const users = data.users || [];
    if (!users.length) {
      box.replaceChildren(emptyNote('No users yet: a listening history belongs to a user. Add one with `clapsearch user add NAME`, then scrobble from a Subsonic app signed in as them, or `clapsearch history import FILE --user NAME`.'));
      return;
    }
    const saved = sessionStorage.getItem(FORYOU_USER_KEY);
    const user = data.default || (users.includes(saved) ? saved : users[0]);
    const select = $('#foryou-user');
    select.replaceChildren(...users.map((u) => h('option', {value: u, text: u})));
    select.value = user;
    $('#foryou-user-label').hidden = users.length < 2;
    await showForYou(user);
  } catch (e) {
    box.replaceChildren(h('p', {class: 'muted', text: `For you is unavailable (${e.message}).`}));
  }
}

// ---- Library: status, folders, errors, a filterable track list. ----
// The audio tower's precision and, when --precision auto chose it, what was measured.
function precisionText(s) {
  const c = s.precision_choice;
  if (!c) return s.precision;
  if (!c.measured) return `${c.chosen} (${c.reason})`;
  const rows = c.trials.map((t) => (t.measured
    ? `${t.precision}: worst window cosine ${t.window_cosine_min.toFixed(6)}, top-${c.k} agreement ${t.topk_agreement.toFixed(3)}, ${t.ms_per_window.toFixed(1)} ms a window${t.chosen ? ' (chosen)' : ''}`
    : `${t.precision}: ${t.reason}`));
  return `${c.chosen}, chosen on this machine from ${c.sample.windows} windows of ${c.sample.tracks} tracks. ${rows.join('; ')}`;
}

// How much of the library is embedded: the server's sentence (`clapsearch status`'s words, made
// once in service::coverage_text), so the page and the CLI never word it differently.
function coverageText(c) {
  return c.windows >= c.window_total ? c.text : `${c.text} (indexing continues)`;
}

async function loadLibrary() {
  try {
    const s = await api('status');
    const model = s.model && typeof s.model === 'object' ? (s.model.id || JSON.stringify(s.model)) : s.model;
    const rows = [['Database', s.db], ['Model', model], ['Windows', `${s.window_s} s long, every ${s.hop_s} s; ${s.dim}-d embeddings`],
      ...(s.precision ? [['Precision', precisionText(s)]] : []),
      ['Tracks', `${s.tracks} (${s.ok} ok, ${s.errors} ${s.errors === 1 ? 'error' : 'errors'}, ${s.silent_tracks} silent)`], ['Windows stored', s.windows],
      ...(s.coverage && s.ok > 0 ? [['Coverage', coverageText(s.coverage)]] : []),
      ['Audio', fmtHours(s.audio_seconds)], ['Folders indexed', (s.roots || []).join(', ') || '–'], ['Generation', s.generation]];
    $('#library-status').replaceChildren(h('dl', {class: 'facts'}, rows.map(([k, v]) => [h('dt', {text: k}), h('dd', {dataset: {field: k}, text: v ?? '–'})])));
    $('#summary').textContent = `${s.ok} tracks, ${fmtHours(s.audio_seconds)} of audio`;
    $('#library-folders tbody').replaceChildren(...(s.folders || []).map((f) => h('tr', {},
      h('td', {}, h('button', {type: 'button', class: 'link', text: f.folder, onclick: () => browse({folder: f.folder})})),
      h('td', {class: 'num', text: f.tracks}))));
    const errs = s.error_list || [];
    $('#library-errors').replaceChildren(errs.length
      ? h('table', {class: 'table errors'}, h('thead', {}, h('tr', {}, h('th', {text: 'File'}), h('th', {text: 'Reason'}))),
          h('tbody', {}, errs.map((e) => h('tr', {}, h('td', {class: 'path', text: e.path}), h('td', {text: e.reason})))))
      : h('p', {class: 'muted', text: 'No errors.'}));
  } catch (e) {
    $('#library-status').replaceChildren(h('p', {class: 'muted', text: 'Status unavailable.'}));
    showMessage(`Library: ${e.message}`);
  }
}
async function browse(filter = {}) {
  try {
    const data = await api('tracks', Object.assign({limit: 100}, filter));
    $('#browse-count').textContent = shown(`${data.total} track${data.total === 1 ? '' : 's'}${filter.folder ? ' in ' + filter.folder : ''}${data.total > data.tracks.length ? `, first ${data.tracks.length} shown` : ''}`);
    $('#browse-list').replaceChildren(...data.tracks.map((t) => h('li', {class: `track ${t.status === 'error' ? 'error' : ''}`, dataset: {trackId: t.track_id}},
      h('div', {}, h('strong', {text: t.title || t.display_path}), t.artist ? ` — ${t.artist}` : '',
        h('div', {class: 'muted small', text: `${t.display_path}${t.duration_s ? ' · ' + fmtTime(t.duration_s) : ''}${t.genre ? ' · ' + t.genre : ''}${t.status === 'error' ? ' · error: ' + t.error : ''}`})),
      t.status === 'error' ? null : h('div', {class: 'actions'},
        h('button', {type: 'button', text: '▶', 'aria-label': `Play ${trackName(t)}`, onclick: () => playAt(withToken(t.audio_url), 0, null, trackName(t))}),
        h('button', {type: 'button', class: 'more-like-this', text: 'More like this', onclick: () => { moreLike(t); $('#search-section').scrollIntoView(); }}),
        seedButton(t, true)))));
  } catch (e) {
    showMessage(`Tracks: ${e.message}`);
  }
}

// ---- Wiring. ----
$('#search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const qs = $('#q').value.split('|').map((s) => s.trim()).filter(Boolean);
  if (!qs.length) return;
  navigate({q: qs, k: $('#opt-k').value, aggregate: $('#opt-aggregate').value});
});
$('#like-file').addEventListener('change', (e) => { uploadLike(e.target.files[0]); e.target.value = ''; });
const dz = $('#drop-zone');
dz.addEventListener('dragover', (e) => { e.preventDefault(); dz.classList.add('dragging'); });
dz.addEventListener('dragleave', () => dz.classList.remove('dragging'));
dz.addEventListener('drop', (e) => { e.preventDefault(); dz.classList.remove('dragging'); uploadLike(e.dataTransfer.files[0]); });
$('#map-color').addEventListener('change', drawMap);
$('#foryou-user').addEventListener('change', (e) => { sessionStorage.setItem(FORYOU_USER_KEY, e.target.value); showForYou(e.target.value); });
$('#browse-form').addEventListener('submit', (e) => { e.preventDefault(); browse({text: $('#browse-text').value.trim()}); });
for (const b of document.querySelectorAll('[data-goto]')) b.addEventListener('click', () => {
  const target = document.getElementById(b.dataset.goto);
  target.scrollIntoView({behavior: 'smooth'});
  (target.querySelector('input, select, button') || target).focus({preventScroll: true});
});
$('#home-link').addEventListener('click', (e) => { e.preventDefault(); navigate({}); $('#q').value = ''; });

loadLibrary();
loadMap();
loadForYou();
browse();
route(searchToState(location.search));
