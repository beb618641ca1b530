/**
 * The why view (engine/customer-why.ts): exact values, decisive parts and
 * next-change instants on a small rule file; and over a replay of the
 * retail example, that it reports what the engine computed, for every
 * customer and audience.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import { customerWhy, type CustomerWhy, type WhyNode } from '../../engine/customer-why.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { MembershipEvent, OutputEvent } from '../../engine/output-event.js';
import type { PartitionTask } from '../../engine/partition-task.js';
import { replay } from '../../engine/replay.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function plan(text: string): Plan {
  const r = compileSources(new Map([['rules.aud', text]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

const rules = plan(`
source "s" { key customer_id type type time ts format json }
event purchase { amount: number }
event login { }
trait spend = sum(purchase.amount)
audience buyer { count(purchase) over 7 days >= 2 }
audience big { in buyer and spend >= 100 or count(login) over 1 day >= 1 }
audience quiet { not in buyer and count(login) over 30 days == 0 }
audience keen { avg(purchase.amount) > 10 or count(login) >= 5 }
`);

const events: InputRecord[] = [
  { customer_id: 'c1', type: 'purchase', amount: 50, ts: '2026-01-01T00:00:00Z' },
  { customer_id: 'c1', type: 'purchase', amount: 70, ts: '2026-01-03T00:00:00Z' },
  { customer_id: 'c1', type: 'login', ts: '2026-01-04T00:00:00Z' },
  { customer_id: 'c2', type: 'login', ts: '2026-01-04T00:00:00Z' },
].map((e, i) => ({ value: JSON.stringify(e), cause: { line: i + 1 } }));

/** Replay, then hand the partition at the end to `inspect`. */
async function replayed<T>(p: Plan, records: InputRecord[], inspect: (task: PartitionTask) => Promise<T>, until?: number): Promise<{ result: T; outputs: OutputEvent[] }> {
  const outputs: OutputEvent[] = [];
  let result: T | undefined;
  await replay(p, records, {
    ...(until !== undefined ? { until } : {}),
    onOutput: (e) => { outputs.push(...e); },
    atEnd: async (task) => { result = await inspect(task); },
  });
  return { result: result!, outputs };
}

/** A node as `decisive text = value @ nextChangeAt`, children indented: the whole tree in one comparable text. */
function outline(n: WhyNode, depth = 0): string[] {
  const line = `${'  '.repeat(depth)}${n.decisive ? '→ ' : '  '}${n.text} = ${JSON.stringify(n.value)}${n.nextChangeAt ? ` @ ${n.nextChangeAt}` : ''}`;
  return [line, ...n.children.flatMap((c) => outline(c, depth + 1))];
}

function audience(why: CustomerWhy, name: string): CustomerWhy['audiences'][number] {
  const a = why.audiences.find((x) => x.name === name);
  assert.ok(a, name);
  return a;
}

