/**
 * `aud why` as a user runs it, on the retail example and 60 days of its
 * generated events: the text, the JSON, --at, and a customer that is not
 * there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CustomerWhy } from '../../engine/customer-why.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'dist/cli/aud.js');
const rules = 'examples/retail/retail.aud';

const events = join(mkdtempSync(join(tmpdir(), 'aud-why-')), 'events.jsonl');
writeFileSync(events, [...generateRetailEvents({ customers: 200, days: 60, seed: 7, start: new Date('2026-01-01T00:00:00Z') })]
  .map((e) => JSON.stringify(e)).join('\n') + '\n');

function aud(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The customer's enter/leave events, as `aud replay` writes them. */
function replayed(customer: string): { type: string; audience: string; at: string; version: number; reason: string; cause?: { line: number } }[] {
  const r = aud('replay', rules, '--input', events);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ReturnType<typeof replayed>[number] & { customer: string }).filter((e) => e.customer === customer);
}

// A customer who entered vip in the first week of the generated traffic (seed 7).
const CUSTOMER = 'c-000134';

test('aud why --json: every audience with its tree, agreeing with aud replay\'s enter/leave events', () => {
  const r = aud('why', rules, '--input', events, '--customer', CUSTOMER, '--json');
  assert.equal(r.code, 0, r.stderr);
  const why = JSON.parse(r.stdout) as CustomerWhy;
  assert.deepEqual(Object.keys(why), ['customer', 'partition', 'asOf', 'audiences', 'traits', 'decisions', 'transitions', 'approximate']);
  assert.equal(why.customer, CUSTOMER);
  assert.equal(why.partition, null);
  assert.deepEqual(why.audiences.map((a) => a.name), ['vip', 'brand_lover', 'store_only', 'lapsed_vip', 'cart_abandoner', 'browsed_then_bought', 'gold_opted_in', 'churn_risk']);
  assert.deepEqual(why.traits.map((t) => `${t.kind} ${t.name}`), ['trait tier', 'trait lifetime_value', 'trait orders_90d', 'trait top_category', 'score churn']);

  const outputs = replayed(CUSTOMER);
  const vip = why.audiences.find((a) => a.name === 'vip')!;
  const vipEvents = outputs.filter((e) => e.audience === 'vip');
  assert.equal(vip.member, vipEvents.at(-1)!.type === 'enter');
  assert.equal(vip.version, vipEvents.at(-1)!.version);
  assert.equal(vip.value, vip.member);
  assert.equal(vip.expression.text, 'sum(purchase.amount) over 365 days >= 10000 and count(purchase) over 90 days >= 3');
  assert.deepEqual(vip.expression.children.map((c) => c.text), ['sum(purchase.amount) over 365 days >= 10000', 'count(purchase) over 90 days >= 3']);
  for (const a of why.audiences) {
    const last = outputs.filter((e) => e.audience === a.name).at(-1);
    assert.equal(a.member, last?.type === 'enter', a.name);
    assert.equal(a.version, last?.version ?? 0, a.name);
  }
  // Transitions: newest first, the first ones exactly the replay's last, each with its input line.
  const newest = outputs.slice(-3).reverse();
  assert.deepEqual(why.transitions.slice(0, 3), newest.map((e) => ({ audience: e.audience, type: e.type, at: e.at, version: e.version, reason: e.reason, ...(e.cause ? { cause: e.cause } : {}) })));
  // The vip enter is older than the last 16 (cart_abandoner flickers) and is kept all the same.
  assert.ok(why.transitions.some((t) => t.audience === 'vip' && t.type === 'enter' && t.version === 1 && 'cause' in t && t.cause !== undefined && 'line' in t.cause));
});

