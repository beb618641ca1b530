// The aud dashboard: plain browser JavaScript, no build step. It reads the
// query API of the engine that serves it (runtime/dashboard-routes.ts):
// /audiences, /sizes, /partitions, /ready, /customers/ID(/why), and the live
// tail /events. Every request carries the token once one was asked for.
'use strict';

const REFRESH_MS = 5_000;
const SIZES_REFRESH_MS = 10_000;
const TAIL_SHOWN = 200;
const CHARTED_AUDIENCES = 12;
const TOKEN_KEY = 'aud.token';

// ---- DOM: built with textContent only, never HTML from data (customer ids and events are anyone's text) ----

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

const $ = (id) => document.getElementById(id);

function formatValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en') : v.toLocaleString('en', { maximumFractionDigits: 4 });
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('en-GB', { hour12: false });
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

// ---- Access: a token asked for on the first 401, kept for this tab (sessionStorage) ----

let tokenPrompt = null;

function askForToken(refused) {
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      const dialog = $('token-dialog');
      $('token-error').hidden = !refused;
      $('token').value = '';
      dialog.addEventListener('close', () => {
        const token = $('token').value.trim();
        if (token) sessionStorage.setItem(TOKEN_KEY, token);
        tokenPrompt = null;
        resolve();
      }, { once: true });
      dialog.showModal();
    });
  }
  return tokenPrompt;
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GET a route of the query API; asks for the token on a 401 and tries again. Resolves with { status, body }. */
async function api(path, opts = {}) {
  for (;;) {
    const res = await fetch(path, { headers: authHeaders(), signal: opts.signal });
    if (res.status === 401) {
      await askForToken(sessionStorage.getItem(TOKEN_KEY) !== null);
      continue;
    }
    const body = await res.json().catch(() => null);
    return { status: res.status, body };
  }
}

// ---- Views: one per hash (#overview, #tail, #partitions, #customer/ID) ----