test('every part of each audience with its value, what decided it and when it next changes', async () => {
  const { result: [c1, c2] } = await replayed(rules, events, async (task) => [(await task.why('c1'))!, (await task.why('c2'))!]);
  assert.equal(c1.customer, 'c1');
  assert.equal(c1.partition, null);
  assert.equal(c1.asOf, '2026-01-04T00:00:00.000Z');

  // Two purchases in the week: the first leaves the window on the 8th, and the customer with it.
  const buyer = audience(c1, 'buyer');
  assert.deepEqual({ ...buyer, expression: undefined }, { name: 'buyer', member: true, version: 1, value: true, nextChangeAt: '2026-01-08T00:00:00.000Z', expression: undefined });
  assert.deepEqual(outline(buyer.expression), [
    '→ count(purchase) over 1 week >= 2 = true @ 2026-01-08T00:00:00.000Z',
    '  → count(purchase) over 1 week = 2 @ 2026-01-08T00:00:00.000Z',
  ]);

  // An `or` of an `and` and a comparison, both true: both decided. `in buyer` changes when buyer does;
  // the engine evaluates the `or` no further than its true left side, so its instant is the left side's.
  assert.deepEqual(outline(audience(c1, 'big').expression), [
    '→ in buyer and spend >= 100 or count(login) over 1 day >= 1 = true @ 2026-01-08T00:00:00.000Z',
    '  → in buyer and spend >= 100 = true @ 2026-01-08T00:00:00.000Z',
    '    → in buyer = true @ 2026-01-08T00:00:00.000Z',
    '    → spend >= 100 = true',
    '      → spend = 120',
    '  → count(login) over 1 day >= 1 = true @ 2026-01-05T00:00:00.000Z',
    '    → count(login) over 1 day = 1 @ 2026-01-05T00:00:00.000Z',
  ]);
  // c2 has no purchase: the false `and` did not decide the `or`; the login did.
  assert.deepEqual(outline(audience(c2, 'big').expression), [
    '→ in buyer and spend >= 100 or count(login) over 1 day >= 1 = true @ 2026-01-05T00:00:00.000Z',
    '    in buyer and spend >= 100 = false',
    '      in buyer = false',
    '      spend >= 100 = false',
    '        spend = 0',
    '  → count(login) over 1 day >= 1 = true @ 2026-01-05T00:00:00.000Z',
    '    → count(login) over 1 day = 1 @ 2026-01-05T00:00:00.000Z',
  ]);

  // `not`: c1 entered quiet with their first purchase and left with the second (version 2).
  const quiet = audience(c1, 'quiet');
  assert.equal(quiet.member, false);
  assert.equal(quiet.version, 2);
  assert.deepEqual(outline(quiet.expression), [
    '→ not in buyer and count(login) over 30 days == 0 = false @ 2026-01-08T00:00:00.000Z',
    '  → not in buyer = false @ 2026-01-08T00:00:00.000Z',
    '    → in buyer = true @ 2026-01-08T00:00:00.000Z',
    '  → count(login) over 30 days == 0 = false @ 2026-02-03T00:00:00.000Z',
    '    → count(login) over 30 days = 1 @ 2026-02-03T00:00:00.000Z',
  ]);
  assert.deepEqual(outline(audience(c2, 'quiet').expression), [
    '→ not in buyer and count(login) over 30 days == 0 = false @ 2026-02-03T00:00:00.000Z',
    '    not in buyer = true',
    '      in buyer = false',
    '  → count(login) over 30 days == 0 = false @ 2026-02-03T00:00:00.000Z',
    '    → count(login) over 30 days = 1 @ 2026-02-03T00:00:00.000Z',
  ]);

  // Unknown (null): the average of no purchase. The null part decided the `or`, not the false one.
  const keen = audience(c2, 'keen');
  assert.equal(keen.value, null);
  assert.equal(keen.member, false);
  assert.deepEqual(outline(keen.expression), [
    '→ avg(purchase.amount) > 10 or count(login) >= 5 = null',
    '  → avg(purchase.amount) > 10 = null',
    '    → avg(purchase.amount) = null',
    '    count(login) >= 5 = false',
    '      count(login) = 1',
  ]);

  assert.deepEqual(c1.traits, [{
    name: 'spend', kind: 'trait', value: 120, nextChangeAt: null,
    expression: { text: 'sum(purchase.amount)', value: 120, decisive: true, nextChangeAt: null, children: [] },
  }]);
  assert.deepEqual(c1.approximate, []);
});

