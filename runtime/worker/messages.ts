/**
 * The messages between the runtime (main thread) and a partition worker,
 * typed in one place.
 *
 * Structured clone copies every Uint8Array with its whole ArrayBuffer, and
 * a thousand small objects cost a thousand allocations on each side. So a
 * batch crosses as it is (a RecordBatch: one byte array and typed arrays),
 * and the changelog values coming back travel as one byte array with
 * offsets: one copy, whatever the number of records.
 */
import type { Plan } from '../../dsl/plan.js';
import type { CustomerWhy } from '../../engine/customer-why.js';
import type { CustomerView, PartitionTaskOptions } from '../../engine/partition-task.js';
import type { DeployBegin, DeployFinish, RunnerStep } from './partition-runner.js';
import type { RecordBatch } from '../../engine/record-batch.js';

/** Byte strings end to end: entry i is bytes[starts[i] .. starts[i] + lengths[i]); length -1 is null. */
export interface PackedBytes {
  bytes: Uint8Array;
  starts: Int32Array;
  lengths: Int32Array;
}

export interface PackedSnapshot {
  clock: number;
  nextOffset: string | null;
  pendingTimers: number;
  sizes: Record<string, number>;
  largestStateBytes: number;
  boundedAdds: number;
  rules: string;
  history?: number;
  pendingCustomers: number;
}

export type WorkerRequest =
  /** `packOutput`: return enter/leave events packed as Kafka records (packed-output.ts). */
  | { op: 'open'; partition: string; stateDir: string; plan: Plan; taskOptions: PartitionTaskOptions; packOutput: boolean }
  | { op: 'process'; partition: string; batch: RecordBatch }
  | { op: 'advance'; partition: string; to: number }
  | { op: 'prepare'; partition: string; nextOffset: string | null }
  | { op: 'write'; partition: string; changelogCheckpoint: string | null }
  | { op: 'view'; partition: string; customer: string }
  | { op: 'why'; partition: string; customer: string }
  /** A rule change (PartitionRunner.deployBegin, deployHistory, deployFinish). */
  | { op: 'deploy-begin'; partition: string; plan: Plan }
  | { op: 'deploy-history'; partition: string; batch: RecordBatch }
  | { op: 'deploy-finish'; partition: string; limit: number }
  | { op: 'close'; partition: string }
  /** Restore (runtime/changelog.ts): the store is opened first and restored; `open` then runs the rules over it. */
  | { op: 'restore-open'; partition: string; stateDir: string }
  | { op: 'restore-apply'; partition: string; records: RecordBatch; closedAt: string }
  | { op: 'restore-values'; partition: string; keys: string[] };

export interface PackedChangelog {
  keys: string[];
  values: PackedBytes;
}

export type WorkerResponse =
  | { op: 'open'; snapshot: PackedSnapshot }
  | { op: 'write'; snapshot: PackedSnapshot }
  | { op: 'close' }
  | { op: 'step'; snapshot: PackedSnapshot; step: RunnerStep }
  | { op: 'prepare'; snapshot: PackedSnapshot; changelog: PackedChangelog }
  | { op: 'view'; view: CustomerView | undefined }
  | { op: 'why'; why: CustomerWhy | undefined }
  | { op: 'deploy-begin'; snapshot: PackedSnapshot; begin: DeployBegin }
  | { op: 'deploy-finish'; snapshot: PackedSnapshot; finish: DeployFinish }
  | { op: 'restore-open'; checkpoint: string | null }
  | { op: 'restore-apply' }
  | { op: 'restore-values'; values: PackedBytes };

export function packBytes(values: readonly (Uint8Array | null)[]): PackedBytes {
  let total = 0;
  for (const v of values) if (v) total += v.byteLength;
  const bytes = new Uint8Array(total);
  const starts = new Int32Array(values.length);
  const lengths = new Int32Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    starts[i] = at;
    if (!v) { lengths[i] = -1; return; }
    bytes.set(v, at);
    lengths[i] = v.byteLength;
    at += v.byteLength;
  });
  return { bytes, starts, lengths };
}

/** Entry i of packed bytes: a view, not a copy. */
export function packedAt(p: PackedBytes, i: number): Uint8Array | null {
  const length = p.lengths[i]!;
  return length < 0 ? null : p.bytes.subarray(p.starts[i]!, p.starts[i]! + length);
}
