/**
 * Rule changes in replay (engine/deployment.ts, customer-lifecycle.md
 * section 1), checked against the contract's own terms on generated retail
 * traffic: replaying retail.aud with retail-v2.aud deployed at T must give
 *  - before T: exactly retail.aud's output;
 *  - at T: one rule_change enter or leave for each customer and audience
 *    whose membership under retail-v2.aud alone differs from the one under
 *    retail.aud alone (brand_lover, removed, counts as out);
 *  - after T: exactly retail-v2.aud's output alone, but with versions that
 *    continue the counters (each customer's and audience's versions go
 *    1, 2, 3... alternating enter and leave).
 * Also: an event type only the new rules declare, before and after T.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { RuleDeployment } from '../../engine/deployment.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { batchOfRecords } from '../../engine/record-batch.js';
import { replay, type Deployment } from '../../engine/replay.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { planRuleChange } from '../../engine/rule-change.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function compile(text: string): Plan {
  const r = compileSources(new Map([['rules.aud', text]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

const v1 = compile(readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8'));
const v2 = compile(readFileSync(join(repo, 'examples/retail/rule-change/retail-v2.aud'), 'utf8'));
const UNTIL = Date.parse('2026-04-01T00:00:00Z');
const records = (): InputRecord[] => [...generateRetailEvents({ customers: 300, days: 60, seed: 5, start: new Date('2026-01-01T00:00:00Z') })]
  .map((value, i) => ({ value, cause: { line: i + 1 } }));

async function run(plan: Plan, deployments: Deployment[] = [], batchSize = 500): Promise<OutputEvent[]> {
  const out: OutputEvent[] = [];
  await replay(plan, records(), { until: UNTIL, batchSize, deployments, history: records, onOutput: (events) => { out.push(...events); } });
  return out;
}

/** Each customer's membership of each audience after the events up to and including `at`. */
function membershipsAt(out: OutputEvent[], at: number): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const e of out) if (Date.parse(e.at) <= at) m.set(`${e.customer}/${e.audience}`, e.type === 'enter');
  return m;
}

const withoutVersion = ({ version: _v, cause: _c, ...rest }: OutputEvent) => JSON.stringify(rest);

test('planRuleChange: vip changed, lapsed_vip changed through `in vip`, big_basket added, brand_lover removed; one new state, one dropped', () => {
  const change = planRuleChange(v1, v2);
  const by = Object.fromEntries(change.audiences.map((a) => [a.name, a.change]));
  assert.deepEqual(by, {
    vip: 'changed', big_basket: 'added', store_only: 'unchanged', lapsed_vip: 'changed', cart_abandoner: 'unchanged',
    browsed_then_bought: 'unchanged', gold_opted_in: 'unchanged', churn_risk: 'unchanged', brand_lover: 'removed',
  });
  assert.deepEqual(change.newSlots.map((i) => v2.slots[i]!.text), ['sum(purchase.amount) over 30 days']);
  assert.deepEqual(change.droppedSlots.map((s) => s.text), ['count(page_view where brand == "Acme") over 30 days']);
  assert.equal(change.historyMs, 30 * 86_400_000);
  assert.equal(planRuleChange(v1, v1).none, true);
});

// Mid-stream, and before the first event (nobody to move: the new rules simply run from the start).
for (const at of [Date.parse('2026-02-01T12:00:00Z'), Date.parse('2026-01-01T00:00:00Z')]) {
  test(`replay --deploy at ${new Date(at).toISOString()}: the contract of customer-lifecycle.md section 1 on 60 days of retail traffic`, async () => {
    const alone1 = await run(v1);
    const alone2 = await run(v2);
    const deployed = await run(v1, [{ at, plan: v2 }], 137);
    const isoAt = new Date(at).toISOString();

    const before = deployed.filter((e) => Date.parse(e.at) < at || (e.at === isoAt && e.reason !== 'rule_change'));
    assert.deepEqual(before, alone1.filter((e) => Date.parse(e.at) <= at));

    const changes = deployed.filter((e) => e.reason === 'rule_change');
    assert.ok(changes.every((e) => e.at === isoAt));
    const m1 = membershipsAt(alone1, at);
    const m2 = membershipsAt(alone2, at);
    const expected = new Set<string>();
    for (const key of new Set([...m1.keys(), ...m2.keys()])) {
      const [customer, audience] = key.split('/') as [string, string];
      const inNew = v2.audiences.some((a) => a.name === audience) && m2.get(key) === true;
      if (inNew !== (m1.get(key) === true)) expected.add(`${inNew ? 'enter' : 'leave'} ${audience} ${customer}`);
    }
    assert.equal(expected.size > 0, at > Date.parse('2026-01-01T00:00:00Z'), 'mid-stream, the change moves someone');
    assert.deepEqual(new Set(changes.map((e) => `${e.type} ${e.audience} ${e.customer}`)), expected);

    const after = deployed.filter((e) => Date.parse(e.at) > at);
    assert.deepEqual(after.map(withoutVersion), alone2.filter((e) => Date.parse(e.at) > at).map(withoutVersion));

    const last = new Map<string, OutputEvent>();
    for (const e of deployed) {
      const key = `${e.customer}/${e.audience}`;
      const prev = last.get(key);
      assert.equal(e.version, (prev?.version ?? 0) + 1, `${key} version after ${JSON.stringify(prev)}`);
      assert.equal(e.type, prev?.type === 'enter' ? 'leave' : 'enter', `${key} alternates`);
      last.set(key, e);
    }
  });
}

