/**
 * A partition's rules in the calling thread: a PartitionTask over its store.
 * `aud run --workers 0` uses it for every partition, and the worker thread
 * (partition-worker.ts) uses it for the partitions it owns, so both paths run
 * the same code.
 */
import type { Plan } from '../../dsl/plan.js';
import { checkpointWrite } from '../changelog.js';
import { PartitionTask, type BatchResult, type CustomerView, type PartitionTaskOptions } from '../../engine/partition-task.js';
import type { RecordBatch } from '../../engine/record-batch.js';
import { isLoggedKey } from '../../engine/state-keys.js';
import type { PartitionStore, StoreWrite } from '../../engine/state/store.js';
import type { ChangelogCopy, PartitionRunner, PartitionSnapshot } from './partition-runner.js';

export class LocalPartition implements PartitionRunner {
  private prepared: StoreWrite[] | undefined;

  private constructor(private readonly task: PartitionTask, private readonly store: PartitionStore) {}

  static async open(plan: Plan, store: PartitionStore, options: PartitionTaskOptions): Promise<LocalPartition> {
    const task = await PartitionTask.open(plan, store, options);
    return new LocalPartition(task, store);
  }

  get snapshot(): PartitionSnapshot {
    return { clock: this.task.clock, nextOffset: this.task.nextOffset, pendingTimers: this.task.pendingTimers, sizes: this.task.audienceSizes(),
      largestStateBytes: this.task.largestStateBytes, boundedAdds: this.task.boundedAdds,
    };
  }

  process(batch: RecordBatch): Promise<BatchResult> {
    return this.task.process(batch);
  }

  async advanceTo(t: number): Promise<BatchResult> {
    return { outputs: await this.task.advanceTo(t), bad: [], skipped: 0, applied: 0, consumed: 0 };
  }

  async prepareCommit(nextOffset: bigint | undefined): Promise<ChangelogCopy> {
    const prepared = this.task.prepareCommit(nextOffset);
    this.prepared = prepared;
    const changelog: ChangelogCopy = [];
    for (const w of prepared) {
      if (isLoggedKey(w.key)) changelog.push({ key: w.key, value: w.type === 'put' ? w.value : null });
    }
    return changelog;
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
}
