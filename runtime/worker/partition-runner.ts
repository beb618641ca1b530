/**
 * What the Kafka runtime asks of one partition's rules, wherever they run:
 * in this thread (LocalPartition) or in a worker thread (WorkerPartition).
 *
 * Each call is one round trip with a whole batch, never one per record.
 * `process` and `advanceTo` change the state in memory; the changes pile up
 * until `prepareCommit`, which returns their changelog copy, and
 * `writeCommit`, which writes them, with the changelog checkpoint, to the
 * partition's store. Between the two the runtime produces the changelog. A
 * runner whose commit failed is closed and opened again from the store:
 * nothing uncommitted survives it.
 */
import type { BatchResult, CustomerView } from '../../engine/partition-task.js';
import type { RecordBatch } from '../../engine/record-batch.js';
import type { PackedOutput } from '../packed-output.js';

/**
 * What a batch or a clock move did. In a worker thread with JSON output, the
 * enter/leave events come back `packed` as Kafka records (packed-output.ts)
 * and `outputs` is empty; otherwise they are in `outputs`.
 */
export interface RunnerStep extends BatchResult {
  packed?: PackedOutput;
}

/** The changelog copy of a prepared commit (customers and partition meta), in order. */
export type ChangelogCopy = { key: string; value: Uint8Array | null }[];

/** The partition's state as of its last step, readable without a round trip. */
export interface PartitionSnapshot {
  clock: number;
  nextOffset: bigint | undefined;
  pendingTimers: number;
  sizes: Record<string, number>;
  /** The largest customer state written since the partition was opened, in bytes. */
  largestStateBytes: number;
  /** Events added to a distinct/top state holding its most values, since the partition was opened. */
  boundedAdds: number;
}

export interface PartitionRunner {
  readonly snapshot: PartitionSnapshot;
  /** Apply a batch, in memory. */
  process(batch: RecordBatch): Promise<RunnerStep>;
  /** Move the clock to `t`, firing due timers, in memory. */
  advanceTo(t: number): Promise<RunnerStep>;
  /** Every change since the last commit, to be written with `nextOffset` as the next input offset. */
  prepareCommit(nextOffset: bigint | undefined): Promise<ChangelogCopy>;
  /** Write the prepared commit, with the offset of the last changelog record it produced. */
  writeCommit(changelogCheckpoint: bigint | undefined): Promise<void>;
  view(customer: string): Promise<CustomerView | undefined>;
  close(): Promise<void>;
}
