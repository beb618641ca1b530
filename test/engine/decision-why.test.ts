/**
 * The why of a customer's decisions (engine/decision-why.ts, through
 * PartitionTask.why, what `aud why` and `GET /customers/ID/why` answer), on
 * the retail example's offers: an upsell passed over by its full cap, with
 * the instant it frees; a cart reminder held by the send window, with the
 * instant it opens; and the text `aud why` prints of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { whyText } from '../../cli/why-text.js';
import { compileFiles } from '../../dsl/compile.js';
import type { CustomerWhy } from '../../engine/customer-why.js';
import { replay } from '../../engine/replay.js';
import { repo } from '../support/examples.js';

const purchase = (c: string, ts: string) => ({ customer_id: c, type: 'purchase', ts, amount: 40, category: 'socks', sku: 'k', channel: 'store' });

async function whyAt(events: Record<string, unknown>[], until: string, customer: string): Promise<CustomerWhy> {
  const compiled = await compileFiles([join(repo, 'examples/retail/retail.aud'), join(repo, 'examples/retail/offers.aud')]);
  let why: CustomerWhy | undefined;
  await replay(compiled.plan!, events.map((value) => ({ value })), {
    until: Date.parse(until), onOutput: () => undefined,
    atEnd: async (task) => { why = await task.why(customer); },
  });
  return why!;
}

test('an upsell passed over by its full cap: each offer\'s outcome, rank and caps, and when the cap frees', async () => {
  const why = await whyAt([purchase('c3', '2026-01-10T12:00:00Z'), purchase('c3', '2026-01-25T12:00:00Z'), purchase('c3', '2026-02-08T13:00:00Z')],
    '2026-02-08T14:00:00Z', 'c3');
  const d = why.decisions[0]!;
  assert.equal(d.name, 'next_offer');
  assert.equal(d.lastSent, null); // the upsell's 14 days ran out at 12:00
  assert.equal(d.version, 4);
  assert.equal(d.value, null);
  assert.match(d.verdict, /^no offer can be sent; passed over: upsell \(its cap 2 per 30 days is full until 2026-02-09T12:00:00.000Z\)$/);
  const upsell = d.offers.find((o) => o.name === 'upsell')!;
  assert.deepEqual({ eligible: upsell.eligible, score: upsell.score, rank: upsell.rank, outcome: upsell.outcome, caps: upsell.caps },
    { eligible: true, score: 0.35000000000000003, rank: 1, outcome: 'passed over', caps: [{ cap: '2 per 30 days', sent: 2, full: true, freesAt: '2026-02-09T12:00:00.000Z' }] });
  assert.deepEqual(d.offers.map((o) => [o.name, o.outcome]), [['winback', 'not eligible'], ['cart_reminder', 'not eligible'], ['upsell', 'passed over']]);
  assert.deepEqual(d.caps, [{ cap: '3 per 1 week', sent: 0, full: false, freesAt: null }]);
  assert.deepEqual(d.window, { between: '09:00 and 20:00', zone: 'Europe/Oslo', zoneFrom: 'rule', open: true, opensAt: null });
  assert.equal(d.heldUntil, null);
  const text = whyText(why);
  assert.match(text, /^ {2}next_offer: no offer — no offer can be sent; passed over: upsell .*; last sent no offer \(v4\)$/m);
  assert.match(text, /^ {4}1\. upsell: passed over; eligible, score 0\.35; cap 2 per 30 days: 2 sent, full until 2026-02-09T12:00:00\.000Z$/m);
});

test('a cart reminder held by the send window: the value, and when the window opens', async () => {
  const why = await whyAt([{ customer_id: 'c1', type: 'add_to_cart', ts: '2026-01-05T21:30:00Z', sku: 's' }], '2026-01-05T23:00:00Z', 'c1');
  const d = why.decisions[0]!;
  assert.equal(d.value, 'cart_reminder');
  assert.equal(d.lastSent, null);
  assert.equal(d.heldUntil, '2026-01-06T08:00:00.000Z');
  assert.equal(d.verdict, 'cart_reminder, the best eligible offer that can go: held by the send window until 2026-01-06T08:00:00.000Z');
  assert.deepEqual(d.window, { between: '09:00 and 20:00', zone: 'Europe/Oslo', zoneFrom: 'rule', open: false, opensAt: '2026-01-06T08:00:00.000Z' });
  assert.equal(d.offers.find((o) => o.name === 'cart_reminder')!.outcome, 'chosen');
  assert.match(whyText(why), /window 09:00 and 20:00 in Europe\/Oslo: closed, opens 2026-01-06T08:00:00\.000Z/);
});

test('the why agrees with the engine for every customer of 60 generated days: the offer walked to is the value, and with no hold it is the one last sent', async () => {
  const { generateRetailEvents } = await import('../../examples/retail/generate.js');
  const events = [...generateRetailEvents({ customers: 150, days: 60, seed: 11, start: new Date('2026-01-01T00:00:00Z') })];
  const customers = [...new Set(events.map((e) => String(e.customer_id)))];
  const compiled = await compileFiles([join(repo, 'examples/retail/retail.aud'), join(repo, 'examples/retail/offers.aud')]);
  // Three instants: night in Oslo (window closed), midday, and the end of the traffic.
  for (const until of ['2026-02-10T01:30:00Z', '2026-02-10T12:00:00Z', '2026-03-02T00:00:00Z']) {
    const whys: CustomerWhy[] = [];
    await replay(compiled.plan!, events.filter((e) => Date.parse(String(e.ts)) < Date.parse(until)).map((value) => ({ value })), {
      until: Date.parse(until), onOutput: () => undefined,
      atEnd: async (task) => { for (const c of customers) { const w = await task.why(c); if (w) whys.push(w); } },
    });
    let held = 0;
    for (const why of whys) {
      const d = why.decisions[0]!;
      const walked = d.offers.find((o) => o.outcome === 'chosen' || o.outcome === 'stays')?.name ?? null;
      assert.equal(d.value, walked, `${why.customer} at ${until}`);
      if (d.heldUntil === null) assert.equal(d.value, d.lastSent, `${why.customer} at ${until}: the engine has sent what is due`);
      else { held++; assert.equal(d.window!.open, false); assert.notEqual(d.value, d.lastSent); }
    }
    if (until === '2026-02-10T01:30:00Z') assert.ok(held > 0, 'some sends are held at night');
  }
});