test('aud why: text for a terminal, each audience\'s verdict, its tree with the decisive parts marked, the last transitions with their cause', () => {
  const r = aud('why', rules, '--input', events, '--customer', CUSTOMER);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, new RegExp(`^customer ${CUSTOMER}, as of 2026-03-01T`));
  assert.ok(lines.some((l) => /^ {2}vip: IN \(v1\) since 2026-01-05T22:58:01\.831Z; may change /.test(l)), r.stdout);
  assert.ok(lines.some((l) => /^ {4}→ ✓ sum\(purchase\.amount\) over 365 days >= 10000 and count\(purchase\) over 90 days >= 3/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /^ {8}→ count\(purchase\) over 90 days = \d+ {3}\(changes 2026-/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /^ {2}store_only: OUT \(never entered\)$/.test(l)), r.stdout);
  // The store purchases did not decide store_only: the web ones did.
  assert.ok(lines.some((l) => /^ {8}✓ count\(purchase where channel == "store"\) >= 1$/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /^ {6}→ ✗ count\(purchase where channel == "web"\) == 0$/.test(l)), r.stdout);
  // Instants as ISO text, not epoch milliseconds.
  assert.ok(lines.some((l) => /^ +→ last\(purchase\) = 2026-0[23]-\d\dT[\d:.]+Z$/.test(l)), r.stdout);
  assert.ok(lines.includes('last enter/leave, newest first'), r.stdout);
  assert.ok(lines.some((l) => /^ {2}2026-01-05T22:58:01\.831Z {2}enter vip \(v1\) {2}on an event {2}line \d+$/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /enter cart_abandoner \(v\d+\) {2}by time \(a window or deadline passed\)$/.test(l)), r.stdout);
});

test('aud why --at: the events up to then, and the clock moved on to it', () => {
  const before = aud('why', rules, '--input', events, '--customer', CUSTOMER, '--at', '2026-01-05T00:00:00Z', '--json');
  assert.equal(before.code, 0, before.stderr);
  const why = JSON.parse(before.stdout) as CustomerWhy;
  assert.equal(why.asOf, '2026-01-05T00:00:00.000Z');
  const vip = why.audiences.find((a) => a.name === 'vip')!;
  assert.deepEqual([vip.member, vip.version, vip.value], [false, 0, false]);
  assert.ok(why.transitions.every((t) => t.at <= '2026-01-05T00:00:00.000Z'));
  // Later than the last event: the windows have emptied by then.
  const later = JSON.parse(aud('why', rules, '--input', events, '--customer', CUSTOMER, '--at', '2027-06-01T00:00:00Z', '--json').stdout) as CustomerWhy;
  assert.equal(later.asOf, '2027-06-01T00:00:00.000Z');
  assert.equal(later.audiences.find((a) => a.name === 'vip')!.member, false);
  assert.equal(later.traits.find((t) => t.name === 'orders_90d')!.value, 0);
  assert.equal(later.transitions[0]!.reason, 'timer');
});

test('aud why: a customer not in the events is an error naming the file, with the closest id', () => {
  const typo = aud('why', rules, '--input', events, '--customer', 'c-00134');
  assert.equal(typo.code, 1);
  assert.equal(typo.stdout, '');
  assert.equal(typo.stderr, `error: no customer "c-00134" in ${events}; did you mean "c-000134"?\n`);
  const nobody = aud('why', rules, '--input', events, '--customer', 'someone-else');
  assert.equal(nobody.code, 1);
  assert.equal(nobody.stderr, `error: no customer "someone-else" in ${events}: none of its 200 customers has that id\n`);
  const early = aud('why', rules, '--input', events, '--customer', CUSTOMER, '--at', '2026-01-01T00:00:00Z');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /^error: customer "c-000134" has no event in .* up to 2026-01-01T00:00:00\.000Z: their first one is later \(move --at on\)\n$/);
  const badTime = aud('why', rules, '--input', events, '--customer', CUSTOMER, '--at', 'yesterday');
  assert.equal(badTime.code, 1);
  assert.match(badTime.stderr, /--at "yesterday" is not a time/);
  const missing = aud('why', rules, '--input', join(tmpdir(), 'no-such-events.jsonl'), '--customer', CUSTOMER);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: cannot read .*no-such-events\.jsonl: no such file\n$/);
});

