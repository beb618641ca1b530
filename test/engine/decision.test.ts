/**
 * Decisions in the engine (engine/decision.ts, activation.md section 2):
 * the best eligible offer, ties by order, caps that pass an offer over and
 * let it out again by timer, send windows that hold a change until they
 * open (in a zone, daylight saving time included, or a zone from a trait),
 * an offer's cap counted across decisions, and the state read back from
 * the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import type { InputRecord } from '../../engine/input-record.js';
import { outputEventJson, type OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { planRuleChange, ruleChangeRefusal } from '../../engine/rule-change.js';
import { repo } from '../support/examples.js';

const HEAD = 'source "events" { key c  type type  time ts }\nevent view { page: string }\nevent buy { amount: number }\nevent prof { tz: string }\n';

function compile(text: string): Plan {
  const r = compileSources(new Map([['t.aud', HEAD + text]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

/** `00:10` is 2026-01-01T00:10Z; anything longer is an ISO instant without its seconds. */
const time = (t: string): string => (t.length === 5 ? `2026-01-01T${t}:00.000Z` : `${t}:00.000Z`);

type Ev = [customer: string, type: string, at: string, tz?: string | null];

/** The decision events, as `AT CUSTOMER DECISION OFFER vVERSION REASON` (AT as hh:mm when on 2026-01-01). */
async function decisions(plan: Plan, events: Ev[], until: string, cacheCustomers?: number): Promise<string[]> {
  const records = (): InputRecord[] => events.map(([c, type, at, tz]) => ({ value: { c, type, ts: time(at), page: '/', amount: 1, tz: tz ?? null } }));
  const out: OutputEvent[] = [];
  await replay(plan, records(), {
    until: Date.parse(time(until)), batchSize: 1,
    ...(cacheCustomers !== undefined ? { cacheCustomers } : {}),
    onOutput: (e) => { out.push(...e); },
  });
  return out.flatMap((e) => {
    if (e.type !== 'decision') return [];
    const at = e.at.startsWith('2026-01-01T') ? e.at.slice(11, 16) : e.at.slice(0, 16);
    return [`${at} ${e.customer} ${e.decision} ${e.offer} v${e.version} ${e.reason}`];
  });
}

test('the best eligible offer goes out when it changes; equal scores go to the first listed; none left is "offer": null', async () => {
  const plan = compile(`
offer a { eligible count(buy) over 1 hour >= 1  score 1 }
offer b { eligible count(view) over 1 hour >= 1  score 1 }
offer c { eligible count(view) over 1 hour >= 3  score 2 }
decision d { offers a, b, c }
`);
  const got = await decisions(plan, [['c1', 'view', '00:00'], ['c1', 'buy', '00:05'], ['c1', 'view', '00:10'], ['c1', 'view', '00:20']], '03:00');
  assert.deepEqual(got, [
    '00:00 c1 d b v1 event',
    '00:05 c1 d a v2 event', // a ties with b and is listed first
    '00:20 c1 d c v3 event',
    '01:00 c1 d a v4 timer', // the 00:00 view leaves the hour: c is no longer eligible
    '01:05 c1 d b v5 timer',
    '01:20 c1 d null v6 timer',
  ]);
});

const CAPPED = `
offer hi { eligible count(buy) over 30 minutes >= 1  score 2  cap 1 per 1 hour }
offer lo { score 1 }
decision d { offers hi, lo }
`;

test('a capped offer is passed over while the last one sent stays, and goes out by timer the instant its cap frees', async () => {
  const events: Ev[] = [['c1', 'view', '00:00'], ['c1', 'buy', '00:10'], ['c1', 'buy', '00:50']];
  const got = await decisions(compile(CAPPED), events, '03:00');
  assert.deepEqual(got, [
    '00:00 c1 d lo v1 event',
    '00:10 c1 d hi v2 event',
    '00:40 c1 d lo v3 timer',
    // 00:50: hi is eligible again, but its cap counts the 00:10 send until 01:10; lo stays
    '01:10 c1 d hi v4 timer',
    '01:20 c1 d lo v5 timer',
  ]);
  // The decision state (last offer, version, sends) is read back from the store between batches.
  assert.deepEqual(await decisions(compile(CAPPED), events, '03:00', 0), got);
});

