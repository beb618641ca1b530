/**
 * The partition task over the retail example and generated traffic:
 * properties a user relies on, checked on thousands of events.
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
import { PartitionTask } from '../../engine/partition-task.js';
import { replay } from '../../engine/replay.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import type { StoreWrite } from '../../engine/state/store.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { batchOfRecords } from '../../engine/record-batch.js';
import { RECENT_TRANSITIONS } from '../../engine/transition-history.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function plan(text: string): Plan {
  const r = compileSources(new Map([['rules.aud', text]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

const retailPlan = plan(readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8'));
const UNTIL = Date.parse('2026-04-15T00:00:00Z');
const events: InputRecord[] = [...generateRetailEvents({ customers: 300, days: 60, seed: 3, start: new Date('2026-01-01T00:00:00Z') })]
  .map((value, i) => ({ value, cause: { line: i + 1 } }));

async function run(batchSize: number): Promise<OutputEvent[]> {
  const out: OutputEvent[] = [];
  await replay(retailPlan, events, { batchSize, until: UNTIL, onOutput: (e) => { out.push(...e); } });
  return out;
}

test('the output does not depend on batch sizes', async () => {
  const whole = await run(100_000);
  assert.ok(whole.length > 300, `enough output to mean something (${whole.length})`);
  assert.deepEqual(await run(1), whole);
  assert.deepEqual(await run(37), whole);
});

test('for each customer and audience, enters and leaves alternate, starting with an enter, versions counting up', async () => {
  const last = new Map<string, OutputEvent>();
  for (const e of await run(500)) {
    const key = `${e.customer}/${e.audience}`;
    const prev = last.get(key);
    assert.equal(e.type, prev ? (prev.type === 'enter' ? 'leave' : 'enter') : 'enter', key);
    assert.equal(e.version, (prev?.version ?? 0) + 1, key);
    if (prev) assert.ok(e.at >= prev.at, `${key}: time moves forward`);
    last.set(key, e);
  }
  const audiences = new Set([...last.keys()].map((k) => k.split('/')[1]));
  for (const a of ['vip', 'cart_abandoner', 'browsed_then_bought', 'brand_lover', 'store_only', 'lapsed_vip']) {
    assert.ok(audiences.has(a), `generated traffic exercises ${a}`);
  }
});

test('stopping and reopening the state mid-stream changes nothing in the output', async () => {
  const expected = await run(1000);
  const store = new MemoryStore();
  const out: OutputEvent[] = [];
  const cut = Math.floor(events.length / 2);
  let task = await PartitionTask.open(retailPlan, store);
  for (let i = 0; i < cut; i += 250) {
    out.push(...(await task.process(batchOfRecords(events.slice(i, Math.min(i + 250, cut))))).outputs);
    await task.commit();
  }
  // A new task on the same store: the clock, the timers and every customer come back from the store.
  task = await PartitionTask.open(retailPlan, store);
  for (let i = cut; i < events.length; i += 250) {
    out.push(...(await task.process(batchOfRecords(events.slice(i, Math.min(i + 250, events.length))))).outputs);
    await task.commit();
  }
  out.push(...await task.advanceTo(UNTIL));
  assert.deepEqual(out, expected);
});

test('batches between preparing a commit and writing it go into the next commit: reopened from the store, the task goes on as if nothing happened', async () => {
  const expected = await run(1000);
  const store = new MemoryStore();
  const out: OutputEvent[] = [];
  const cut = Math.floor(events.length / 2);
  // A small cache, so that customers leave it while commits are unwritten.
  let task = await PartitionTask.open(retailPlan, store, { cacheCustomers: 20 });
  let prepared: StoreWrite[] | undefined;
  for (let i = 0; i < cut; i += 250) {
    out.push(...(await task.process(batchOfRecords(events.slice(i, Math.min(i + 250, cut))))).outputs);
    // The previous commit is written only now, after this batch changed its customers again.
    if (prepared) await task.writeCommit(prepared);
    prepared = task.prepareCommit();
  }
  assert.throws(() => task.prepareCommit(), /previous commit is not written/);
  await task.writeCommit(prepared!);
  await task.commit();
  task = await PartitionTask.open(retailPlan, store, { cacheCustomers: 20 });
  for (let i = cut; i < events.length; i += 250) {
    out.push(...(await task.process(batchOfRecords(events.slice(i, Math.min(i + 250, events.length))))).outputs);
    await task.commit();
  }
  out.push(...await task.advanceTo(UNTIL));
  assert.deepEqual(out, expected);
});

test('timers fire at their due instant, in order, before the event that moved the clock', async () => {
  const p = plan([
    'source "s" { key c }',
    'event buy { amount: number }',
    'event ping { }',
    'audience recent { count(buy) over 2 hours >= 1 }',
  ].join('\n'));
  const task = await PartitionTask.open(p, new MemoryStore());
  const rec = (c: string, type: string, ts: string) => ({ value: JSON.stringify({ c, type, ts, amount: 1 }) });
  const r = await task.process(batchOfRecords([
    rec('a', 'buy', '2026-01-01T10:00:30Z'),
    rec('b', 'buy', '2026-01-01T10:30:00Z'),
    rec('z', 'ping', '2026-01-01T20:00:00Z'), // moves the clock far: a and b leave first, at their own instants
  ]));
  assert.deepEqual(r.outputs.map((o) => `${o.type} ${o.customer} ${o.at} ${o.reason}`), [
    'enter a 2026-01-01T10:00:30.000Z event',
    'enter b 2026-01-01T10:30:00.000Z event',
    // Minute buckets for a 2-hour window: a's 10:00:30 purchase counts from the 10:00 bucket.
    'leave a 2026-01-01T12:00:00.000Z timer',
    'leave b 2026-01-01T12:30:00.000Z timer',
  ]);
});

test('a late event counts where its time still falls in the window, and nowhere else', async () => {
  const p = plan([
    'source "s" { key c }',
    'event buy { amount: number }',
    'audience day_spender { sum(buy.amount) over 1 day >= 100 }',
    'audience ever_spender { sum(buy.amount) >= 100 }',
  ].join('\n'));
  const task = await PartitionTask.open(p, new MemoryStore());
  const rec = (amount: number, ts: string) => ({ value: JSON.stringify({ c: 'x', type: 'buy', ts, amount }) });
  const r = await task.process(batchOfRecords([
    rec(60, '2026-01-05T12:00:00Z'),
    rec(50, '2026-01-03T12:00:00Z'), // two days late: too old for the 1-day window
    rec(40, '2026-01-05T06:00:00Z'), // late but inside the window
  ]));
  assert.deepEqual(r.outputs.map((o) => `${o.type} ${o.audience} ${o.at}`), [
    'enter ever_spender 2026-01-05T12:00:00.000Z',
    'enter day_spender 2026-01-05T12:00:00.000Z',
  ]);
});

test('the record cache changes nothing: a cache of 3 customers, of none, and the default give the same output and the same store', async () => {
  const runWith = async (cacheCustomers: number | undefined) => {
    const store = new MemoryStore();
    const task = await PartitionTask.open(retailPlan, store, cacheCustomers === undefined ? {} : { cacheCustomers });
    const out: OutputEvent[] = [];
    for (let i = 0; i < events.length; i += 250) {
      out.push(...(await task.process(batchOfRecords(events.slice(i, i + 250)))).outputs);
      await task.commit();
    }
    out.push(...(await task.advanceTo(UNTIL)));
    await task.commit();
    const stored: [string, string][] = [];
    for await (const [k, v] of store.scan('')) stored.push([k, Buffer.from(v).toString('base64')]);
    return { out, stored };
  };
  const reference = await runWith(undefined);
  assert.ok(reference.out.length > 300);
  assert.deepEqual(await runWith(3), reference);
  assert.deepEqual(await runWith(0), reference);
});

test('a customer far below a windowed threshold is not woken as old events leave the window', async () => {
  const p = plan(`event page_view { url: string }
audience browser { count(page_view) over 1 day >= 5 }`);
  const store = new MemoryStore();
  const task = await PartitionTask.open(p, store);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (customer: string, minutes: number): InputRecord => ({ key: customer, value: JSON.stringify({ type: 'page_view', ts: t0 + minutes * 60_000, url: '/' }) });
  // c1: two views, far below 5: nothing can make it true by time alone.
  // c2: six views at minutes 0..5: a member, who leaves when the view of minute 1
  // leaves the day (minute 0 leaving still leaves five).
  const r = await task.process(batchOfRecords([at('c1', 0), at('c1', 10), ...[0, 1, 2, 3, 4, 5].map((m) => at('c2', m))]));
  assert.deepEqual(r.outputs.map((o) => `${o.type} ${o.customer}`), ['enter c2']);
  await task.commit();
  const timers: string[] = [];
  for await (const [key] of store.scan('t/')) timers.push(key.split('/')[2]!);
  assert.deepEqual(timers, ['c2'], 'only c2 has a timer');
  const left = await task.advanceTo(t0 + 2 * 86_400_000);
  assert.deepEqual(left.map((o) => `${o.type} ${o.customer} ${o.at}`), ['leave c2 2026-01-02T00:01:00.000Z']);
});

test('each customer keeps its last transitions, newest first, with reason and cause, as the output gave them, through the store', async () => {
  const store = new MemoryStore();
  // No record cache: every batch reads each customer back from the store.
  const task = await PartitionTask.open(retailPlan, store, { cacheCustomers: 0 });
  const out: OutputEvent[] = [];
  for (let i = 0; i < events.length; i += 250) {
    out.push(...(await task.process(batchOfRecords(events.slice(i, i + 250)))).outputs);
    await task.commit();
  }
  out.push(...await task.advanceTo(UNTIL));
  await task.commit();
  const byCustomer = new Map<string, OutputEvent[]>();
  for (const e of out) byCustomer.set(e.customer, [...(byCustomer.get(e.customer) ?? []), e]);
  const reasons = new Set<string>();
  let checked = 0;
  for (const [customer, emitted] of byCustomer) {
    const view = await task.view(customer);
    const expected = emitted.slice(-RECENT_TRANSITIONS).reverse()
      .map(({ customer: _, ...e }) => ({ ...e, ...(e.cause ? { cause: e.cause } : {}) }));
    assert.deepEqual(view!.transitions.map((t) => ({ ...t })), expected, customer);
    for (const t of view!.transitions) reasons.add(t.reason);
    checked++;
  }
  assert.ok(checked > 100, `${checked} customers checked`);
  assert.deepEqual([...reasons].sort(), ['event', 'timer'], 'both event and timer transitions are kept');
});
