/**
 * engine/backfill.ts without a broker, on memory stores: the history of
 * generated retail traffic is backfilled into three partitions, then the
 * rest of the traffic is run live on tasks over those stores. Every
 * customer's live enter/leave events (types, times, versions) must be what
 * one task that saw the whole stream gives for the same part; so must the
 * summary, whatever the batch size. Also: a store that already holds state
 * is refused, and the changelog copy rebuilds the same store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionFor } from '../../connectors/kafka/partitioner.js';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import { backfill, BackfillTargetNotEmptyError, type BackfillOptions } from '../../engine/backfill.js';
import type { InputRecord } from '../../engine/input-record.js';
import { outputEventJson, type OutputEvent } from '../../engine/output-event.js';
import { PartitionTask } from '../../engine/partition-task.js';
import { CUSTOMER_PREFIX, META_KEY } from '../../engine/state-keys.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import type { PartitionStore } from '../../engine/state/store.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { batchOfRecords } from '../../engine/record-batch.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const r = compileSources(new Map([['retail.aud', readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8')]]));
assert.deepEqual(r.diagnostics, []);
const plan: Plan = r.plan!;

const SPLIT = Date.parse('2026-02-15T00:00:00Z');
const UNTIL = Date.parse('2026-03-15T00:00:00Z');
const all = [...generateRetailEvents({ customers: 200, days: 60, seed: 11, start: new Date('2026-01-01T00:00:00Z') })]
  .map((value, i): InputRecord => ({ value, cause: { line: i + 1 } }));
const timeOf = (rec: InputRecord) => Date.parse((rec.value as { ts: string }).ts);
const history = all.filter((rec) => timeOf(rec) < SPLIT);
const live = all.filter((rec) => timeOf(rec) >= SPLIT);
const lastHistory = Math.max(...history.map(timeOf));
const customerOf = (rec: InputRecord) => (rec.value as { customer_id?: string }).customer_id;
const PARTITIONS = 3;
const partitionOf = (c: string) => partitionFor('murmur2', c, PARTITIONS);

/** A memory store that outlives backfill's close, so the live tasks can open it. */
class KeptStore extends MemoryStore {
  override async close(): Promise<void> { /* kept open for the live part */ }
}

async function* iterate(records: InputRecord[]): AsyncGenerator<InputRecord> {
  yield* records;
}

function byCustomer(outputs: OutputEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const o of outputs) {
    const { cause: _c, ...rest } = JSON.parse(outputEventJson(o)) as Record<string, unknown>;
    m.set(o.customer, [...(m.get(o.customer) ?? []), JSON.stringify(rest)]);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The whole stream through one task; the outputs of the live part. */
async function reference(): Promise<OutputEvent[]> {
  const task = await PartitionTask.open(plan, new MemoryStore());
  await task.process(batchOfRecords(history));
  await task.advanceTo(lastHistory);
  const out = [...(await task.process(batchOfRecords(live))).outputs, ...await task.advanceTo(UNTIL)];
  return out;
}

async function backfilled(batchSize: number, extra: Partial<BackfillOptions> = {}) {
  const stores = Array.from({ length: PARTITIONS }, () => new KeptStore());
  const summary = await backfill(plan, iterate(history), customerOf, {
    partitions: PARTITIONS, partitionOf, openStore: async (p) => stores[p]!, until: lastHistory, batchSize, ...extra,
  });
  return { stores, summary };
}

test('backfill, then the live part on the backfilled stores: each customer\'s enter/leave events are those of one task that saw everything', async () => {
  assert.ok(history.length > 1000 && live.length > 1000, `enough of both (${history.length}, ${live.length})`);
  const expected = await reference();
  assert.ok(expected.some((o) => o.version > 1), 'the live part changes memberships the history began');

  const { stores, summary } = await backfilled(500);
  assert.equal(summary.records, history.length);
  assert.equal(summary.applied + summary.skipped + summary.bad, history.length);
  assert.ok(summary.changes > 0, 'the history has enter/leave events of its own (not emitted)');
  const tasks = await Promise.all(stores.map((s) => PartitionTask.open(plan, s)));
  const out: OutputEvent[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    out.push(...(await tasks[p]!.process(batchOfRecords(live.filter((rec) => partitionOf(customerOf(rec)!) === p)))).outputs);
    out.push(...await tasks[p]!.advanceTo(UNTIL));
  }
  assert.deepEqual(byCustomer(out), byCustomer(expected));

  // Members at the end of the history, over the partitions, equal the one task's.
  const one = await PartitionTask.open(plan, new MemoryStore());
  await one.process(batchOfRecords(history));
  await one.advanceTo(lastHistory);
  assert.deepEqual(summary.members, one.audienceSizes());
});

test('backfill: the batch size changes nothing', async () => {
  const a = await backfilled(7);
  const b = await backfilled(100_000);
  assert.deepEqual(a.summary, b.summary);
  for (let p = 0; p < PARTITIONS; p++) {
    const scan = async (s: PartitionStore) => { const out: [string, string][] = []; for await (const [k, v] of s.scan('')) out.push([k, Buffer.from(v).toString('hex')]); return out; };
    assert.deepEqual(await scan(a.stores[p]!), await scan(b.stores[p]!));
  }
});

test('backfill refuses a store that already holds state, and closes what it opened', async () => {
  const { stores } = await backfilled(1000);
  const fresh = new MemoryStore();
  const closed: number[] = [];
  await assert.rejects(backfill(plan, iterate(history), customerOf, {
    partitions: PARTITIONS, partitionOf,
    openStore: async (p) => {
      const s = p === 1 ? stores[1]! : fresh;
      const close = s.close.bind(s);
      s.close = async () => { closed.push(p); await close(); };
      return s;
    },
  }), (err: unknown) => {
    assert.ok(err instanceof BackfillTargetNotEmptyError);
    assert.match(err.message, /^the state of partition 1 is not empty: backfill builds the state of a new deployment\. Point --state-dir at an empty directory/);
    return true;
  });
  assert.deepEqual(closed.sort(), [0, 1]);
});

test('backfill: the changelog copy is chunks each closed by the partition meta, and rebuilds the same store', async () => {
  const written = new Map<number, { key: string; value: Uint8Array }[][]>();
  const checkpoints = new Map<number, bigint>();
  let offset = 0n;
  const { stores } = await backfilled(1000, {
    writeChangelog: async (p, records) => {
      written.set(p, [...(written.get(p) ?? []), records]);
      offset += BigInt(records.length);
      return offset - 1n;
    },
    onChangelogWritten: async (p, _store, last) => { checkpoints.set(p, last); },
  });
  for (let p = 0; p < PARTITIONS; p++) {
    const chunks = written.get(p) ?? [];
    assert.ok(chunks.length > 0, `partition ${p} written`);
    for (const c of chunks) assert.equal(c[c.length - 1]!.key, META_KEY, 'each chunk ends with the meta record');
    const rebuilt = new MemoryStore();
    for (const c of chunks) await rebuilt.write(c.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })));
    const scan = async (s: PartitionStore, prefix: string) => { const out: string[] = []; for await (const [k, v] of s.scan(prefix)) out.push(`${k}=${Buffer.from(v).toString('hex')}`); return out; };
    assert.deepEqual(await scan(rebuilt, CUSTOMER_PREFIX), await scan(stores[p]!, CUSTOMER_PREFIX));
    assert.deepEqual(await scan(rebuilt, META_KEY), await scan(stores[p]!, META_KEY));
    assert.ok(checkpoints.has(p));
  }
});
