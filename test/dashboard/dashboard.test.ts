/**
 * The dashboard in a real browser: Debian's chromium, driven by
 * playwright-core, against `aud run --http 0` on the real broker. The page
 * loads with no console error; the sizes chart draws from live data; an
 * enter/leave event produced after the page loaded reaches the live tail
 * within a second of the engine emitting it; the customer search shows the
 * profile and the why view; a rule change in
 * progress is shown; with a token configured, the page asks for it and then
 * works; on a phone-wide screen nothing runs off the side.
 *
 * AUD_SCREENSHOTS=1 saves each view to docs/screenshots/ (the README shows them).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { createTopic, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';
import { produceEvents, retailRules } from '../support/group-run.js';

const CHROMIUM = '/usr/bin/chromium';
const PARTITIONS = 2;
const screenshots = process.env.AUD_SCREENSHOTS === '1' ? join(repo, 'docs/screenshots') : undefined;

/** Can a TCP connection reach the broker? */
function reachable(hostPort: string): Promise<boolean> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 2000 }, () => { socket.end(); resolve(true); });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => { socket.destroy(); resolve(false); });
  });
}

const broker = testBrokers().split(',')[0]!;
const skip = !existsSync(CHROMIUM) ? `no browser at ${CHROMIUM} (apt-get install chromium; scripts/setup.sh does)`
  : !(await reachable(broker)) ? `no Kafka broker at ${broker} (npm test starts one)` : false;

/** An engine on its own topic, with the query API on a free port. */
async function startEngine(work: string, name: string, env: NodeJS.ProcessEnv = process.env): Promise<{ engine: EngineProcess; base: string; input: string; output: string }> {
  const input = uniqueTopic(`dash-${name}`);
  const output = `${input}.out`;
  await createTopic(input, PARTITIONS);
  // A decision without a send window, so that its events come at any hour.
  const offers = join(work, `${name}-offers.aud`);
  await writeFile(offers, [
    'offer welcome "A first-order welcome" { eligible count(purchase) == 0 and count(page_view) >= 1  score 1 }',
    'offer thanks { eligible count(purchase) >= 1  score 2  cap 1 per 1 day }',
    'decision home_offer { offers thanks, welcome }',
  ].join('\n'));
  const engine = new EngineProcess([retailRules, offers, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(work, name), '--group', `g-${input}`, '--http', '0'], env);
  await engine.waitForLog(/query API listening/);
  const port = /url=http:\/\/[^:]+:(\d+)/.exec(engine.logs.find((l) => /query API listening/.test(l))!)![1];
  await engine.waitForLog(/partition assigned/, PARTITIONS);
  return { engine, base: `http://127.0.0.1:${port}`, input, output };
}

/** Console errors and uncaught exceptions of a page, as they happen. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return errors;
}

/**
 * Waits use locators and functions, never a string predicate: Playwright
 * polls those with eval, which the page's Content-Security-Policy refuses.
 */
async function untilChartHasData(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    // In the page: no DOM types in this project's TypeScript.
    const chart = (globalThis as unknown as { audDashboard?: { sizesChart: { data: (number | null)[][] } | null } }).audDashboard?.sizesChart;
    return chart !== null && chart !== undefined && chart.data[0]!.length > 0 && chart.data.slice(1).some((s) => s.some((v) => v !== null && v > 0));
  }, undefined, { timeout: 20_000 });
}

async function untilTailLive(page: Page): Promise<void> {
  await page.locator('#tail-state', { hasText: /^live/ }).waitFor({ state: 'attached', timeout: 10_000 });
}

