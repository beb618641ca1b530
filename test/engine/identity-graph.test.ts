/**
 * Identity resolution (identity/identity-graph.ts) by the rules of
 * customer-lifecycle.md, section 2, and the decision record of 2026-12-05;
 * and a partition that resolves identities survives being opened again
 * from its store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSources } from '../../dsl/compile.js';
import { IdentityGraph } from '../../engine/identity/identity-graph.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { batchOfRecords } from '../../engine/record-batch.js';
import { MemoryStore } from '../../engine/state/memory-store.js';

const PLAN = { fields: [{ name: 'user_id', limit: 1 }, { name: 'email', limit: 2 }, { name: 'anon', limit: null }], block: [] };

test('a new identifier starts a profile named by its most trusted value; a more trusted one renames it', () => {
  const g = new IdentityGraph(PLAN);
  assert.deepEqual(g.resolve([null, null, 'a1']), { customer: 'a1', dropped: 0 });
  assert.deepEqual(g.resolve([null, 'e1', 'a1']), { customer: 'e1', merge: { survivor: 'a1', absorbed: [] }, dropped: 0 });
  assert.deepEqual(g.resolve([null, null, 'a1']), { customer: 'e1', dropped: 0 });
  assert.deepEqual(g.resolve(['u1', 'e1', null]), { customer: 'u1', merge: { survivor: 'e1', absorbed: [] }, dropped: 0 });
  assert.equal(g.profile('u1')!.identifiers.length, 3);
});

test('an event joining two profiles merges them; the survivor is the one whose id the merged profile keeps', () => {
  const g = new IdentityGraph(PLAN);
  g.resolve([null, null, 'a1']);
  g.resolve(['u1', null, 'a2']);
  assert.deepEqual(g.resolve([null, null, 'a1']).customer, 'a1');
  // a1's profile and u1's meet: u1 keeps its id, a1 is absorbed.
  assert.deepEqual(g.resolve([null, 'e1', 'a1']), { customer: 'e1', merge: { survivor: 'a1', absorbed: [] }, dropped: 0 });
  assert.deepEqual(g.resolve(['u1', 'e1', null]), { customer: 'u1', merge: { survivor: 'u1', absorbed: ['e1'] }, dropped: 0 });
  assert.equal(g.profiles, 1);
});

test('a merge that would break a limit drops the least trusted identifier, then tries again', () => {
  const g = new IdentityGraph(PLAN);
  g.resolve(['u1', null, 'shared']);
  // A second user id on the shared device: the device is dropped, u2 is a profile of its own.
  assert.deepEqual(g.resolve(['u2', null, 'shared']), { customer: 'u2', dropped: 1 });
  assert.equal(g.profileOf(2, 'shared')!.id, 'u1');
  // E-mails: at most two in a profile.
  g.resolve(['u1', 'e1', null]);
  g.resolve(['u1', 'e2', null]);
  assert.deepEqual(g.resolve(['u1', 'e3', null]), { customer: 'u1', dropped: 1 });
  assert.equal(g.profileOf(1, 'e3'), undefined);
});

test('of several values of the most trusted field, the id is the one seen first', () => {
  const g = new IdentityGraph(PLAN);
  g.resolve([null, 'e2', 'a1']);
  g.resolve([null, 'e1', 'a2']);
  // e2 was seen first: it names the merged profile, whichever the event lists.
  assert.deepEqual(g.resolve([null, 'e1', 'a1']), { customer: 'e2', merge: { survivor: 'e2', absorbed: ['e1'] }, dropped: 0 });
});

test('forget takes the profile and every identifier out; the next event starts afresh', () => {
  const g = new IdentityGraph(PLAN);
  g.resolve(['u1', 'e1', 'a1']);
  assert.deepEqual(g.forget([null, null, 'a1']).map((p) => p.id), ['u1']);
  assert.equal(g.profileOf(0, 'u1'), undefined);
  assert.deepEqual(g.resolve([null, 'e1', null]), { customer: 'e1', dropped: 0 });
});

test('the graph is written as one record per profile and read back the same', () => {
  const g = new IdentityGraph(PLAN);
  g.resolve([null, null, 'a1']);
  g.resolve(['u1', null, 'a2']);
  g.resolve(['u1', null, 'a1']);
  const writes = g.takeWrites();
  const h = new IdentityGraph(PLAN, g.counters);
  for (const w of writes) if (w.type === 'put') h.restore(w.value);
  assert.equal(h.profiles, 1);
  assert.equal(h.profileOf(2, 'a1')!.id, 'u1');
  assert.deepEqual(h.resolve([null, 'e9', 'a2']), g.resolve([null, 'e9', 'a2']));
});

const RULES = `source "s" { identity user_id, anon  type type  time ts }
event view { url: string }
audience twice { count(view) >= 2 }`;

async function run(task: PartitionTask, records: object[]): Promise<OutputEvent[]> {
  const r = await task.process(batchOfRecords(records.map((value) => ({ value: JSON.stringify(value) }))));
  await task.commit();
  return r.outputs;
}

function brief(events: OutputEvent[]): string[] {
  return events.map((e) => (e.type === 'decision' ? '' : `${e.type} ${e.audience} ${e.customer} ${e.reason} v${e.version}`));
}

test('a partition opened again from its store resolves identities and knows erasures as before', async () => {
  const plan = compileSources(new Map([['r.aud', RULES]])).plan!;
  const store = new MemoryStore();
  let task = await PartitionTask.open(plan, store);
  const t = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
  assert.deepEqual(brief(await run(task, [
    { type: 'view', anon: 'a1', ts: t(1), url: '/' },
    { type: 'view', anon: 'a2', ts: t(2), url: '/' },
    { type: 'view', anon: 'a1', ts: t(3), url: '/' },
  ])), ['enter twice a1 event v1']);
  task = await PartitionTask.open(plan, store);
  // After the restart a1 is still known: logging in on it renames the profile.
  assert.deepEqual(brief(await run(task, [{ type: 'view', anon: 'a1', user_id: 'u1', ts: t(4), url: '/' }])), [
    'leave twice a1 merge v2', 'enter twice u1 merge v1',
  ]);
  assert.deepEqual(brief(await run(task, [{ type: 'aud.forget', anon: 'a1', ts: t(5) }])), ['leave twice u1 erasure v2']);
  assert.equal(await task.view('u1'), undefined);
  task = await PartitionTask.open(plan, store);
  assert.equal(task.erased.erasedAfter(1, 'a1', Date.parse(t(4))), true);
  assert.equal(task.erased.erasedAfter(1, 'a1', Date.parse(t(6))), false);
  // The store holds nothing of u1 but salted hashes.
  for await (const [key, value] of store.scan('')) {
    assert.ok(!key.includes('u1') && !key.includes('a1'), key);
    assert.ok(!Buffer.from(value).toString('latin1').includes('u1'), key);
  }
  assert.deepEqual(brief(await run(task, [{ type: 'view', anon: 'a1', ts: t(7), url: '/' }, { type: 'view', anon: 'a1', ts: t(8), url: '/' }])), ['enter twice a1 event v1']);
});
