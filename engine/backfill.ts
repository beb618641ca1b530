/**
 * Backfill: history into the state of a new deployment, through the same
 * PartitionTask as the live stream, so that when the engine starts, every
 * customer's aggregates, sequences and memberships already reflect the past
 * and the first enter events are right (a customer who was a VIP last month
 * does not "enter" vip at the first live event).
 *
 * Records are routed to the partition the live topic uses for the customer
 * (the producer's partitioner), each partition's store is built with the
 * event clock, and the enter/leave events of the history are counted but not
 * emitted: they happened in the past. With a changelog, every partition's
 * final state is also written to it, in chunks each closed by the partition
 * meta (a complete batch for restore), so that any process, or this one
 * after losing its disk, restores the backfilled state.
 */
import type { Plan } from '../dsl/plan.js';
import type { ClockGuardOptions } from './clock-guard.js';
import type { InputRecord } from './input-record.js';
import type { OutputEvent } from './output-event.js';
import { PartitionTask, type BadRecord } from './partition-task.js';
import { batchOfRecords } from './record-batch.js';
import { AUDIENCE_LIST_PREFIX, CUSTOMER_PREFIX, META_KEY } from './state-keys.js';
import type { PartitionStore } from './state/store.js';

export interface BackfillOptions {
  partitions: number;
  /** The live topic's partition for a customer id. */
  partitionOf(customer: string): number;
  /** The store of a partition; must be empty. */
  openStore(partition: number): Promise<PartitionStore>;
  /** After the last record, advance every partition's clock to this instant (timers due by then fire). */
  until?: number;
  batchSize?: number;
  /** Records too far ahead of their partition's clock are bad records (`--max-clock-jump`). */
  clockGuard?: ClockGuardOptions;
  onBad?(bad: BadRecord): void;
  onProgress?(recordsRead: number): void;
  /**
   * Write a partition's final state to its changelog: `records` in order;
   * resolves with the offset of the last one.
   */
  writeChangelog?(partition: number, records: { key: string; value: Uint8Array }[]): Promise<bigint>;
  /** Called once a partition's changelog holds its state, with the last offset (the store's checkpoint). */
  onChangelogWritten?(partition: number, store: PartitionStore, lastOffset: bigint): Promise<void>;
}

export interface BackfillSummary {
  records: number;
  applied: number;
  skipped: number;
  bad: number;
  customers: number;
  /** Members per audience at the end. */
  members: Record<string, number>;
  /** Enter/leave events the history produced (not emitted). */
  changes: number;
  changelogRecords: number;
  /** Per partition, the clock at the end (epoch ms) or null. */
  clocks: (number | null)[];
}

export class BackfillTargetNotEmptyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillTargetNotEmptyError';
  }
}

/** How a raw record names its customer, for routing (the task decodes it again, fully). */
export type CustomerOf = (record: InputRecord) => string | undefined;

export async function backfill(plan: Plan, records: AsyncIterable<InputRecord>, customerOf: CustomerOf, opts: BackfillOptions): Promise<BackfillSummary> {
  const summary: BackfillSummary = { records: 0, applied: 0, skipped: 0, bad: 0, customers: 0, members: {}, changes: 0, changelogRecords: 0, clocks: [] };
  const stores: PartitionStore[] = [];
  const tasks: PartitionTask[] = [];
  for (let p = 0; p < opts.partitions; p++) {
    const store = await opts.openStore(p);
    for await (const _ of store.scan('')) {
      await Promise.all(stores.map((s) => s.close()));
      await store.close();
      throw new BackfillTargetNotEmptyError(`the state of partition ${p} is not empty: backfill builds the state of a new deployment. ` +
        'Point --state-dir at an empty directory (and use a group whose changelog is empty)');
    }
    stores.push(store);
    tasks.push(await PartitionTask.open(plan, store, opts.clockGuard ? { clockGuard: opts.clockGuard } : {}));
  }
  const batchSize = opts.batchSize ?? 1000;
  const pending: InputRecord[][] = tasks.map(() => []);
  const count = (outputs: OutputEvent[]): void => { summary.changes += outputs.length; };

  const flush = async (p: number): Promise<void> => {
    const batch = pending[p]!;
    if (batch.length === 0) return;
    pending[p] = [];
    const result = await tasks[p]!.process(batchOfRecords(batch));
    summary.applied += result.applied;
    summary.skipped += result.skipped;
    summary.bad += result.bad.length;
    for (const b of result.bad) opts.onBad?.({ ...b, record: batch[b.index]! });
    count(result.outputs);
    await tasks[p]!.commit();
  };

  try {
    for await (const record of records) {
      summary.records++;
      const customer = customerOf(record);
      // A record without a customer goes to partition 0, whose decoder reports it as bad with the reason.
      const p = customer === undefined ? 0 : opts.partitionOf(customer);
      pending[p]!.push(record);
      if (pending[p]!.length >= batchSize) await flush(p);
      if (summary.records % 10_000 === 0) opts.onProgress?.(summary.records);
    }
    for (let p = 0; p < tasks.length; p++) await flush(p);
    opts.onProgress?.(summary.records);
    if (opts.until !== undefined) {
      for (const task of tasks) {
        count(await task.advanceTo(opts.until));
        await task.commit();
      }
    }
    for (let p = 0; p < tasks.length; p++) {
      const task = tasks[p]!;
      summary.clocks.push(Number.isFinite(task.clock) ? task.clock : null);
      for (const [a, n] of Object.entries(task.audienceSizes())) summary.members[a] = (summary.members[a] ?? 0) + n;
      for await (const _ of stores[p]!.scan(CUSTOMER_PREFIX)) summary.customers++;
      if (opts.writeChangelog) {
        const written = await copyToChangelog(p, stores[p]!, opts.writeChangelog);
        summary.changelogRecords += written.records;
        if (written.lastOffset !== undefined) await opts.onChangelogWritten?.(p, stores[p]!, written.lastOffset);
      }
    }
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  return summary;
}

/** The store's audience lists, customers and meta, in chunks each closed by the meta record, as restore expects. */
async function copyToChangelog(
  partition: number, store: PartitionStore, write: NonNullable<BackfillOptions['writeChangelog']>,
): Promise<{ records: number; lastOffset: bigint | undefined }> {
  const [meta] = await store.getMany([META_KEY]);
  if (!meta) return { records: 0, lastOffset: undefined };
  let chunk: { key: string; value: Uint8Array }[] = [];
  let records = 0;
  let lastOffset: bigint | undefined;
  const send = async (): Promise<void> => {
    chunk.push({ key: META_KEY, value: meta });
    lastOffset = await write(partition, chunk);
    records += chunk.length;
    chunk = [];
  };
  // Audience lists first: the customer states that follow are indexed by them.
  for await (const [key, value] of store.scan(AUDIENCE_LIST_PREFIX)) chunk.push({ key, value });
  for await (const [key, value] of store.scan(CUSTOMER_PREFIX)) {
    chunk.push({ key, value });
    if (chunk.length >= 5000) await send();
  }
  await send();
  return { records, lastOffset };
}
