/**
 * The changelog: a compacted topic, one partition per input partition, that
 * holds a copy of every state write, so that a partition's state survives the
 * loss of its disk and follows the partition to another process.
 *
 * Written by the runtime in the same produce as the output of a batch, before
 * the local RocksDB write (see the commit order in partition-commits.ts). Keys are
 * the store's keys (`c/<customer>`, `m/partition`); a deletion is a tombstone.
 *
 * Restore, when a partition is assigned: the local store names the last
 * changelog offset it holds (`m/changelog`); the records after it — all of
 * them when the store is new — are applied. Each applied batch moves the
 * timer index entries of its customers and the checkpoint in the same atomic
 * write, so that a process killed in the middle of a restore leaves a store
 * whose index matches its customers at every checkpoint: the next restore
 * goes on from there. (An index rebuilt once at the end would be lost by a
 * kill between the last batch and the rebuild: the next restore would have
 * nothing to apply, and the timers of every customer changed in between
 * would never fire; docs/decisions/2026-12-04-restore-timer-index-per-batch.md.)
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
import { customerTimer } from '../engine/customer-state.js';
import type { Logger } from '../engine/log.js';
import { concatBatches, emptyBatch, keyEquals, keyTexts, sliceBatch, valueAt, type RecordBatch } from '../engine/record-batch.js';
import { CHANGELOG_CHECKPOINT_KEY, CUSTOMER_PREFIX, META_KEY, timerKey } from '../engine/state-keys.js';
import type { PartitionStore, StoreWrite } from '../engine/state/store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
 * Complete changelog batches, in log order, as columns (a null value is a
 * tombstone), and the offset of the `m/partition` record that closes the
 * last of them: the store's checkpoint once they are applied.
 */
export interface ChangelogChunk {
  records: RecordBatch;
  closedAt: bigint;
}

/** A chunk of no records: applying it writes the checkpoint only. */
export function checkpointOnly(closedAt: bigint): ChangelogChunk {
  return { records: emptyBatch(), closedAt };
}

const META_KEY_BYTES = encoder.encode(META_KEY);

/**
 * The store a restore writes to: in this thread (StoreRestoreTarget), or in
 * the worker thread that will own the partition (worker-pool.ts), so that the
 * thread reading Kafka and the thread writing RocksDB work at the same time.
 */
export interface RestoreTarget {
  /** The offset of the last changelog record the store holds, if any. */
  readonly checkpoint: bigint | undefined;
  /** Apply complete batches with their timer index changes and the checkpoint, in one atomic write. An empty chunk writes the checkpoint only. */
  apply(chunk: ChangelogChunk): Promise<void>;
  /** The values the store holds for keys, null where it holds none. */
  currentValues(keys: string[]): Promise<(Uint8Array | null)[]>;
}

/** A restore into a store of this thread. */
export class StoreRestoreTarget implements RestoreTarget {
  private constructor(
    private readonly store: PartitionStore,
    readonly checkpoint: bigint | undefined,
    /**
     * Into an empty store (a lost disk, a new instance): the timers the store
     * holds are the ones this restore wrote, so they are remembered here
     * instead of read back for every chunk.
     */
    private readonly restoredTimers: Map<string, number | null> | undefined,
  ) {}

  static async open(store: PartitionStore): Promise<StoreRestoreTarget> {
    const checkpoint = await changelogCheckpoint(store);
    const fresh = checkpoint === undefined && await holdsNoCustomers(store);
    return new StoreRestoreTarget(store, checkpoint, fresh ? new Map() : undefined);
  }

  async apply(chunk: ChangelogChunk): Promise<void> {
    await this.store.write([...await withTimerIndex(this.store, chunk, this.restoredTimers), checkpointWrite(chunk.closedAt)]);
  }

  async currentValues(keys: string[]): Promise<(Uint8Array | null)[]> {
    return (await this.store.getMany(keys)).map((v) => v ?? null);
  }
}