function showView() {
  const [view, ...rest] = location.hash.slice(1).split('/');
  const name = ['overview', 'tail', 'partitions', 'customer'].includes(view) ? view : 'overview';
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${name}`;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === name);
  if (name === 'customer' && rest.length > 0) {
    const id = decodeURIComponent(rest.join('/'));
    if ($('customer-id').value !== id || !$('customer').hasChildNodes()) {
      $('customer-id').value = id;
      showCustomer(id);
    }
  }
  if (name === 'overview') resizeCharts();
}

// ---- Overview: audiences, sizes over time, rates ----

const state = {
  /** Points by minute (epoch ms), the live one included. */
  points: new Map(),
  lastClosed: -Infinity,
  audiences: [],
  /** The last answer of /audiences. */
  sizes: null,
};

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488'];

const charts = { sizes: null, rates: null, names: '' };

/**
 * At least the last half hour, up to now: a fresh engine has a point or two,
 * which uPlot would otherwise spread over years.
 */
function timeRange(u) {
  const xs = u.data[0];
  const now = Date.now() / 1000;
  const from = xs.length > 0 ? Math.min(xs[0], now - 1800) : now - 1800;
  const to = xs.length > 0 ? Math.max(xs[xs.length - 1], now) : now;
  return [from, to + 60];
}

function chartWidth(container) {
  return Math.max(260, container.clientWidth || 600);
}

function makeSizesChart(names) {
  const container = $('sizes-chart');
  container.replaceChildren();
  const series = [{}, ...names.map((name, i) => ({ label: name, stroke: PALETTE[i % PALETTE.length], width: 2 }))];
  return new uPlot({
    width: chartWidth(container), height: 260, series,
    scales: { x: { time: true, range: timeRange } },
    axes: [{}, { size: 60 }],
    legend: { live: true },
  }, [[], ...names.map(() => [])], container);
}

function makeRatesChart() {
  const container = $('rates-chart');
  container.replaceChildren();
  return new uPlot({
    width: chartWidth(container), height: 200,
    series: [{}, { label: 'enters', stroke: '#16a34a', fill: 'rgba(22,163,74,0.12)', width: 2 }, { label: 'leaves', stroke: '#dc2626', fill: 'rgba(220,38,38,0.12)', width: 2 }],
    scales: { x: { time: true, range: timeRange } },
    axes: [{}, { size: 60 }],
  }, [[], [], []], container);
}

function resizeCharts() {
  for (const [key, id] of [['sizes', 'sizes-chart'], ['rates', 'rates-chart']]) {
    const chart = charts[key];
    const container = $(id);
    if (chart && container.clientWidth > 0 && chart.width !== chartWidth(container)) chart.setSize({ width: chartWidth(container), height: chart.height });
  }
}

/**
 * The audiences the sizes chart draws: the largest CHARTED_AUDIENCES, in the
 * rules' order (so that colours stay put); a thousand lines would say nothing.
 */
function chartedAudiences() {
  const sizes = state.sizes ? state.sizes.sizes : {};
  const largest = new Set([...state.audiences].sort((a, b) => (sizes[b] ?? 0) - (sizes[a] ?? 0)).slice(0, CHARTED_AUDIENCES));
  const names = state.audiences.filter((name) => largest.has(name));
  $('charted').textContent = names.length < state.audiences.length ? `(the ${names.length} largest of ${state.audiences.length})` : '';
  return names;
}

function drawCharts() {
  const names = chartedAudiences();
  if (charts.names !== names.join('\n') || !charts.sizes) {
    charts.sizes?.destroy();
    charts.sizes = makeSizesChart(names);
    charts.names = names.join('\n');
  }
  charts.rates ??= makeRatesChart();
  const points = [...state.points.values()].sort((a, b) => a.t - b.t);
  const xs = points.map((p) => p.t / 1000);
  charts.sizes.setData([xs, ...names.map((name) => points.map((p) => p.sizes[name] ?? null))]);
  const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
  charts.rates.setData([xs, points.map((p) => sum(p.enters)), points.map((p) => sum(p.leaves))]);
  renderAudiences();
  window.audDashboard.sizesChart = charts.sizes;
  window.audDashboard.ratesChart = charts.rates;
}

async function refreshSizes() {
  const since = Number.isFinite(state.lastClosed) ? `?since=${state.lastClosed}` : '';
  const { status, body } = await api(`/sizes${since}`);
  if (status !== 200 || !body) return;
  const points = body.points;
  for (const p of points) state.points.set(p.t, p);
  // All but the last are closed minutes: the next request starts at the last of them.
  if (points.length > 1) state.lastClosed = points[points.length - 2].t;
  const oldest = Date.now() - 24 * 3600_000 - 60_000;
  for (const t of state.points.keys()) if (t < oldest) state.points.delete(t);
  drawCharts();
}

/**
 * Enters and leaves of the last whole minute, per audience; while the engine
 * has run less than a minute, those of the minute so far.
 */
function lastMinuteRates() {
  const points = [...state.points.values()].sort((a, b) => a.t - b.t);
  const last = points.length > 1 ? points[points.length - 2] : points[0];
  return last ? { enters: last.enters, leaves: last.leaves } : { enters: {}, leaves: {} };
}

async function refreshAudiences() {
  const { status, body } = await api('/audiences');
  if (status !== 200 || !body) return;
  state.sizes = body;
  const names = Object.keys(body.sizes);
  if (names.join('\n') !== state.audiences.join('\n')) {
    state.audiences = names;
    drawCharts();
  }
  renderAudiences();
}

function renderAudiences() {
  const body = state.sizes;
  if (!body) return;
  const names = state.audiences;
  const warming = new Set(body.warming || []);
  const rates = lastMinuteRates();
  $('audiences').tBodies[0].replaceChildren(...names.map((name) => el('tr', {},
    el('td', {}, name, warming.has(name) ? el('span', { class: 'pill warming', title: 'a rule change is building this audience: its size is the old rules\' until every partition has deployed', text: 'warming' }) : null),
    el('td', { class: 'num', text: formatValue(body.sizes[name]) }),
    el('td', { class: 'num enter', text: formatValue(rates.enters[name] ?? 0) }),
    el('td', { class: 'num leave', text: formatValue(rates.leaves[name] ?? 0) }),
  )));
  $('covers').textContent = `Partitions ${body.partitions.join(', ') || 'none'} of ${body.partitionCount} (this process's; a group's other members count the rest).`;
  const banner = $('deployment');
  if (body.deployment) {
    const d = body.deployment;
    banner.hidden = false;
    banner.replaceChildren(
      el('strong', { text: 'Rule change in progress' }),
      ` since ${formatTime(d.since)}: rules ${d.rules}, partitions left ${d.partitionsLeft.join(', ') || 'none'}, ${formatValue(d.historyEvents)} history events read. Warming: ${[...warming].join(', ') || 'none'}.`,
    );
  } else {
    banner.hidden = true;
  }
}

async function refreshReady() {
  const res = await fetch('/ready').catch(() => null);
  const status = $('status');
  if (!res) { status.textContent = 'unreachable'; status.className = 'status bad'; return; }
  const body = await res.json().catch(() => ({}));
  status.textContent = res.ok ? 'ready' : (body.reason || body.error || `HTTP ${res.status}`);
  status.className = `status ${res.ok ? 'good' : 'warn'}`;
}

// ---- Partitions ----

async function refreshPartitions() {
  const { status, body } = await api('/partitions');
  if (status !== 200 || !body) return;
  $('partitions').tBodies[0].replaceChildren(...body.partitions.map((p) => el('tr', {},
    el('td', { class: 'num', text: p.partition }),
    el('td', { class: p.caughtUp ? 'good' : 'warn', text: p.caughtUp ? 'yes' : 'reading backlog' }),
    el('td', { class: 'num', text: formatValue(p.lag) }),
    el('td', { class: 'num', text: p.committedOffset ?? '—' }),
    el('td', { class: 'num', text: p.highWatermark ?? '—' }),
    el('td', { text: formatTime(p.clock) }),
    el('td', { class: 'num', text: formatValue(p.pendingTimers) }),
    el('td', { class: 'num', text: formatValue(p.pendingCustomers) }),
    el('td', { class: 'num', text: formatBytes(p.stateBytes) }),
    el('td', { class: 'mono', text: p.deploying ? `${p.rules} (deploying)` : p.rules }),
  )));
}

// ---- Live tail: server-sent events read with fetch, so the token goes in a header ----

const tail = { events: [], dropped: 0 };

/** What a tail row names: the audience of an enter/leave, `decision → offer` of a decision event. */
function tailSubject(e) {
  return e.type === 'decision' ? `${e.decision} → ${e.offer ?? 'no offer'}` : e.audience;
}

function tailRow(e) {
  return el('li', { class: `event ${e.type}`, 'data-audience': e.audience ?? e.decision, 'data-customer': e.customer },
    el('time', { datetime: e.at, text: formatTime(e.at) }),
    el('span', { class: `pill ${e.type}`, text: e.type }),
    el('span', { class: 'audience', text: tailSubject(e) }),
    el('a', { class: 'customer', href: `#customer/${encodeURIComponent(e.customer)}`, text: e.customer }),
    el('span', { class: 'reason', text: e.reason }),
  );
}

