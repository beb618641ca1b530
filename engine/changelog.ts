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
 * them when the store is new — are applied. Each applied batch moves the
 * timer index entries of its customers and the checkpoint in the same atomic
 * write, so that a process killed in the middle of a restore leaves a store
 * whose index matches its customers at every checkpoint: the next restore
 * goes on from there. (An index rebuilt once at the end was lost by a kill
 * between the last batch and the rebuild; the next restore then had nothing
 * to apply and the timers of every customer changed in between never fired.)
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
import { CHANGELOG_CHECKPOINT_KEY, CUSTOMER_PREFIX, META_KEY, timerKey } from './state-keys.js';
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
 * store, complete batches only, with their timer index changes; report
 * progress every few seconds.
 */
export async function restoreFromChangelog(
  store: PartitionStore, label: string, log: Logger,
  read: (from: bigint | undefined, onBatch: (records: PartitionRecord[], end: bigint) => Promise<void>) => Promise<{ from: bigint; end: bigint }>,
): Promise<RestoreSummary> {
  const checkpoint = await changelogCheckpoint(store);
  // Into an empty store (a lost disk, a new instance): the timers the store
  // held before are the ones this restore wrote, so they are remembered
  // instead of read back for every batch.
  const restoredTimers = checkpoint === undefined && await holdsNoCustomers(store) ? new Map<string, number | null>() : undefined;
  const started = Date.now();
  let lastReport = started;
  let records = 0;
  // Records of the batch being read, applied when its m/partition record closes it.
  let pending: { key: string; value: Buffer | null }[] = [];
  const { from, end } = await read(checkpoint === undefined ? undefined : checkpoint + 1n, async (batch, end) => {
    const applied: { key: string; value: Buffer | null }[] = [];
    let closedAt: bigint | undefined;
    for (const r of batch) {
      const key = r.key?.toString('utf8') ?? '';
      pending.push({ key, value: r.value });
      if (key !== META_KEY) continue;
      applied.push(...pending);
      closedAt = r.offset;
      records += pending.length;
      pending = [];
    }
    if (closedAt !== undefined) await store.write([...await withTimerIndex(store, applied, restoredTimers), checkpointWrite(closedAt)]);
    const now = Date.now();
    if (now - lastReport >= 2000) {
      lastReport = now;
      log.info('restoring state from changelog', { partition: label, records, upTo: batch[batch.length - 1]!.offset.toString(), end: end.toString(), recordsPerSecond: Math.round(records / ((now - started) / 1000)) });
    }
  });
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

/**
 * The store writes of changelog records, in order, followed by the timer
 * index changes they imply: for each customer, its stored timer's entry
 * removed and its last restored timer's entry added. The stored timers are
 * read from the store, or, restoring into an empty store, taken from (and
 * kept in) `restoredTimers`.
 */
async function withTimerIndex(store: PartitionStore, records: { key: string; value: Buffer | null }[], restoredTimers: Map<string, number | null> | undefined): Promise<StoreWrite[]> {
  const writes: StoreWrite[] = records.map((p) => (p.value === null ? { type: 'del', key: p.key } : { type: 'put', key: p.key, value: p.value }));
  const last = new Map<string, Buffer | null>();
  for (const p of records) if (p.key.startsWith(CUSTOMER_PREFIX)) last.set(p.key, p.value);
  const keys = [...last.keys()];
  const stored = restoredTimers ? undefined : await store.getMany(keys);
  keys.forEach((key, i) => {
    const customer = key.slice(CUSTOMER_PREFIX.length);
    const value = last.get(key)!;
    const after = value ? customerTimer(value) : null;
    let before: number | null;
    if (restoredTimers) {
      before = restoredTimers.get(key) ?? null;
      restoredTimers.set(key, after);
    } else {
      before = stored![i] ? customerTimer(stored![i]!) : null;
    }
    if (before === after) return;
    if (before !== null) writes.push({ type: 'del', key: timerKey(before, customer) });
    if (after !== null) writes.push({ type: 'put', key: timerKey(after, customer), value: new Uint8Array(0) });
  });
  return writes;
}

/** Whether the store holds no customer yet. */
async function holdsNoCustomers(store: PartitionStore): Promise<boolean> {
  for await (const entry of store.scan(CUSTOMER_PREFIX)) {
    void entry;
    return false;
  }
  return true;
}
