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
 * them when the store is new — are applied, and the timer index is rebuilt
 * from the restored customers' states.
 *
 * A commit's changelog records end with its `m/partition` record, and within
 * one partition they are written in order, so a batch is complete in the log
 * exactly when its `m/partition` record is there. Restore applies complete
 * batches only. Records after the last `m/partition` are a batch the process
 * did not finish (killed while producing it): they are not applied, and the
 * caller repairs the log by producing those keys' values again as they are
 * (repairWrites), so that a later restore, even of a compacted log, never sees
 * half a batch.
 */
import type { PartitionRecord } from '../connectors/kafka/partition-reader.js';
import { customerTimer } from './customer-state.js';
import type { Logger } from './log.js';
import { CHANGELOG_CHECKPOINT_KEY, CUSTOMER_PREFIX, META_KEY, TIMER_PREFIX, timerKey } from './state-keys.js';
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

/** Record in the store that it holds the changelog up to `offset`. */
export async function writeCheckpoint(store: PartitionStore, offset: bigint): Promise<void> {
  await store.write([checkpointWrite(offset)]);
}

export interface RestoreSummary {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Keys written by an unfinished batch at the end of the changelog: not applied, to be repaired. */
  unfinishedKeys: string[];
}

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
  // Records of the batch being read, applied when its m/partition record closes it.
  let pending: { key: string; value: Buffer | null }[] = [];
  const { from, end } = await read(checkpoint === undefined ? undefined : checkpoint + 1n, async (batch, end) => {
    const writes: StoreWrite[] = [];
    for (const r of batch) {
      const key = r.key?.toString('utf8') ?? '';
      pending.push({ key, value: r.value });
      if (key !== META_KEY) continue;
      for (const p of pending) writes.push(p.value === null ? { type: 'del', key: p.key } : { type: 'put', key: p.key, value: p.value });
      writes.push(checkpointWrite(r.offset));
      records += pending.length;
      pending = [];
    }
    if (writes.length > 0) await store.write(writes);
    const now = Date.now();
    if (now - lastReport >= 2000) {
      lastReport = now;
      log.info('restoring state from changelog', { partition: label, records, upTo: batch[batch.length - 1]!.offset.toString(), end: end.toString(), recordsPerSecond: Math.round(records / ((now - started) / 1000)) });
    }
  });
  if (records > 0) await rebuildTimerIndex(store);
  const seconds = (Date.now() - started) / 1000;
  const unfinishedKeys = [...new Set(pending.map((p) => p.key))];
  const summary = { records, seconds, recordsPerSecond: seconds > 0 ? Math.round(records / seconds) : records, unfinishedKeys };
  if (records > 0 || checkpoint === undefined) {
    log.info('state restored from changelog', {
      partition: label, from: from.toString(), end: end.toString(), records, seconds: Number(seconds.toFixed(2)), recordsPerSecond: summary.recordsPerSecond,
    });
  }
  if (unfinishedKeys.length > 0) {
    log.warn('the changelog ends with an unfinished batch (the last process stopped while writing it): not applied; repairing', { partition: label, keys: unfinishedKeys.length });
  }
  return summary;
}

/**
 * For the keys of an unfinished batch, the values the store holds now (a
 * tombstone where it holds none): produced to the changelog, they cancel the
 * unfinished records for every later reader.
 */
export async function repairWrites(store: PartitionStore, keys: string[]): Promise<{ key: string; value: Uint8Array | null }[]> {
  const values = await store.getMany(keys);
  return keys.map((key, i) => ({ key, value: values[i] ?? null }));
}

/** The timer index is derived data: rebuild it from every customer's `t`. */
async function rebuildTimerIndex(store: PartitionStore): Promise<void> {
  const writes: StoreWrite[] = [];
  for await (const [key] of store.scan(TIMER_PREFIX)) writes.push({ type: 'del', key });
  for await (const [key, value] of store.scan(CUSTOMER_PREFIX)) {
    const t = customerTimer(value);
    if (t !== null) writes.push({ type: 'put', key: timerKey(t, key.slice(CUSTOMER_PREFIX.length)), value: new Uint8Array(0) });
  }
  for (let i = 0; i < writes.length; i += 10_000) await store.write(writes.slice(i, i + 10_000));
}
