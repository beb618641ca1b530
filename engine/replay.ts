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
import { RecordDecoder, type InputRecord } from './input-record.js';
import type { OutputEvent } from './output-event.js';
import { RuleDeployment } from './deployment.js';
import { PartitionTask, type BadRecord, type PartitionTaskOptions } from './partition-task.js';
import { batchOfRecords } from './record-batch.js';
import { MemoryStore } from './state/memory-store.js';

/** New rules from an event time on (`aud replay --deploy`). */
export interface Deployment {
  /** Epoch ms; 'end': after the last record, at the clock then (`aud diff --input`). */
  at: number | 'end';
  plan: Plan;
}

export interface ReplayOptions {
  /**
   * Rule changes, in time order: the rules in force are replaced at each
   * one's instant, after every record up to it (engine/deployment.ts). One
   * whose instant the clock never reaches (the last record's time, or
   * `until`) does not happen.
   */
  deployments?: Deployment[];
  /** The records again from the first, for the states a deployment builds from history; required with `deployments`. */
  history?: () => AsyncIterable<InputRecord> | Iterable<InputRecord>;
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
  /** Called once everything is applied and committed, with the partition (`aud why` reads a customer from it). */
  atEnd?(task: PartitionTask): void | Promise<void>;
}

export interface ReplaySummary {
  records: number;
  applied: number;
  skipped: number;
  bad: number;
  /** Enter/leave and decision events. */
  outputs: number;
  /** Of `outputs`, the decision events. */
  decisions: number;
  /** The clock at the end (epoch ms), or null when no event was applied. */
  clock: number | null;
  /** Events added to a `distinct` or `top` holding its most values: approximate past them. */
  boundedAdds: number;
  /** The deployments that happened, with the history events each applied to its new states. */
  deployed: { at: number; historyEvents: number }[];
}

export async function replay(plan: Plan, records: AsyncIterable<InputRecord> | Iterable<InputRecord>, opts: ReplayOptions): Promise<ReplaySummary> {
  const taskOptions: PartitionTaskOptions = {};
  if (opts.clockGuard) taskOptions.clockGuard = opts.clockGuard;
  if (opts.cacheCustomers !== undefined) taskOptions.cacheCustomers = opts.cacheCustomers;
  const store = new MemoryStore();
  let task = await PartitionTask.open(plan, store, taskOptions);
  const summary: ReplaySummary = { records: 0, applied: 0, skipped: 0, bad: 0, outputs: 0, decisions: 0, clock: null, boundedAdds: 0, deployed: [] };
  const deployments = [...(opts.deployments ?? [])];
  if (deployments.length > 0 && !opts.history) throw new Error('internal error: replay with deployments needs the history');
  const batchSize = opts.batchSize ?? 1000;
  let batch: InputRecord[] = [];

  const emit = async (outputs: OutputEvent[]): Promise<void> => {
    summary.outputs += outputs.length;
    for (const o of outputs) if (o.type === 'decision') summary.decisions++;
    if (outputs.length > 0) await opts.onOutput(outputs);
  };
  const deploy = async (at: number, next: Plan): Promise<void> => {
    const begun = await RuleDeployment.begin(task, store, next, at, taskOptions);
    await task.commit();
    summary.boundedAdds += task.boundedAdds;
    await emit(begun.outputs);
    const { deployment } = begun;
    const from = deployment.historyFrom;
    // The history is the records taken so far: those after the change are the new rules' anyway.
    const taken = summary.records;
    let read = 0;
    if (from !== undefined && taken > 0) {
      let chunk: InputRecord[] = [];
      const build = async (): Promise<void> => {
        await deployment.history(batchOfRecords(chunk));
        await deployment.newRules!.commit();
        chunk = [];
      };
      for await (const r of opts.history!()) {
        chunk.push(r);
        if (++read >= taken || chunk.length >= batchSize) await build();
        if (read >= taken) break;
      }
      if (chunk.length > 0) await build();
      if (read < taken) throw new Error(`the input gave ${read} records when read again for the history of the rules deployed at ${new Date(at).toISOString()}, and ${taken} the first time: it cannot be read twice (a pipe?); give the events as a file`);
    }
    for (;;) {
      const step = await deployment.finish(batchSize);
      task = step.task;
      await task.commit();
      await emit(step.outputs);
      if (step.done) break;
    }
    summary.deployed.push({ at: deployment.at, historyEvents: deployment.progress.applied });
  };
  // The next timed deployment, as process() stops before it: at its instant, for the rules in force or the new ones.
  let stop: { after: number; plan: Plan; decoder: RecordDecoder } | undefined;
  const nextTimed = (): typeof stop => {
    const d = deployments[0];
    if (!d || d.at === 'end') return undefined;
    if (stop?.plan !== d.plan) stop = { after: d.at, plan: d.plan, decoder: new RecordDecoder(d.plan) };
    return stop;
  };

  const flush = async (): Promise<void> => {
    while (batch.length > 0) {
      const due = nextTimed();
      const result = await task.process(batchOfRecords(batch), due);
      const taken = batch.slice(0, result.consumed);
      summary.records += taken.length;
      summary.applied += result.applied;
      summary.skipped += result.skipped;
      summary.bad += result.bad.length;
      for (const b of result.bad) opts.onBad?.({ ...b, record: batch[b.index]! });
      await emit(result.outputs);
      await task.commit();
      batch = batch.slice(result.consumed);
      if (batch.length > 0) {
        deployments.shift();
        await deploy(due!.after, due!.plan);
      }
    }
    opts.onProgress?.(summary.records);
  };

  for await (const record of records) {
    batch.push(record);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  const end = Math.max(task.clock, opts.until ?? Number.NEGATIVE_INFINITY);
  for (const d of deployments) {
    const at = d.at === 'end' ? task.clock : d.at;
    if (!(at <= end) || !Number.isFinite(at)) continue;
    await deploy(at, d.plan);
  }
  if (opts.until !== undefined) {
    await emit(await task.advanceTo(opts.until));
    await task.commit();
  }
  summary.clock = Number.isFinite(task.clock) ? task.clock : null;
  summary.boundedAdds += task.boundedAdds;
  await opts.atEnd?.(task);
  return summary;
}