function matchesFilter(e) {
  const f = $('tail-filter').value.trim().toLowerCase();
  return f === '' || tailSubject(e).toLowerCase().includes(f) || e.customer.toLowerCase().includes(f);
}

function renderTail() {
  const shown = tail.events.filter(matchesFilter);
  $('tail').replaceChildren(...shown.map(tailRow));
}

function onTailEvent(e) {
  e.receivedAt = Date.now();
  tail.events.unshift(e);
  if (tail.events.length > TAIL_SHOWN) tail.events.length = TAIL_SHOWN;
  if (!matchesFilter(e)) return;
  const list = $('tail');
  list.prepend(tailRow(e));
  while (list.children.length > TAIL_SHOWN) list.lastChild.remove();
}

function setTailState(text, cls) {
  const pill = $('tail-state');
  pill.textContent = text;
  pill.className = `pill ${cls}`;
}

/** One server-sent message: `data:` lines, and an `event:` name for the dropped notice. */
function onTailMessage(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  const payload = JSON.parse(data.join('\n'));
  if (event === 'dropped') {
    tail.dropped += payload.dropped;
    setTailState(`live · ${tail.dropped} dropped`, 'warn');
  } else {
    onTailEvent(payload);
  }
}

async function followTail() {
  for (;;) {
    try {
      setTailState('connecting', 'warn');
      const res = await fetch('/events', { headers: { ...authHeaders(), accept: 'text/event-stream' } });
      if (res.status === 401) {
        await askForToken(sessionStorage.getItem(TOKEN_KEY) !== null);
        continue;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setTailState(tail.dropped > 0 ? `live · ${tail.dropped} dropped` : 'live', 'good');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          onTailMessage(block);
        }
      }
      setTailState('reconnecting', 'warn');
    } catch {
      setTailState('disconnected: retrying', 'bad');
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

// ---- Customer: profile, memberships, traits, scores, and why ----

function table(headers, rows) {
  return el('div', { class: 'scroll' }, el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h, i) => el('th', { class: i > 0 && h.num ? 'num' : null, text: h.text ?? h })))),
    el('tbody', {}, rows),
  ));
}

