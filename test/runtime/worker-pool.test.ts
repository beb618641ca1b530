/**
 * A partition in a worker thread behaves as one in this thread: the same
 * enter/leave events, the same bad records, the same changelog bytes and
 * the same customer view, batch after batch, across a close and reopen; and
 * a restore from the changelog into its store writes what one here writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PartitionRecord } from '../../connectors/kafka/partition-reader.js';
import { batchOfPacked, packedOfMessages } from '../../connectors/kafka/packed-consume.js';
import { compileSources } from '../../dsl/compile.js';
import { checkpointOnly, repairWrites, restoreFromChangelog, StoreRestoreTarget, type RestoreTarget } from '../../runtime/changelog.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { BatchResult } from '../../engine/partition-task.js';
import { batchOfRecords, type RecordBatch } from '../../engine/record-batch.js';
import { createLogger } from '../../engine/log.js';
import { META_KEY } from '../../engine/state-keys.js';
import { MemoryStore } from '../../engine/state/memory-store.js';
import { openRocksStore } from '../../engine/state/rocksdb-store.js';
import { LocalPartition } from '../../runtime/worker/local-partition.js';
import type { ChangelogCopy, PartitionRunner } from '../../runtime/worker/partition-runner.js';
import { WorkerPool } from '../../runtime/worker/worker-pool.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';

const log = createLogger({ write: () => undefined });
const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const plan = compileSources(new Map([['retail.aud', readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8')]])).plan!;

const records: InputRecord[] = [...generateRetailEvents({ customers: 200, days: 30, seed: 5, start: new Date('2026-01-01T00:00:00Z') })]
  .map((event, i) => ({ value: i % 2 === 0 ? Buffer.from(JSON.stringify(event)) : JSON.stringify(event), key: null, timestamp: 1_767_225_600_000 + i, cause: { topic: 'retail.events', partition: 3, offset: String(i) } }));
// A bad record in the middle, one decoded before it got here (as Avro values
// are), and one whose time is its Kafka timestamp.
records.splice(500, 0, { value: Buffer.from('{not json'), key: 'k', cause: { topic: 'retail.events', partition: 3, offset: 'x' } });
records.splice(700, 0, { value: { customer_id: 'obj-1', type: 'login', ts: '2026-01-05T00:00:00Z' } });
records.splice(800, 0, { value: '{"customer_id":"no-ts","type":"login"}', timestamp: Date.parse('2026-01-06T00:00:00Z') });

function comparable(copy: ChangelogCopy): unknown {
  return copy.map((c) => [c.key, c.value === null ? null : Buffer.from(c.value).toString('base64')]);
}

/** Batches of 300, committed every other batch (state piles up between commits), a close and reopen, then a clock move. */
async function drive(open: () => Promise<PartitionRunner>): Promise<unknown[]> {
  const trace: unknown[] = [];
  let runner = await open();
  for (let i = 0, n = 0; i < records.length; i += 300, n++) {
    trace.push(await runner.process(batchOfRecords(records.slice(i, i + 300))));
    if (n % 2 === 1) {
      trace.push(comparable(await runner.prepareCommit(BigInt(i + 300))));
      await runner.writeCommit(BigInt(i));
    }
    if (n === 5) { await runner.close(); runner = await open(); trace.push(runner.snapshot); }
  }
  trace.push(await runner.advanceTo(Date.parse('2026-04-01T00:00:00Z')), runner.snapshot);
  trace.push(comparable(await runner.prepareCommit(undefined)));
  await runner.writeCommit(undefined);
  trace.push(await runner.view('obj-1'), await runner.view('no-ts'), await runner.view('nobody'));
  await runner.close();
  return trace;
}

