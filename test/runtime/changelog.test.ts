/**
 * Restoring a store from its changelog, without a broker: the records come
 * from an array, and the process can "die" part-way through a restore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartitionRecord } from '../../connectors/kafka/partition-reader.js';
import { batchOfPacked, packedOfMessages } from '../../connectors/kafka/packed-consume.js';
import type { RecordBatch } from '../../engine/record-batch.js';
import { changelogCheckpoint, checkpointWrite, restoreFromChangelog, StoreRestoreTarget } from '../../runtime/changelog.js';
import { AudienceList, AudienceLists } from '../../engine/audience-list.js';
import { CustomerStateCodec } from '../../engine/customer-state.js';
import { createLogger } from '../../engine/log.js';
import { customerKey, META_KEY, TIMER_PREFIX, timerKey } from '../../engine/state-keys.js';
import { MemoryStore } from '../../engine/state/memory-store.js';

const log = createLogger({ write: () => undefined });

const codec = new CustomerStateCodec(new AudienceLists(new AudienceList(['vip'])), []);
const customer = (t: number | null): Buffer => Buffer.from(codec.encode({ ...codec.empty(), n: 1, t }));
const meta = (nextOffset: number): Buffer => Buffer.from(JSON.stringify({ now: 0, fingerprint: 'f', nextOffset: String(nextOffset) }));

/** A reader over `log` from an offset; `dieAfter` batches delivered, it throws as a killed process would stop. */
function reader(records: PartitionRecord[], opts: { batch?: number; dieAfter?: number } = {}) {
  return async (from: bigint | undefined, onBatch: (r: RecordBatch, end: bigint) => Promise<void>): Promise<{ from: bigint; end: bigint }> => {
    const start = from ?? 0n;
    const end = records.length === 0 ? start : records[records.length - 1]!.offset + 1n;
    const mine = records.filter((r) => r.offset >= start);
    let delivered = 0;
    for (let i = 0; i < mine.length; i += opts.batch ?? 1000) {
      await onBatch(batchOfPacked(packedOfMessages(mine.slice(i, i + (opts.batch ?? 1000)).map((r) => ({ ...r, topic: 'changelog', partition: 0 })))), end);
      if (++delivered === opts.dieAfter) throw new Error('killed');
    }
    return { from: start, end };
  };
}

async function timerIndex(store: MemoryStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of store.scan(TIMER_PREFIX)) keys.push(key);
  return keys;
}

test('a restore killed after its last batch leaves a timer index that matches the customers; the next restore has nothing to do', async () => {
  // A warm store: x's timer at 100, changelog up to offset 9.
  const store = new MemoryStore();
  await store.write([
    { type: 'put', key: customerKey('x'), value: customer(100) },
    { type: 'put', key: timerKey(100, 'x'), value: new Uint8Array(0) },
    { type: 'put', key: customerKey('z'), value: customer(50) },
    { type: 'put', key: timerKey(50, 'z'), value: new Uint8Array(0) },
    checkpointWrite(9n),
  ]);
  // Another process went on: x's timer moved to 200, y is new with 300, z's timer is gone.
  const changelog: PartitionRecord[] = [
    { offset: 10n, key: Buffer.from(customerKey('x')), value: customer(150) },
    { offset: 11n, key: Buffer.from(META_KEY), value: meta(5) },
    { offset: 12n, key: Buffer.from(customerKey('x')), value: customer(200) },
    { offset: 13n, key: Buffer.from(customerKey('y')), value: customer(300) },
    { offset: 14n, key: Buffer.from(customerKey('z')), value: customer(null) },
    { offset: 15n, key: Buffer.from(META_KEY), value: meta(9) },
  ];
  await assert.rejects(restoreFromChangelog(await StoreRestoreTarget.open(store), 'p/0', log, reader(changelog, { batch: 3, dieAfter: 2 })), /killed/);
  assert.equal(await changelogCheckpoint(store), 15n, 'both batches were applied before the kill');

  const again = await restoreFromChangelog(await StoreRestoreTarget.open(store), 'p/0', log, reader(changelog));
  assert.equal(again.records, 0);
  assert.deepEqual(await timerIndex(store), [timerKey(200, 'x'), timerKey(300, 'y')]);
});

test('restoring into an empty store indexes the last timer of every customer, and an unfinished batch not at all', async () => {
  const store = new MemoryStore();
  const changelog: PartitionRecord[] = [
    { offset: 0n, key: Buffer.from(customerKey('x')), value: customer(100) },
    { offset: 1n, key: Buffer.from(customerKey('x')), value: customer(120) },
    { offset: 2n, key: Buffer.from(META_KEY), value: meta(3) },
    { offset: 3n, key: Buffer.from(customerKey('x')), value: customer(500) },
    { offset: 4n, key: Buffer.from(customerKey('w')), value: customer(600) },
  ];
  const r = await restoreFromChangelog(await StoreRestoreTarget.open(store), 'p/0', log, reader(changelog, { batch: 2 }));
  assert.deepEqual(r.unfinishedKeys, [customerKey('x'), customerKey('w')]);
  assert.deepEqual(await timerIndex(store), [timerKey(120, 'x')]);
  assert.equal(await changelogCheckpoint(store), 2n);
});