test('aud why with the retail offers: the decisions section in text and in --json, a send held by the window and an upsell passed over by its cap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-why-offers-'));
  const input = join(dir, 'events.jsonl');
  const purchase = (ts: string) => ({ customer_id: 'c3', type: 'purchase', ts, amount: 40, category: 'socks', sku: 'k', channel: 'store' });
  writeFileSync(input, [
    { customer_id: 'c1', type: 'add_to_cart', ts: '2026-01-05T21:30:00Z', sku: 's' },
    purchase('2026-01-10T12:00:00Z'), purchase('2026-01-25T12:00:00Z'), purchase('2026-02-08T13:00:00Z'),
  ].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const offers = 'examples/retail/offers.aud';

  // c1's cart reminder at 23:00 UTC, midnight in Oslo: held until 09:00 there.
  const held = aud('why', rules, offers, '--input', input, '--customer', 'c1', '--at', '2026-01-05T23:00:00Z', '--json');
  assert.equal(held.code, 0, held.stderr);
  const h = (JSON.parse(held.stdout) as CustomerWhy).decisions[0]!;
  assert.deepEqual({ name: h.name, value: h.value, lastSent: h.lastSent, version: h.version, heldUntil: h.heldUntil, window: h.window },
    { name: 'next_offer', value: 'cart_reminder', lastSent: null, version: 0, heldUntil: '2026-01-06T08:00:00.000Z',
      window: { between: '09:00 and 20:00', zone: 'Europe/Oslo', zoneFrom: 'rule', open: false, opensAt: '2026-01-06T08:00:00.000Z' } });
  assert.deepEqual(h.offers.map((o) => [o.name, o.eligible, o.score, o.rank, o.outcome]),
    [['winback', false, null, null, 'not eligible'], ['cart_reminder', true, 0.5, 1, 'chosen'], ['upsell', false, 0.2, null, 'not eligible']]);
  assert.equal(h.offers[1]!.eligibility!.text, 'in cart_abandoner');
  const heldText = aud('why', rules, offers, '--input', input, '--customer', 'c1', '--at', '2026-01-05T23:00:00Z');
  assert.equal(heldText.code, 0, heldText.stderr);
  const lines = heldText.stdout.split('\n');
  const at = lines.indexOf('decisions');
  assert.ok(at > 0 && lines.slice(0, at).some((l) => l.startsWith('  cart_abandoner: IN')), 'the decisions come after the audiences');
  assert.deepEqual(lines.slice(at + 1, at + 4), [
    '  next_offer: cart_reminder — cart_reminder, the best eligible offer that can go: held by the send window until 2026-01-06T08:00:00.000Z; nothing sent yet',
    '    window 09:00 and 20:00 in Europe/Oslo: closed, opens 2026-01-06T08:00:00.000Z',
    '    cap 3 per 1 week: 0 sent',
  ]);
  assert.ok(lines.includes('    1. cart_reminder: chosen; eligible, score 0.5'), heldText.stdout);

  // c3's third purchase in 30 days: the upsell's cap of 2 is full until a day later.
  const capped = aud('why', rules, offers, '--input', input, '--customer', 'c3', '--at', '2026-02-08T14:00:00Z', '--json');
  assert.equal(capped.code, 0, capped.stderr);
  const c = (JSON.parse(capped.stdout) as CustomerWhy).decisions[0]!;
  assert.deepEqual({ value: c.value, lastSent: c.lastSent, version: c.version, heldUntil: c.heldUntil },
    { value: null, lastSent: null, version: 4, heldUntil: null });
  assert.equal(c.verdict, 'no offer can be sent; passed over: upsell (its cap 2 per 30 days is full until 2026-02-09T12:00:00.000Z)');
  assert.deepEqual(c.offers[2]!.caps, [{ cap: '2 per 30 days', sent: 2, full: true, freesAt: '2026-02-09T12:00:00.000Z' }]);
  const cappedText = aud('why', rules, offers, '--input', input, '--customer', 'c3', '--at', '2026-02-08T14:00:00Z').stdout;
  assert.match(cappedText, /^ {4}1\. upsell: passed over; eligible, score 0\.35; cap 2 per 30 days: 2 sent, full until 2026-02-09T12:00:00\.000Z$/m);
});
