/**
 * A partition's rules in the calling thread: a PartitionTask over its store.
 * `aud run --workers 0` uses it for every partition, and the worker thread
 * (partition-worker.ts) uses it for the partitions it owns, so both paths run
 * the same code.
 */
import type { Plan } from '../../dsl/plan.js';
import { checkpointWrite } from '../changelog.js';
import type { InputRecord } from '../input-record.js';
import type { OutputEvent } from '../output-event.js';
import { PartitionTask, type BatchResult, type CustomerView } from '../partition-task.js';
import { isLoggedKey } from '../state-keys.js';
import type { PartitionStore, StoreWrite } from '../state/store.js';
import type { PartitionRunner, PartitionSnapshot, StepResult } from './partition-runner.js';

export class LocalPartition implements PartitionRunner {
  private prepared: StoreWrite[] | undefined;

  private constructor(private readonly task: PartitionTask, private readonly store: PartitionStore) {}

  static async open(plan: Plan, store: PartitionStore, cacheCustomers: number | undefined): Promise<LocalPartition> {
    const task = await PartitionTask.open(plan, store, cacheCustomers === undefined ? {} : { cacheCustomers });
    return new LocalPartition(task, store);
  }

  get snapshot(): PartitionSnapshot {
    return { clock: this.task.clock, nextOffset: this.task.nextOffset, pendingTimers: this.task.pendingTimers, sizes: this.task.audienceSizes() };
  }

  async process(records: readonly InputRecord[], nextOffset: bigint): Promise<StepResult> {
    const result = await this.task.process(records);
    return this.step(result, this.task.prepareCommit(nextOffset));
  }

  async advanceTo(t: number): Promise<StepResult> {
    const outputs = await this.task.advanceTo(t);
    const result: BatchResult = { outputs, bad: [], skipped: 0, applied: 0 };
    return this.step(result, outputs.length > 0 ? this.task.prepareCommit() : undefined);
  }

  async writeCommit(changelogCheckpoint: bigint | undefined): Promise<void> {
    const prepared = this.prepared;
    if (!prepared) throw new Error('internal error: writeCommit without a prepared commit');
    this.prepared = undefined;
    await this.task.writeCommit(changelogCheckpoint === undefined ? prepared : [...prepared, checkpointWrite(changelogCheckpoint)]);
  }

  view(customer: string): Promise<CustomerView | undefined> {
    return this.task.view(customer);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private step(result: { outputs: OutputEvent[]; bad: BatchResult['bad']; skipped: number; applied: number }, prepared: StoreWrite[] | undefined): StepResult {
    this.prepared = prepared;
    const changelog: StepResult['changelog'] = [];
    for (const w of prepared ?? []) {
      if (isLoggedKey(w.key)) changelog.push({ key: w.key, value: w.type === 'put' ? w.value : null });
    }
    return {
      outputs: result.outputs, bad: result.bad.map((b) => ({ index: b.index, reason: b.reason })),
      skipped: result.skipped, applied: result.applied, changelog,
    };
  }
}