test('a decision cap holds new offers but never "offer": null', async () => {
  const plan = compile(`
offer x { eligible count(buy) over 10 minutes >= 1  score 1 }
decision d { offers x  cap 1 per 1 day }
`);
  const got = await decisions(plan, [['c1', 'buy', '00:00'], ['c1', 'buy', '00:20'], ['c1', 'buy', '2026-01-02T00:05']], '2026-01-02T06:00');
  assert.deepEqual(got, [
    '00:00 c1 d x v1 event',
    '00:10 c1 d null v2 timer',
    // 00:20: x is eligible, but the decision sent one offer in the last day
    '2026-01-02T00:05 c1 d x v3 event',
    '2026-01-02T00:15 c1 d null v4 timer',
  ]);
});

test('an offer\'s cap counts its sends from every decision', async () => {
  const plan = compile(`
offer x { eligible count(buy) >= 1  score 2  cap 1 per 1 day }
offer y { score 1 }
decision d1 { offers x, y }
decision d2 { offers x, y }
`);
  const got = await decisions(plan, [['c1', 'view', '00:00'], ['c1', 'buy', '00:10']], '2026-01-02T06:00');
  assert.deepEqual(got, [
    '00:00 c1 d1 y v1 event',
    '00:00 c1 d2 y v1 event',
    '00:10 c1 d1 x v2 event',
    '2026-01-02T00:10 c1 d2 x v2 timer',
  ]);
});

test('a send window holds a change until it opens, then sends the value of that moment (Europe/Oslo, winter)', async () => {
  const plan = compile(`
offer x { eligible count(buy) over 3 hours >= 1  score 1 }
decision d { offers x  deliver between 09:00 and 20:00 in "Europe/Oslo" }
`);
  const got = await decisions(plan, [
    ['c3', 'buy', '2026-01-05T06:00'], // 07:00 in Oslo: held until 09:00 (08:00Z), still eligible then
    ['c2', 'buy', '2026-01-05T18:30'], // 19:30 in Oslo: open
    ['c1', 'buy', '2026-01-05T19:30'], // 20:30 in Oslo: held, and no longer eligible when the window opens
  ], '2026-01-06T12:00');
  assert.deepEqual(got, [
    '2026-01-05T08:00 c3 d x v1 timer',
    '2026-01-05T09:00 c3 d null v2 timer',
    '2026-01-05T18:30 c2 d x v1 event',
    '2026-01-06T08:00 c2 d null v2 timer', // not eligible from 21:30Z (22:30 in Oslo): held overnight
  ]);
});

test('send windows follow daylight saving time: the spring gap opens at 03:00, the autumn overlap at the first 02:30', async () => {
  const plan = compile(`
offer x { eligible count(buy) over 1 day >= 1  score 1 }
decision d { offers x  deliver between 02:30 and 04:00 in "Europe/Oslo" }
`);
  const got = await decisions(plan, [
    ['spring', 'buy', '2026-03-29T00:00'], // 01:00 CET; at 01:00Z the clocks jump from 02:00 to 03:00
    ['autumn', 'buy', '2026-10-24T23:00'], // 01:00 CEST; at 01:00Z the clocks fall back from 03:00 to 02:00
  ], '2026-10-25T02:00');
  assert.deepEqual(got, [
    '2026-03-29T01:00 spring d x v1 timer',
    // not eligible from 2026-03-30T00:00Z (02:00 CEST): held until 02:30 CEST
    '2026-03-30T00:30 spring d null v2 timer',
    '2026-10-25T00:30 autumn d x v1 timer',
  ]);
});

test('the zone from a string trait, with the default for a customer whose trait is null or no zone', async () => {
  const plan = compile(`
trait tz = last(prof.tz)
offer x { eligible count(buy) over 1 day >= 1  score 1 }
decision d { offers x  deliver between 09:00 and 10:00 in tz default "Asia/Tokyo" }
`);
  const got = await decisions(plan, [
    ['ny', 'prof', '2026-01-05T00:00', 'America/New_York'],
    ['mars', 'prof', '2026-01-05T00:00', 'Mars/Base'],
    ['ny', 'buy', '2026-01-05T12:00'],
    ['none', 'buy', '2026-01-05T12:00'],
    ['mars', 'buy', '2026-01-05T12:00'],
  ], '2026-01-06T13:00');
  assert.deepEqual(got, [
    '2026-01-05T14:00 ny d x v1 timer', // 09:00 in New York
    '2026-01-06T00:00 mars d x v1 timer', // 09:00 in Tokyo
    '2026-01-06T00:00 none d x v1 timer',
  ]);
});