/** A customer's last enter/leave transitions, newest first, with the input record that caused each. */
function transitionsView(transitions) {
  const rows = (transitions || []).map((t) => el('tr', {},
    el('td', { text: formatTime(t.at) }), el('td', {}, el('span', { class: `pill ${t.type}`, text: t.type })), el('td', { text: t.audience }),
    el('td', { class: 'num', text: t.version }), el('td', { text: t.reason }),
    el('td', { class: 'mono', text: t.cause ? `${t.cause.topic ?? ''}/${t.cause.partition ?? ''}@${t.cause.offset ?? ''}` : '' }),
  ));
  return el('div', { class: 'transitions' },
    el('h4', { text: 'Recent transitions' }),
    rows.length > 0 ? table(['at', 'type', 'audience', { text: 'version', num: true }, 'reason', 'cause'], rows) : el('p', { class: 'note', text: 'None kept.' }),
  );
}

/** An expression tree as nested lists; the parts that decided the outcome marked. */
function whyTree(node) {
  return el('li', { class: node.decisive ? 'decisive' : null },
    el('code', { text: node.text }),
    el('span', { class: 'value', text: ` = ${formatValue(node.value)}` }),
    node.nextChangeAt ? el('span', { class: 'next', text: ` · changes at ${formatTime(node.nextChangeAt)}` }) : null,
    node.children && node.children.length > 0 ? el('ul', {}, node.children.map(whyTree)) : null,
  );
}

/** `1 per 1 week: 1 sent, full until …` */
function capText(c) {
  return `${c.cap}: ${c.sent} sent${c.full ? `, full until ${formatTime(c.freesAt)}` : ''}`;
}

/** A decision: its value and verdict, the window and caps, and each offer with its eligibility and score trees. */
function decisionView(d) {
  const rows = d.offers.map((o) => el('tr', { class: `offer ${o.outcome.replace(' ', '-')}` },
    el('td', { class: 'num', text: o.rank ?? '–' }), el('td', { text: o.name }), el('td', { text: o.outcome }),
    el('td', { text: o.eligible === true ? 'yes' : o.eligible === false ? 'no' : 'unknown' }),
    el('td', { class: 'num', text: o.score === null ? '–' : formatValue(o.score) }),
    el('td', { text: o.caps.map(capText).join('; ') }),
  ));
  const trees = d.offers.map((o) => el('details', { class: 'why-offer' },
    el('summary', {}, el('strong', { text: o.name }), ` · ${o.outcome}`),
    o.eligibility ? [el('p', { class: 'note', text: 'eligible' }), el('ul', { class: 'tree' }, whyTree(o.eligibility))] : null,
    el('p', { class: 'note', text: 'score' }), el('ul', { class: 'tree' }, whyTree(o.scoreExpression)),
  ));
  const w = d.window;
  return el('details', { class: 'why-decision', open: true },
    el('summary', {},
      el('strong', { text: d.name }), ' ',
      el('span', { class: 'pill decision', text: d.value ?? 'no offer' }),
      el('span', { class: 'next', text: ` · ${d.verdict}` }),
    ),
    el('p', { class: 'note', text: `Last sent: ${d.version === 0 ? 'nothing yet' : `${d.lastSent ?? 'no offer'} (v${d.version})`}`
      + (w ? ` · window ${w.between} in ${w.zone}: ${w.open ? 'open' : `closed, opens ${formatTime(w.opensAt)}`}` : '')
      + (d.caps.length > 0 ? ` · cap ${d.caps.map(capText).join('; ')}` : '') }),
    table([{ text: 'rank', num: true }, 'offer', 'outcome', 'eligible', { text: 'score', num: true }, 'caps'], rows),
    trees,
  );
}

