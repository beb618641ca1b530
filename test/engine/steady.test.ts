/**
 * Steady audiences in the engine (engine/dwell.ts, activation.md section 1):
 * enters and leaves after their delays, by timer, with no new event; `in`
 * a steady audience reads its membership; a rule change keeps a steady
 * audience it does not change, and refuses one that adds or changes one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { replay, type Deployment } from '../../engine/replay.js';
import { RuleChangeRefused } from '../../engine/rule-change.js';

const HEAD = 'source "events" { key c  type type  time ts }\nevent view { page: string }\nevent buy { amount: number }\n';

function compile(text: string): Plan {
  const r = compileSources(new Map([['t.aud', HEAD + text]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

const at = (hhmm: string): string => `2026-01-01T${hhmm}:00.000Z`;

async function run(plan: Plan, events: [string, string, string][], until: string, deployments: Deployment[] = [], cacheCustomers?: number): Promise<string[]> {
  const records = (): InputRecord[] => events.map(([c, type, time]) => ({ value: { c, type, ts: at(time), page: '/', amount: 1 } }));
  const out: OutputEvent[] = [];
  await replay(plan, records(), {
    until: Date.parse(at(until)), batchSize: 1, deployments, history: records,
    ...(cacheCustomers !== undefined ? { cacheCustomers } : {}),
    onOutput: (e) => { out.push(...e); },
  });
  return out.map((e) => `${e.at.slice(11, 16)} ${e.type} ${e.audience} ${e.customer} v${e.version} ${e.reason}`);
}

const ENGAGED = `
audience engaged {
  enter when count(view) over 2 hours >= 2
  enter after 30 minutes
  leave after 10 minutes
}
audience engaged_buyer { in engaged and count(buy) >= 1 }
`;

test('enter after: in by timer once the condition has held that long; out after leave after, by timer', async () => {
  const got = await run(compile(ENGAGED), [['c1', 'view', '00:00'], ['c1', 'view', '00:10'], ['c1', 'buy', '00:20']], '06:00');
  assert.deepEqual(got, [
    // true from 00:10; held 30 minutes at 00:40
    '00:40 enter engaged c1 v1 timer',
    '00:40 enter engaged_buyer c1 v1 timer',
    // the 00:00 view leaves the 2-hour window at 02:00 (minute buckets): false from 02:00, out at 02:10
    '02:10 leave engaged c1 v2 timer',
    '02:10 leave engaged_buyer c1 v2 timer',
  ]);
});

test('a condition that breaks before its delay runs out lets no one in; the delay starts again', async () => {
  const plan = compile(`audience a {
    enter when count(view) over 1 hour >= 1 and count(buy) over 1 hour == 0
    enter after 30 minutes
  }`);
  const got = await run(plan, [['c1', 'view', '00:00'], ['c1', 'buy', '00:20'], ['c1', 'view', '01:30']], '04:00');
  // 00:00 true, 00:20 false (buy), 01:20 the buy leaves: true again from 01:20 (the view at 00:00 left at 01:00; the one at 01:30 counts)
  assert.deepEqual(got, ['02:00 enter a c1 v1 timer', '02:30 leave a c1 v2 timer']);
});

test('stay at least holds a leave back; a leave when with hysteresis', async () => {
  const plan = compile(`audience a {
    enter when count(view) over 1 hour >= 2
    leave when count(view) over 1 hour < 1
    stay at least 3 hours
  }`);
  const got = await run(plan, [['c1', 'view', '00:00'], ['c1', 'view', '00:05'], ['c1', 'view', '00:50']], '06:00');
  // in at 00:05 (event); at 01:00 one view left (1 < 2 but not < 1): still in; at 01:50 none: leave due, held to 03:05
  assert.deepEqual(got, ['00:05 enter a c1 v1 event', '03:05 leave a c1 v2 timer']);
});

test('the dwell state survives the store: the same output with no customer kept decoded', async () => {
  const events: [string, string, string][] = [['c1', 'view', '00:00'], ['c1', 'view', '00:10'], ['c2', 'view', '00:15'], ['c2', 'view', '00:16'], ['c1', 'buy', '00:20']];
  assert.deepEqual(await run(compile(ENGAGED), events, '06:00', [], 0), await run(compile(ENGAGED), events, '06:00'));
});

test('a rule change that keeps a steady audience keeps its dwell state; one that adds or changes one is refused', async () => {
  const events: [string, string, string][] = [['c1', 'view', '00:00'], ['c1', 'view', '00:10'], ['c1', 'buy', '00:20'], ['c1', 'view', '02:30']];
  const plain = await run(compile(ENGAGED), events, '06:00');
  // Deployed at 00:30, while engaged's 30 minutes run: it must still enter at 00:40.
  const kept = await run(compile(ENGAGED), events, '06:00', [{ at: Date.parse(at('00:30')), plan: compile(`${ENGAGED}\naudience buyer { count(buy) >= 1 }`) }]);
  assert.deepEqual(kept.filter((l) => !l.includes('buyer c1') || l.includes('engaged_buyer')), plain);
  assert.ok(kept.includes('00:30 enter buyer c1 v1 rule_change'));
  const changed = ENGAGED.replace('enter after 30 minutes', 'enter after 20 minutes');
  await assert.rejects(run(compile(ENGAGED), events, '06:00', [{ at: Date.parse(at('00:30')), plan: compile(changed) }]),
    (err: unknown) => err instanceof RuleChangeRefused && /steady audience "engaged"/.test(err.message));
  await assert.rejects(run(compile('audience x { count(view) >= 1 }'), events, '06:00', [{ at: Date.parse(at('00:30')), plan: compile(ENGAGED) }]),
    (err: unknown) => err instanceof RuleChangeRefused);
});