test('a rule change deploys new, changed and dropped decisions: each is evaluated at the change, a changed one goes on from what it sent', async () => {
  const audience = 'audience buyer { count(buy) >= 1 }\n';
  const before = compile(`${audience}offer x { eligible in buyer  score 1 }\noffer y { score 2  cap 1 per 1 day }\ndecision d { offers x }\ndecision gone { offers x }\n`);
  const after = compile(`${audience}offer x { eligible in buyer  score 1 }\noffer y { score 2  cap 1 per 1 day }\ndecision d { offers x, y }\ndecision fresh { offers x }\n`);
  assert.equal(ruleChangeRefusal(planRuleChange(before, after)), undefined);
  const records = (): InputRecord[] => [['c1', 'buy', '00:00'], ['c2', 'view', '00:10'], ['c2', 'buy', '01:30']]
    .map(([c, type, t]) => ({ value: { c, type, ts: time(t!), page: '/', amount: 1 } }));
  const out: OutputEvent[] = [];
  await replay(before, records(), {
    until: Date.parse(time('03:00')), batchSize: 1, deployments: [{ at: Date.parse(time('01:00')), plan: after }], history: records,
    onOutput: (e) => { out.push(...e); },
  });
  assert.deepEqual(out.filter((e) => e.type === 'decision').map((e) => `${e.at.slice(11, 16)} ${e.customer} ${e.decision} ${e.offer} v${e.version} ${e.reason}`), [
    '00:00 c1 d x v1 event',
    '00:00 c1 gone x v1 event',
    // At the change: d now also offers y, which scores higher; fresh starts with nothing sent.
    '01:00 c1 d y v2 rule_change',
    '01:00 c1 fresh x v1 rule_change',
    '01:00 c2 d y v1 rule_change',
    // c2's purchase: fresh offers x; d keeps y, whose cap counts the send of 01:00.
    '01:30 c2 fresh x v1 event',
  ]);
});

/** activation.md, section 2, as written there. */
const SPEC_EXAMPLE = `
offer winback "20% win-back coupon" {
  eligible in lapsed_vip and not in cart_abandoner
  score    0.6 * churn + 0.4 * min(lifetime_value / 10000, 1)
  cap      1 per 7 days
}
offer cart_reminder { eligible in cart_abandoner  score 0.5 }

decision next_offer "The one offer for the home page and e-mail" {
  offers  winback, cart_reminder
  cap     3 per 7 days                          // all offers of this decision together
  deliver between 09:00 and 20:00 in "Europe/Oslo"   // optional
}
`;

test('the spec\'s example, with the retail rules: a lapsed VIP is offered the win-back, in the spec\'s JSON; a cart left at night is reminded at 09:00 in Oslo', async () => {
  const retail = await readFile(join(repo, 'examples/retail/retail.aud'), 'utf8');
  const r = compileSources(new Map([['retail.aud', retail], ['spec.aud', SPEC_EXAMPLE]]));
  assert.deepEqual(r.diagnostics, []);
  const events = [
    { customer_id: 'c1', type: 'purchase', ts: '2026-01-05T10:00:00Z', amount: 6000, category: 'shoes', sku: 's1', channel: 'web' },
    { customer_id: 'c1', type: 'purchase', ts: '2026-01-06T10:00:00Z', amount: 3000, category: 'shoes', sku: 's2', channel: 'web' },
    { customer_id: 'c1', type: 'purchase', ts: '2026-01-07T10:00:00Z', amount: 2000, category: 'shoes', sku: 's3', channel: 'web' },
    { customer_id: 'c2', type: 'add_to_cart', ts: '2026-01-07T21:30:00Z', sku: 's9' },
  ];
  const lines: string[] = [];
  await replay(r.plan!, events.map((value) => ({ value })), {
    until: Date.parse('2026-03-09T00:00:00Z'),
    onOutput: (out) => { for (const e of out) if (e.type === 'decision') lines.push(outputEventJson(e)); },
  });
  assert.deepEqual(lines, [
    '{"type":"decision","decision":"next_offer","offer":"cart_reminder","customer":"c2","at":"2026-01-08T08:00:00.000Z","score":0.5,"version":1,"reason":"timer"}',
    // 60 days without a purchase: lapsed; 0.6 × logistic(−2 + 0.05 × 60 − 0.3 × 3) + 0.4 × 1
    '{"type":"decision","decision":"next_offer","offer":"winback","customer":"c1","at":"2026-03-08T10:00:00.000Z","score":0.714987512487364,"version":1,"reason":"timer"}',
  ]);
});