function whyView(why) {
  const few = (why.audiences || []).length <= 10; // a long rule set opens its members only
  const audiences = (why.audiences || []).map((a) => el('details', { class: `why-audience ${a.member ? 'member' : 'not-member'}`, open: a.member || few },
    el('summary', {},
      el('strong', { text: a.name }), ' ',
      el('span', { class: `pill ${a.member ? 'enter' : 'leave'}`, text: a.member ? 'member' : 'not a member' }),
      a.nextChangeAt ? el('span', { class: 'next', text: ` · next change ${formatTime(a.nextChangeAt)}` }) : null,
    ),
    el('ul', { class: 'tree' }, whyTree(a.expression)),
  ));
  const traits = (why.traits || []).map((t) => el('details', { class: 'why-trait' },
    el('summary', {}, el('strong', { text: t.name }), ` (${t.kind}) = ${formatValue(t.value)}`,
      t.nextChangeAt ? el('span', { class: 'next', text: ` · changes at ${formatTime(t.nextChangeAt)}` }) : null),
    el('ul', { class: 'tree' }, whyTree(t.expression)),
  ));
  const decisions = (why.decisions || []).map(decisionView);
  return el('div', { id: 'why', class: 'why' },
    el('h3', { text: 'Why' }),
    el('p', { class: 'note', text: `As of ${formatTime(why.asOf)}. Highlighted: the parts that decided each outcome.` }),
    audiences,
    decisions.length > 0 ? [el('h4', { text: 'Decisions' }), decisions] : null,
    traits.length > 0 ? [el('h4', { text: 'Traits' }), traits] : null,
    transitionsView(why.transitions),
    why.approximate && why.approximate.length > 0 ? el('p', { class: 'note', text: `Approximate: ${why.approximate.join(', ')}` }) : null,
  );
}

async function showCustomer(id) {
  const out = $('customer');
  out.replaceChildren(el('p', { class: 'note', text: `Looking up ${id}…` }));
  const path = `/customers/${encodeURIComponent(id)}`;
  const [profile, why] = await Promise.all([api(path), api(`${path}/why`)]);
  if (profile.status !== 200) {
    out.replaceChildren(el('p', { class: 'error', text: profile.body?.error ?? `HTTP ${profile.status}` }));
    return;
  }
  const c = profile.body;
  const memberships = Object.entries(c.audiences || {});
  const parts = [
    el('div', { id: 'profile', class: 'profile' },
      el('h3', { text: c.customer }),
      el('p', { class: 'note', text: `partition ${c.partition} · as of ${formatTime(c.asOf)} · ${formatValue(c.eventsApplied)} events applied` +
        (c.answeredBy ? ` · answered by ${c.answeredBy}` : '') }),
      el('h4', { text: 'Memberships' }),
      el('ul', { class: 'memberships' }, memberships.map(([name, m]) => el('li', { class: m.member ? 'member' : 'not-member' },
        el('span', { class: `pill ${m.member ? 'enter' : 'leave'}`, text: m.member ? 'in' : 'out' }), ` ${name}`,
        m.version > 0 ? el('span', { class: 'note', text: ` (version ${m.version})` }) : null))),
      el('h4', { text: 'Traits' }),
      table(['trait', 'value'], Object.entries(c.traits || {}).map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { class: 'mono', text: formatValue(v) })))),
      el('h4', { text: 'Scores' }),
      table(['score', 'value'], Object.entries(c.scores || {}).map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { class: 'mono', text: formatValue(v) })))),
      c.approximate && c.approximate.length > 0 ? el('p', { class: 'note', text: `Approximate (holding their most values): ${c.approximate.join(', ')}` }) : null,
    ),
  ];
  const hasWhy = why.status === 200 && why.body;
  // The why view lists the transitions with the rest; without it, the profile's own.
  if (!hasWhy && c.transitions) parts[0].append(transitionsView(c.transitions));
  if (hasWhy) parts.push(whyView(why.body));
  else if (why.status !== 404 || !/no route/.test(why.body?.error ?? '')) parts.push(el('p', { class: 'note', text: `Why: ${why.body?.error ?? `HTTP ${why.status}`}` }));
  out.replaceChildren(...parts);
}

// ---- Start ----

window.audDashboard = { sizesChart: null, ratesChart: null, tail };

function every(ms, work) {
  const run = () => work().catch((err) => console.warn(`dashboard refresh failed: ${err.message}`));
  run();
  setInterval(run, ms);
}

$('customer-search').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('customer-id').value.trim();
  if (!id) return;
  const hash = `#customer/${encodeURIComponent(id)}`;
  if (location.hash === hash) showCustomer(id); else location.hash = hash;
});
$('tail-filter').addEventListener('input', renderTail);
window.addEventListener('hashchange', showView);
window.addEventListener('resize', resizeCharts);

showView();
every(REFRESH_MS, refreshReady);
every(REFRESH_MS, refreshAudiences);
every(SIZES_REFRESH_MS, refreshSizes);
every(REFRESH_MS, refreshPartitions);
followTail();