/**
 * Apply changelog records read by `read` (from the checkpoint on) to the
 * target, complete batches only, with their timer index changes; report
 * progress every few seconds. One chunk is applied while the next is read;
 * a read that fails waits for the chunk in flight, so that everything handed
 * to the target is in the store (checkpointed) when the failure is seen.
 */
export async function restoreFromChangelog(
  target: RestoreTarget, label: string, log: Logger,
  read: (from: bigint | undefined, onBatch: (records: RecordBatch, end: bigint) => Promise<void>) => Promise<{ from: bigint; end: bigint }>,
): Promise<RestoreSummary> {
  const checkpoint = target.checkpoint;
  const started = Date.now();
  let lastReport = started;
  let records = 0;
  // Records of the batch being read (after the last m/partition record), applied when its m/partition record closes it.
  let pending = emptyBatch();
  let applying: Promise<void> = Promise.resolve();
  let range: { from: bigint; end: bigint };
  try {
    range = await read(checkpoint === undefined ? undefined : checkpoint + 1n, async (fetched, end) => {
      const batch = concatBatches(pending, fetched);
      let closed = 0;
      for (let i = pending.count; i < batch.count; i++) if (keyEquals(batch, i, META_KEY_BYTES)) closed = i + 1;
      if (closed > 0) {
        const chunk: ChangelogChunk = { records: sliceBatch(batch, 0, closed), closedAt: BigInt(batch.offsets[closed - 1]!) };
        pending = sliceBatch(batch, closed, batch.count);
        records += closed;
        await applying;
        applying = target.apply(chunk);
        applying.catch(() => undefined); // seen by the next await of it
      } else {
        pending = batch;
      }
      const now = Date.now();
      if (now - lastReport >= 2000) {
        lastReport = now;
        log.info('restoring state from changelog', { partition: label, records, upTo: String(fetched.offsets[fetched.count - 1]), end: end.toString(), recordsPerSecond: Math.round(records / ((now - started) / 1000)) });
      }
    });
  } catch (err) {
    await applying.catch(() => undefined);
    throw err;
  }
  await applying;
  const { from, end } = range;
  const seconds = (Date.now() - started) / 1000;
  const unfinishedKeys = [...new Set(keyTexts(pending))];
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
export async function repairWrites(target: RestoreTarget, keys: string[]): Promise<{ key: string; value: Uint8Array | null }[]> {
  const values = await target.currentValues(keys);
  return keys.map((key, i) => ({ key, value: values[i] ?? null }));
}

/**
 * The store writes of changelog records followed by the timer index changes
 * they imply: for each customer, its stored timer's entry removed and its
 * last restored timer's entry added. The stored timers are read from the
 * store, or, restoring into an empty store, taken from (and kept in)
 * `restoredTimers`.
 *
 * A key written more than once in the chunk is written once, with its last
 * value: the chunk is one atomic write, so the store ends the same, and a
 * changelog whose newest segments are not compacted yet holds several
 * copies of every busy customer
 * (docs/decisions/2026-12-04-restore-split-between-threads.md).
 */
async function withTimerIndex(store: PartitionStore, chunk: ChangelogChunk, restoredTimers: Map<string, number | null> | undefined): Promise<StoreWrite[]> {
  const { records } = chunk;
  const chunkKeys = keyTexts(records);
  // Each key's last record in the chunk.
  const last = new Map<string, number>();
  for (let i = 0; i < chunkKeys.length; i++) last.set(chunkKeys[i]!, i);
  const writes: StoreWrite[] = [];
  const customers: string[] = [];
  const values: (Uint8Array | null)[] = [];
  for (const [key, i] of last) {
    const value = valueAt(records, i);
    writes.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
    if (!key.startsWith(CUSTOMER_PREFIX)) continue;
    customers.push(key);
    values.push(value);
  }
  const stored = restoredTimers ? undefined : await store.getMany(customers);
  customers.forEach((key, i) => {
    const customer = key.slice(CUSTOMER_PREFIX.length);
    const value = values[i]!;
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
