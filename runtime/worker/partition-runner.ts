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
import type { Plan } from '../../dsl/plan.js';
import type { CustomerWhy } from '../../engine/customer-why.js';
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
  /** Fingerprint of the plan the partition runs: another than the runtime's means a rule change is due or in progress. */
  rules: string;
  /** During a rule change: history events applied to the new states so far. */
  history?: number;
  /** Customers changed since the last commit (held decoded until it). */
  pendingCustomers: number;
}

/** A rule change's first step (engine/deployment.ts): the old rules' output at the change, to deliver and commit before the history. */
export interface DeployBegin {
  step: RunnerStep;
  /** The instant of the change (epoch ms): the partition's clock. */
  at: number;
  /** Event time the history must start from (-Infinity: all of it); null when no state is built. */
  historyFrom: number | null;
}

/** A rule change's last step, for some of the customers: their rule_change enters and leaves, to deliver and commit. */
export interface DeployFinish {
  step: RunnerStep;
  /** Every customer done: the new rules are in force. */
  done: boolean;
  historyEvents: number;
  /** The earliest event time the history held (Infinity: none). */
  earliest: number;
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
  /** Why the customer is in or out of each audience (engine/customer-why.ts), `partition` null; undefined for one never seen. */
  why(customer: string): Promise<CustomerWhy | undefined>;
  /**
   * A rule change on this partition (engine/deployment.ts), in three steps
   * the runtime calls in turn, committing after each call: the old rules'
   * output at the change; the history, batch by batch (the partition's
   * input up to its next offset); the rule_change output, `limit`
   * customers at a time until done.
   */
  deployBegin(plan: Plan): Promise<DeployBegin>;
  deployHistory(batch: RecordBatch): Promise<RunnerStep>;
  deployFinish(limit: number): Promise<DeployFinish>;
  close(): Promise<void>;
}
