/**
 * The changelog: a compacted topic, one partition per input partition, that
 * holds a copy of every state write, so that a partition's state survives the
 * loss of its disk and follows the partition to another process.
 *
 * Written by the runtime in the same produce as the output of a batch, before
 * the local RocksDB write (see the commit order in kafka-runtime.ts). Keys are
 * the store's keys (`c/<customer>`, `m/partition`); a deletion is a tombstone.
 *
 * Restore, when a partition is assigned: the local store names the last
 * changelog offset it holds (`m/changelog`); the records after it — all of
 * them when the store is new — are applied in batches, and the timer index is
 * rebuilt from the restored customers' states.
 */
import type { PartitionRecord } from '../connectors/kafka/partition-reader.js';
import { decodeCustomerState } from './customer-state.js';
import type { Logger } from './log.js';
import { CHANGELOG_CHECKPOINT_KEY, CUSTOMER_PREFIX, TIMER_PREFIX, timerKey } from './state-keys.js';
import type { PartitionStore, StoreWrite } from './state/store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function changelogTopicFor(groupId: string): string {
  return `${groupId}-state-changelog`;
}

/** The local store's changelog checkpoint: the offset of the last record it holds, if any. */
export async function changelogCheckpoint(store: PartitionStore): Promise<bigint | undefined> {
  const [bytes] = await store.getMany([CHANGELOG_CHECKPOINT_KEY]);
  return bytes ? BigInt(decoder.decode(bytes)) : undefined;
}

export function checkpointWrite(offset: bigint): StoreWrite {
  return { type: 'put', key: CHANGELOG_CHECKPOINT_KEY, value: encoder.encode(offset.toString()) };
}

export interface RestoreSummary { records: number; seconds: number; recordsPerSecond: number }

/**
 * Apply changelog records read by `read` (from the checkpoint on) to the
 * store, reporting progress every few seconds; then rebuild the timer index.
 */
export async function restoreFromChangelog(
  store: PartitionStore, label: string, log: Logger,
  read: (from: bigint | undefined, onBatch: (records: PartitionRecord[], end: bigint) => Promise<void>) => Promise<{ from: bigint; end: bigint }>,
): Promise<RestoreSummary> {
  const checkpoint = await changelogCheckpoint(store);
  const started = Date.now();
  let lastReport = started;
  let records = 0;
  const { from, end } = await read(checkpoint === undefined ? undefined : checkpoint + 1n, async (batch, end) => {
    const writes: StoreWrite[] = batch.map((r) => {
      const key = r.key?.toString('utf8') ?? '';
      return r.value === null ? { type: 'del', key } : { type: 'put', key, value: r.value };
    });
    writes.push(checkpointWrite(batch[batch.length - 1]!.offset));
    await store.write(writes);
    records += batch.length;
    const now = Date.now();
    if (now - lastReport >= 2000) {
      lastReport = now;
      log.info('restoring state from changelog', { partition: label, records, upTo: batch[batch.length - 1]!.offset.toString(), end: end.toString(), recordsPerSecond: Math.round(records / ((now - started) / 1000)) });
    }
  });
  if (records > 0) await rebuildTimerIndex(store);
  const seconds = (Date.now() - started) / 1000;
  const summary = { records, seconds, recordsPerSecond: seconds > 0 ? Math.round(records / seconds) : records };
  if (records > 0 || checkpoint === undefined) {
    log.info('state restored from changelog', { partition: label, from: from.toString(), end: end.toString(), ...summary, seconds: Number(seconds.toFixed(2)) });
  }
  return summary;
}

/** The timer index is derived data: rebuild it from every customer's `t`. */
async function rebuildTimerIndex(store: PartitionStore): Promise<void> {
  const writes: StoreWrite[] = [];
  for await (const [key] of store.scan(TIMER_PREFIX)) writes.push({ type: 'del', key });
  for await (const [key, value] of store.scan(CUSTOMER_PREFIX)) {
    const t = decodeCustomerState(value).t;
    if (t !== null) writes.push({ type: 'put', key: timerKey(t, key.slice(CUSTOMER_PREFIX.length)), value: new Uint8Array(0) });
  }
  for (let i = 0; i < writes.length; i += 10_000) await store.write(writes.slice(i, i + 10_000));
}
