/**
 * Where partitions' stores and rules live: this thread (LocalHost, `aud run
 * --workers 0`) or worker threads (WorkerPool). Opening a partition goes the
 * same way in both (runtime/open-partition.ts): its store is opened for a
 * restore from the changelog, then the rules run over the restored store.
 */
import type { Plan } from '../../dsl/plan.js';
import type { PartitionTaskOptions } from '../../engine/partition-task.js';
import type { RestoreTarget } from '../changelog.js';
import type { PartitionRunner } from './partition-runner.js';

export interface PartitionHost {
  /** Open a partition's store where it will be used, for a restore; `open` then runs the rules over it. */
  openForRestore(partition: number, label: string, stateDir: string): Promise<RestoreTarget & { close(): Promise<void> }>;
  /** Open a partition's rules over the store its restore opened. */
  open(partition: number, label: string, stateDir: string, plan: Plan, taskOptions: PartitionTaskOptions): Promise<PartitionRunner>;
  close(): Promise<void>;
}