test('at the instant a window drops an event, the why has moved on with the engine', async () => {
  const until = Date.parse('2026-01-08T00:00:00Z');
  const { result: c1, outputs } = await replayed(rules, events, async (task) => (await task.why('c1'))!, until);
  assert.ok(outputs.some((o) => o.customer === 'c1' && o.audience === 'buyer' && o.type === 'leave' && o.reason === 'timer' && o.at === '2026-01-08T00:00:00.000Z'));
  assert.equal(c1.asOf, '2026-01-08T00:00:00.000Z');
  const buyer = audience(c1, 'buyer');
  assert.equal(buyer.member, false);
  assert.equal(buyer.version, 2);
  assert.equal(buyer.value, false);
  // One purchase left in the week, the threshold out of reach by time alone; the count drops again on the 10th.
  assert.equal(buyer.nextChangeAt, null);
  assert.deepEqual(outline(buyer.expression), [
    '→ count(purchase) over 1 week >= 2 = false',
    '  → count(purchase) over 1 week = 1 @ 2026-01-10T00:00:00.000Z',
  ]);
  // Out of buyer now, but the login keeps c1 out of quiet until it leaves its 30 days, on February 3.
  const quiet = audience(c1, 'quiet');
  assert.deepEqual([quiet.member, quiet.version, quiet.value, quiet.nextChangeAt], [false, 2, false, '2026-02-03T00:00:00.000Z']);
  assert.deepEqual(outline(quiet.expression), [
    '→ not in buyer and count(login) over 30 days == 0 = false @ 2026-02-03T00:00:00.000Z',
    '    not in buyer = true',
    '      in buyer = false',
    '  → count(login) over 30 days == 0 = false @ 2026-02-03T00:00:00.000Z',
    '    → count(login) over 30 days = 1 @ 2026-02-03T00:00:00.000Z',
  ]);
});

test('the transitions given are shown newest first with their cause; by default those the state keeps', async () => {
  const { result: state, outputs } = await replayed(rules, events, async (task) => (await task.committedState('c1'))!);
  const transitions = outputs.filter((o): o is MembershipEvent => o.customer === 'c1' && o.type !== 'decision').reverse()
    .map((o) => ({ audience: o.audience, type: o.type, at: Date.parse(o.at), version: o.version, reason: o.reason, ...(o.cause ? { cause: o.cause } : {}) }));
  const why = customerWhy('c1', { plan: rules, state, now: Date.parse('2026-01-04T00:00:00Z'), partition: 3, transitions });
  assert.equal(why.partition, 3);
  // The second purchase (line 2) put c1 in buyer, so in big, and out of quiet, which uses `not in buyer`.
  assert.deepEqual(why.transitions[0], { audience: 'quiet', type: 'leave', at: '2026-01-03T00:00:00.000Z', version: 2, reason: 'event', cause: { line: 2 } });
  assert.deepEqual(why.transitions.map((t) => `${t.type} ${t.audience}`), ['leave quiet', 'enter big', 'enter buyer', 'enter keen', 'enter quiet']);
  // Without them, those the customer's state keeps: the same five.
  const kept = customerWhy('c1', { plan: rules, state, now: Date.parse('2026-01-04T00:00:00Z'), partition: null });
  assert.deepEqual(kept.transitions, why.transitions);
});

test('over a replay of the retail example, every audience\'s value is the membership the engine stored, and traits agree with the customer view', async () => {
  const retail = plan(readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8'));
  const records: InputRecord[] = [...generateRetailEvents({ customers: 200, days: 60, seed: 7, start: new Date('2026-01-01T00:00:00Z') })]
    .map((value, i) => ({ value, cause: { line: i + 1 } }));
  const customers = [...new Set(records.map((r) => (r.value as unknown as { customer_id: string }).customer_id))];
  // Twice: at the last event, and after the clock has moved on a month with no event (timers fired).
  for (const until of [undefined, Date.parse('2026-04-01T00:00:00Z')]) {
    const { result: checked } = await replayed(retail, records, async (task) => {
      let n = 0;
      for (const customer of customers) {
        const why = (await task.why(customer))!;
        const view = (await task.view(customer))!;
        for (const a of why.audiences) {
          assert.equal(a.value === true, a.member, `${customer} ${a.name}: the why's value, the engine's membership`);
          assert.equal(a.expression.value, a.value);
          assert.deepEqual({ member: a.member, version: a.version }, view.audiences[a.name]);
          if (a.nextChangeAt !== null) assert.ok(a.nextChangeAt > why.asOf!, `${customer} ${a.name}: the next change is ahead`);
          n++;
        }
        for (const t of why.traits) assert.deepEqual(t.value, (t.kind === 'score' ? view.scores : view.traits)[t.name], `${customer} ${t.name}`);
        assert.deepEqual(why.approximate, view.approximate);
        assert.deepEqual(why.transitions, view.transitions);
      }
      return n;
    }, until);
    assert.equal(checked, customers.length * retail.audiences.length);
  }
});