test('a partition in a worker thread gives what it gives in this thread', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-worker-'));
  const pool = new WorkerPool(2);
  try {
    const local = await drive(async () => LocalPartition.open(plan, await openRocksStore(join(dir, 'local')), { cacheCustomers: 50 }));
    const inWorker = await drive(() => pool.open(3, 'retail.events/3', join(dir, 'worker'), plan, { cacheCustomers: 50 }));
    assert.deepEqual(inWorker, local);
    const first = local[0] as BatchResult;
    assert.deepEqual(first.bad, []);
    const withBad = local[1] as BatchResult;
    assert.equal(withBad.bad.length, 1, 'the bad record is reported by its position');
    assert.match(withBad.bad[0]!.reason, /JSON/);
    assert.ok((local as BatchResult[]).some((s) => s.outputs?.length > 0), 'enough traffic for enter/leave events');
    assert.equal((local.at(-2) as { eventsApplied: number }).eventsApplied, 1, 'the record without a time field took its timestamp');
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a restore into a worker thread\'s store writes what a restore in this thread writes, and the partition opens over it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-worker-restore-'));
  const pool = new WorkerPool(1);
  try {
    // A changelog as the runtime writes it: each commit's copy, in order,
    // then half a commit that a killed process did not finish.
    const changelog: PartitionRecord[] = [];
    const append = (c: ChangelogCopy[number]): void => {
      changelog.push({ offset: BigInt(changelog.length), key: Buffer.from(c.key), value: c.value === null ? null : Buffer.from(c.value) });
    };
    const writer = await LocalPartition.open(plan, new MemoryStore(), { cacheCustomers: 50 });
    for (let i = 0; i < records.length; i += 400) {
      await writer.process(batchOfRecords(records.slice(i, i + 400)));
      for (const c of await writer.prepareCommit(BigInt(i + 400))) append(c);
      await writer.writeCommit(BigInt(changelog.length - 1));
    }
    const lastCommit = changelog.length;
    await writer.process(batchOfRecords(records.slice(0, 50)));
    const unfinished = (await writer.prepareCommit(undefined)).filter((c) => c.key !== META_KEY);
    for (const c of unfinished) append(c);
    const read = async (from: bigint | undefined, onBatch: (r: RecordBatch, end: bigint) => Promise<void>): Promise<{ from: bigint; end: bigint }> => {
      const mine = changelog.filter((r) => r.offset >= (from ?? 0n));
      for (let i = 0; i < mine.length; i += 700) await onBatch(batchOfPacked(packedOfMessages(mine.slice(i, i + 700).map((r) => ({ ...r, topic: 'retail.events-changelog', partition: 3 })))), BigInt(changelog.length));
      return { from: from ?? 0n, end: BigInt(changelog.length) };
    };
    const restore = async (target: RestoreTarget): Promise<unknown> => {
      const r = await restoreFromChangelog(target, 'retail.events/3', log, read);
      const repair = await repairWrites(target, r.unfinishedKeys);
      await target.apply(checkpointOnly(BigInt(changelog.length + repair.length - 1)));
      return { records: r.records, unfinished: r.unfinishedKeys, repair: repair.map((w) => [w.key, w.value === null ? null : Buffer.from(w.value).toString('base64')]) };
    };

    const localStore = await openRocksStore(join(dir, 'local'));
    const local = await restore(await StoreRestoreTarget.open(localStore));
    const localRunner = await LocalPartition.open(plan, localStore, { cacheCustomers: 50 });
    const inWorker = await restore(await pool.openForRestore(3, 'retail.events/3', join(dir, 'worker')));
    const workerRunner = await pool.open(3, 'retail.events/3', join(dir, 'worker'), plan, { cacheCustomers: 50 });

    assert.equal((local as { records: number }).records, lastCommit, 'every complete commit, and nothing of the unfinished one');
    assert.ok((local as { unfinished: string[] }).unfinished.length > 0);
    assert.deepEqual(inWorker, local);
    assert.deepEqual(workerRunner.snapshot, localRunner.snapshot);
    assert.ok(localRunner.snapshot.pendingTimers > 0, 'the restored timers are indexed');
    const customer = String((JSON.parse(String(records[0]!.value)) as { customer_id: string }).customer_id);
    assert.deepEqual(await workerRunner.view(customer), await localRunner.view(customer));
    const why = await workerRunner.why(customer);
    assert.equal(why?.customer, customer);
    assert.deepEqual(why, await localRunner.why(customer));
    await localRunner.close();
    await workerRunner.close();
    const contents = async (d: string): Promise<[string, string][]> => {
      const store = await openRocksStore(d);
      const out: [string, string][] = [];
      for await (const [k, v] of store.scan('')) out.push([k, Buffer.from(v).toString('base64')]);
      await store.close();
      return out;
    };
    assert.deepEqual(await contents(join(dir, 'worker')), await contents(join(dir, 'local')));
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
