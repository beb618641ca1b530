/**
 * What the Kafka runtime asks of one partition's rules, wherever they run:
 * in this thread (LocalPartition) or in a worker thread (WorkerPartition).
 *
 * A step is one round trip: `process` applies a batch and prepares its
 * commit in the same call, so a batch costs two crossings of the thread
 * boundary (the step, then `writeCommit`), not one per record. Between the
 * two the runtime produces the output and the changelog copy; `writeCommit`
 * then writes what the step prepared, with the changelog checkpoint, to the
 * partition's store. A runner whose commit failed is closed and opened
 * again from the store: nothing prepared survives it.
 */
import type { OutputEvent } from '../output-event.js';
import type { CustomerView } from '../partition-task.js';
import type { InputRecord } from '../input-record.js';

export interface StepResult {
  outputs: OutputEvent[];
  /** Bad records by position in the batch, with the reason. */
  bad: { index: number; reason: string }[];
  skipped: number;
  applied: number;
  /** The changelog copy of the prepared commit (customers and partition meta), in order. */
  changelog: { key: string; value: Uint8Array | null }[];
}

/** The partition's state as of its last step, readable without a round trip. */
export interface PartitionSnapshot {
  clock: number;
  nextOffset: bigint | undefined;
  pendingTimers: number;
  sizes: Record<string, number>;
}

export interface PartitionRunner {
  readonly snapshot: PartitionSnapshot;
  /** Apply a batch; prepare the commit that makes `nextOffset` the next input offset. */
  process(records: readonly InputRecord[], nextOffset: bigint): Promise<StepResult>;
  /**
   * Move the clock to `t`, firing due timers. The commit is prepared only
   * when there is output to go with it; otherwise the changes wait for the
   * next step's commit.
   */
  advanceTo(t: number): Promise<StepResult>;
  /** Write the prepared commit, with the offset of the last changelog record it produced. */
  writeCommit(changelogCheckpoint: bigint | undefined): Promise<void>;
  view(customer: string): Promise<CustomerView | undefined>;
  close(): Promise<void>;
}