async function shot(page: Page, name: string): Promise<void> {
  if (!screenshots) return;
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

const now = Date.now();
const iso = (msAgo: number): string => new Date(now - msAgo).toISOString();

/** A gold, opted-in customer with three big purchases: a VIP and gold_opted_in, with a trait history to explain. */
function goldVip(customer: string): Record<string, unknown>[] {
  return [
    { customer_id: customer, type: 'profile_update', ts: iso(5 * 86_400_000), tier: 'gold', email_opt_in: true, country: 'NL' },
    { customer_id: customer, type: 'purchase', ts: iso(4 * 86_400_000), amount: 6000, category: 'shoes', sku: 's1', channel: 'web' },
    { customer_id: customer, type: 'purchase', ts: iso(3 * 86_400_000), amount: 5000, category: 'bags', sku: 's2', channel: 'web' },
    { customer_id: customer, type: 'purchase', ts: iso(2 * 86_400_000), amount: 10, category: 'socks', sku: 's3', channel: 'store' },
  ];
}

interface WhyNode { text: string; decisive: boolean; children: WhyNode[] }

/** The texts of a tree's decisive nodes, in the order the page lists them (depth first). */
function decisiveTexts(node: WhyNode): string[] {
  return [...(node.decisive ? [node.text] : []), ...node.children.flatMap(decisiveTexts)];
}

let work = '';
let browser: Browser | undefined;
let main: Awaited<ReturnType<typeof startEngine>> | undefined;

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'aud-dashboard-'));
  main = await startEngine(work, 'open');
  // A crowd with ten days of history, read as a backlog: every audience has members before the page opens.
  const crowd = [...generateRetailEvents({ customers: 300, days: 10, seed: 5, start: new Date(now - 10 * 86_400_000) })]
    .filter((e) => Date.parse(String(e.ts)) < now);
  await produceEvents(main.input, PARTITIONS, [...crowd, ...goldVip('dash-vip')]);
  await readTopic(main.output, { expected: 1, timeoutMs: 60_000, settleMs: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await main?.engine.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('the overview loads with no console error, and the sizes chart draws from live data', { skip }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${main!.base}/`);
  await untilChartHasData(page);
  const audiences = await page.locator('#audiences tbody tr').count();
  assert.ok(audiences >= 8, `the retail rules' audiences are listed (${audiences})`);
  // The first audience's stroke colour on the canvas: the series drew, not only the axes.
  const seriesPixels = await page.evaluate(`(() => {
    const canvas = document.querySelector('#sizes-chart canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let coloured = 0;
    const chart = window.audDashboard.sizesChart;
    const strokes = chart.series.slice(1).map((s) => s._stroke || s.stroke).filter((s) => typeof s === 'string');
    const rgb = strokes.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && rgb.some(([r, g, b]) => Math.abs(data[i] - r) < 16 && Math.abs(data[i + 1] - g) < 16 && Math.abs(data[i + 2] - b) < 16)) coloured++;
    }
    return coloured;
  })()`) as number;
  assert.ok(seriesPixels > 0, 'the sizes chart\'s canvas shows its series');
  await page.locator('#partitions tbody tr').nth(PARTITIONS - 1).waitFor({ state: 'attached', timeout: 10_000 });
  await shot(page, 'overview');
  await page.goto(`${main!.base}/#partitions`);
  await page.locator('#partitions tbody tr').nth(PARTITIONS - 1).waitFor({ state: 'attached', timeout: 10_000 });
  await shot(page, 'partitions');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an enter event produced after the page loaded is in the live tail within a second of the engine emitting it', { skip }, async (t) => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${main!.base}/#tail`);
  await untilTailLive(page);
  const customer = `dash-live-${Date.now()}`;
  await produceEvents(main!.input, PARTITIONS, [
    { customer_id: customer, type: 'profile_update', ts: new Date().toISOString(), tier: 'gold', email_opt_in: true, country: 'DE' },
  ]);
  const row = page.locator(`#tail li[data-customer="${customer}"][data-audience="gold_opted_in"]`);
  await row.waitFor({ timeout: 10_000 });
  const shownAt = await page.evaluate(`window.audDashboard.tail.events.find((e) => e.customer === ${JSON.stringify(customer)}).receivedAt`) as number;
  // When the engine emitted it: the output record's timestamp (the producer's CreateTime).
  const emitted = (await readTopic(main!.output, { expected: Infinity, timeoutMs: 3000, settleMs: 0 }))
    .find((r) => r.key === customer && JSON.parse(String(r.value)).audience === 'gold_opted_in');
  assert.ok(emitted, 'the enter event is on the output topic');
  const delay = shownAt - emitted.timestamp;
  t.diagnostic(`shown in the tail ${delay} ms after the engine emitted it`);
  assert.ok(delay < 1000, `shown ${delay} ms after the engine emitted it`);
  assert.equal(await row.locator('.pill').textContent(), 'enter');
  if (screenshots) {
    // A few more live customers, so that the picture shows a tail.
    const live = [...generateRetailEvents({ customers: 40, days: 2, seed: 11, start: new Date(Date.now() - 2 * 86_400_000) })]
      .map((e) => ({ ...e, customer_id: `live-${String(e.customer_id)}`, ts: new Date().toISOString() })).slice(0, 300);
    await produceEvents(main!.input, PARTITIONS, live);
    await page.locator('#tail li').nth(9).waitFor({ state: 'attached', timeout: 10_000 });
  }
  await shot(page, 'tail');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a decision event reaches the live tail as `decision → offer`', { skip }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${main!.base}/#tail`);
  await untilTailLive(page);
  const customer = `dash-buyer-${Date.now()}`;
  await produceEvents(main!.input, PARTITIONS, [
    { customer_id: customer, type: 'purchase', ts: new Date().toISOString(), amount: 20, category: 'socks', sku: 'k', channel: 'web' },
  ]);
  const row = page.locator(`#tail li[data-customer="${customer}"][data-audience="home_offer"]`);
  await row.waitFor({ timeout: 10_000 });
  assert.equal(await row.locator('.pill').textContent(), 'decision');
  assert.equal(await row.locator('.audience').textContent(), 'home_offer → thanks');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the customer search shows the profile and the why view', { skip }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  const whyResponse = await fetch(`${main!.base}/customers/dash-vip/why`);
  assert.equal(whyResponse.status, 200);
  const why = (await whyResponse.json()) as {
    audiences: { name: string; member: boolean; expression: WhyNode }[]; traits: { expression: WhyNode }[];
    decisions: { name: string; value: string | null; offers: { eligibility: WhyNode | null; scoreExpression: WhyNode }[] }[];
  };
  await page.goto(`${main!.base}/#customer`);
  await page.fill('#customer-id', 'dash-vip');
  await page.click('#customer-search button');
  await page.locator('#profile').waitFor({ timeout: 10_000 });
  const profile = await page.locator('#profile').textContent();
  assert.match(profile!, /dash-vip/);
  assert.match(profile!, /lifetime_value/);
  assert.match(profile!, /11,010/);
  assert.match(profile!, /gold/);
  const member = await page.locator('#profile .memberships li.member').allTextContents();
  assert.ok(member.some((m) => /vip/.test(m)) && member.some((m) => /gold_opted_in/.test(m)), `memberships: ${member.join(' | ')}`);
  const transitions = await page.locator('.transitions').first().textContent();
  assert.match(transitions!, /enter\s*vip/, 'the customer\'s recent transitions are listed');
  // The why view: every audience, its tree, and exactly the parts the engine says decided it highlighted.
  await page.locator('#why').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#why details.why-audience').count(), why.audiences.length);
  assert.deepEqual(await page.locator('#why details.why-audience summary strong').allTextContents(), why.audiences.map((a) => a.name));
  const offerTrees = why.decisions.flatMap((d) => d.offers.flatMap((o) => [...(o.eligibility ? [o.eligibility] : []), o.scoreExpression]));
  assert.deepEqual(await page.locator('#why li.decisive > code').allTextContents(),
    [...why.audiences.map((a) => a.expression), ...offerTrees, ...why.traits.map((t) => t.expression)].flatMap(decisiveTexts),
    'the decisive nodes, and only those, are highlighted');
  // The decision: the offer the engine holds for the customer, and why.
  assert.equal(why.decisions[0]!.value, 'thanks');
  assert.equal(await page.locator('#why details.why-decision').count(), 1);
  assert.equal(await page.locator('#why details.why-decision .pill.decision').textContent(), 'thanks');
  assert.deepEqual(await page.locator('#why details.why-decision tbody td:nth-child(2)').allTextContents(), ['thanks', 'welcome']);
  assert.match((await page.locator('#why details.why-audience.member').filter({ hasText: 'vip' }).first().textContent())!, /sum\(purchase\.amount\) over 365 days = 11,?010/);
  assert.match((await page.locator('#why').textContent())!, /changes at/);
  await shot(page, 'customer');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a rule change in progress: its banner, and the audiences it warms marked (an answer of /audiences as during a deployment)', { skip }, async () => {
  // A real rollout over a small topic is done in milliseconds, too fast to look at: the answer is canned, the page real.
  const page = await browser!.newPage();
  const errors = watchErrors(page);
  const live = await (await fetch(`${main!.base}/audiences`)).json() as Record<string, unknown>;
  const during = { ...live, warming: ['vip', 'churn_risk'], deployment: { rules: 'f00dfeed', since: new Date().toISOString(), partitionsLeft: [1], historyEvents: 4321 } };
  await page.route('**/audiences', (route) => route.fulfill({ json: during }));
  await page.goto(`${main!.base}/`);
  await page.locator('#deployment:not([hidden])').waitFor({ timeout: 10_000 });
  const banner = await page.locator('#deployment').textContent();
  assert.match(banner!, /Rule change in progress/);
  assert.match(banner!, /f00dfeed/);
  assert.match(banner!, /partitions left 1/);
  assert.match(banner!, /4,321 history events/);
  const warming = await page.locator('#audiences tbody tr', { has: page.locator('.warming') }).locator('td:first-child').allTextContents();
  assert.deepEqual(warming.map((w) => w.replace('warming', '').trim()), ['vip', 'churn_risk']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('on a phone-wide screen (390 px) every view fits the width', { skip }, async () => {
  const page = await browser!.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  for (const view of ['overview', 'tail', 'partitions', 'customer/dash-vip']) {
    await page.goto(`${main!.base}/#${view}`);
    if (view === 'overview') await untilChartHasData(page);
    if (view.startsWith('customer')) await page.locator('#profile').waitFor({ timeout: 10_000 });
    const width = await page.evaluate('document.documentElement.scrollWidth') as number;
    assert.ok(width <= 390, `#${view} is ${width} px wide`);
    if (view === 'overview') await shot(page, 'overview-phone');
  }
  await page.close();
});

test('with a token configured, the page asks for it, then shows the data and the live tail', { skip }, async () => {
  const token = `dash-token-${Date.now()}-0123456789`;
  const guarded = await startEngine(work, 'guarded', { ...process.env, AUD_HTTP_TOKEN: token });
  const page = await browser!.newPage();
  const errors = watchErrors(page);
  try {
    await page.goto(`${guarded.base}/`);
    await page.locator('#token-dialog[open]').waitFor({ timeout: 10_000 });
    await page.fill('#token', token);
    await page.click('#token-form button');
    await page.locator('#audiences tbody tr').first().waitFor({ state: 'attached', timeout: 10_000 });
    await untilTailLive(page);
    assert.equal(await page.evaluate(`sessionStorage.getItem('aud.token')`), token);
    const customer = `dash-guarded-${Date.now()}`;
    await produceEvents(guarded.input, PARTITIONS, [
      { customer_id: customer, type: 'profile_update', ts: new Date().toISOString(), tier: 'gold', email_opt_in: true, country: 'FR' },
    ]);
    await page.locator(`#tail li[data-customer="${customer}"]`).waitFor({ state: 'attached', timeout: 10_000 });
    // The 401s before the token was given are the only errors.
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  } finally {
    await page.close();
    await guarded.engine.stop();
  }
});
