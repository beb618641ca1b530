/**
 * Replay: the rules over a finite stream of records with the event clock.
 *
 * One partition, a memory store, no Kafka: `now` is the largest event time
 * seen, so the output depends only on the input and the rules, never on how
 * fast it runs. `aud replay` and `aud test` both run through here. Batching
 * only bounds memory; it does not change the output.
 */
import type { Plan } from '../dsl/plan.js';
import type { ClockGuardOptions } from './clock-guard.js';
import type { InputRecord } from './input-record.js';
import type { OutputEvent } from './output-event.js';
import { PartitionTask, type BadRecord, type PartitionTaskOptions } from './partition-task.js';
import { batchOfRecords } from './record-batch.js';
import { MemoryStore } from './state/memory-store.js';

export interface ReplayOptions {
  /** After the last record, advance the clock to this instant (epoch ms) so that timers due by then fire. */
  until?: number;
  batchSize?: number;
  /** Decoded customers kept across batches (PartitionTaskOptions.cacheCustomers); 0 reads every customer from the store at each batch. */
  cacheCustomers?: number;
  /** Records too far ahead of the partition's clock are bad records (`--max-clock-jump`). */
  clockGuard?: ClockGuardOptions;
  onOutput(events: OutputEvent[]): void | Promise<void>;
  onBad?(bad: BadRecord): void;
  /** Called after every batch with the records read so far. */
  onProgress?(recordsRead: number): void;
}

export interface ReplaySummary {
  records: number;
  applied: number;
  skipped: number;
  bad: number;
  outputs: number;
  /** The clock at the end (epoch ms), or null when no event was applied. */
  clock: number | null;
  /** Events added to a `distinct` or `top` holding its most values: approximate past them. */
  boundedAdds: number;
}

export async function replay(plan: Plan, records: AsyncIterable<InputRecord> | Iterable<InputRecord>, opts: ReplayOptions): Promise<ReplaySummary> {
  const taskOptions: PartitionTaskOptions = {};
  if (opts.clockGuard) taskOptions.clockGuard = opts.clockGuard;
  if (opts.cacheCustomers !== undefined) taskOptions.cacheCustomers = opts.cacheCustomers;
  const task = await PartitionTask.open(plan, new MemoryStore(), taskOptions);
  const summary: ReplaySummary = { records: 0, applied: 0, skipped: 0, bad: 0, outputs: 0, clock: null, boundedAdds: 0 };
  const batchSize = opts.batchSize ?? 1000;
  let batch: InputRecord[] = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const result = await task.process(batchOfRecords(batch));
    summary.records += batch.length;
    summary.applied += result.applied;
    summary.skipped += result.skipped;
    summary.bad += result.bad.length;
    summary.outputs += result.outputs.length;
    for (const b of result.bad) opts.onBad?.({ ...b, record: batch[b.index]! });
    if (result.outputs.length > 0) await opts.onOutput(result.outputs);
    await task.commit();
    batch = [];
    opts.onProgress?.(summary.records);
  };

  for await (const record of records) {
    batch.push(record);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (opts.until !== undefined) {
    const outputs = await task.advanceTo(opts.until);
    summary.outputs += outputs.length;
    if (outputs.length > 0) await opts.onOutput(outputs);
    await task.commit();
  }
  summary.clock = Number.isFinite(task.clock) ? task.clock : null;
  summary.boundedAdds = task.boundedAdds;
  return summary;
}