test('replay --deploy with an event type only the new rules declare: its events before the change build the new audience, those after it feed it', async () => {
  const header = 'source "s" { key c type type time ts }\nevent buy { amount: number }\n';
  const oldRules = compile(`${header}audience buyer { count(buy) >= 1 }\n`);
  const newRules = compile(`${header}event login { }\naudience buyer { count(buy) >= 1 }\naudience regular { count(login) over 7 days >= 2 }\n`);
  const events = [
    { c: 'a', type: 'login', ts: '2026-01-01T00:00:00Z' },
    { c: 'a', type: 'buy', ts: '2026-01-01T01:00:00Z', amount: 5 },
    { c: 'b', type: 'login', ts: '2026-01-02T00:00:00Z' },
    { c: 'b', type: 'login', ts: '2026-01-02T01:00:00Z' },
    // After the change: a login of a customer the old rules never saw, before any event they declare.
    { c: 'c', type: 'login', ts: '2026-01-03T00:00:00Z' },
    { c: 'a', type: 'login', ts: '2026-01-03T00:00:00Z' },
    { c: 'c', type: 'login', ts: '2026-01-03T02:00:00Z' },
  ];
  const recs = (): InputRecord[] => events.map((value) => ({ value }));
  const out: OutputEvent[] = [];
  await replay(oldRules, recs(), {
    until: Date.parse('2026-01-20T00:00:00Z'), batchSize: 3, history: recs,
    deployments: [{ at: Date.parse('2026-01-02T12:00:00Z'), plan: newRules }],
    onOutput: (e) => { out.push(...e); },
  });
  assert.deepEqual(out.map((e) => `${e.at} ${e.type} ${e.audience} ${e.customer} v${e.version} ${e.reason}`), [
    '2026-01-01T01:00:00.000Z enter buyer a v1 event',
    '2026-01-02T12:00:00.000Z enter regular b v1 rule_change',
    '2026-01-03T00:00:00.000Z enter regular a v1 event',
    '2026-01-03T02:00:00.000Z enter regular c v1 event',
    '2026-01-08T00:00:00.000Z leave regular a v2 timer',
    // `over 7 days` keeps hour buckets: each leaves when its first login's hour does.
    '2026-01-09T00:00:00.000Z leave regular b v2 timer',
    '2026-01-10T00:00:00.000Z leave regular c v2 timer',
  ]);
});

test('a deployment cut short (after a committed part of the build, then after a committed part of the last step) is done again from the start and repeats nothing', async () => {
  const all = records();
  const at = Date.parse('2026-02-01T12:00:00Z');
  const before = all.filter((r) => Date.parse((r.value as { ts: string }).ts) <= at);
  const after = all.filter((r) => Date.parse((r.value as { ts: string }).ts) > at);
  const store = new MemoryStore();
  const committed: OutputEvent[] = [];

  let task = await PartitionTask.open(v1, store);
  for (let i = 0; i < before.length; i += 500) committed.push(...(await task.process(batchOfRecords(before.slice(i, i + 500)))).outputs);
  await task.commit();

  // Attempt 1: step 1 committed, then half of the history built and committed; then the process dies.
  let begun = await RuleDeployment.begin(task, store, v2, at, {});
  await task.commit();
  committed.push(...begun.outputs);
  await begun.deployment.history(batchOfRecords(before.slice(0, Math.floor(before.length / 2))));
  await begun.deployment.newRules!.commit();
  assert.equal((await PartitionTask.storedPlan(store))?.fingerprint, v1.fingerprint, 'the old plan is still the store\'s');

  // Attempt 2: from the store, on the plan it records: all of the history, then 100 customers of the last step, committed; dies again.
  task = await PartitionTask.open((await PartitionTask.storedPlan(store))!, store);
  begun = await RuleDeployment.begin(task, store, v2, at, {});
  await task.commit();
  assert.deepEqual(begun.outputs, [], 'step 1 again: the removed audience was left already');
  await begun.deployment.history(batchOfRecords(before));
  const partly = await begun.deployment.finish(100);
  assert.equal(partly.done, false);
  await partly.task.commit();
  committed.push(...partly.outputs);
  assert.equal((await PartitionTask.storedPlan(store))?.fingerprint, v1.fingerprint);

  // Attempt 3 completes; then the rest of the stream.
  task = await PartitionTask.open((await PartitionTask.storedPlan(store))!, store);
  begun = await RuleDeployment.begin(task, store, v2, at, {});
  await task.commit();
  await begun.deployment.history(batchOfRecords(before));
  const done = await begun.deployment.finish();
  assert.equal(done.done, true);
  task = done.task;
  await task.commit();
  committed.push(...done.outputs);
  assert.equal((await PartitionTask.storedPlan(store))?.fingerprint, v2.fingerprint, 'the new plan is the store\'s once done');
  for (let i = 0; i < after.length; i += 500) committed.push(...(await task.process(batchOfRecords(after.slice(i, i + 500)))).outputs);
  committed.push(...await task.advanceTo(UNTIL));

  const uninterrupted = await run(v1, [{ at, plan: v2 }]);
  assert.ok(uninterrupted.some((e) => e.reason === 'rule_change'));
  assert.deepEqual(committed.map(withoutVersion), uninterrupted.map(withoutVersion));
  assert.deepEqual(committed.map((e) => e.version), uninterrupted.map((e) => e.version));
});
