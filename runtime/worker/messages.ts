/**
 * The messages between the runtime (main thread) and a partition worker,
 * typed in one place, and how a batch's bytes cross the boundary.
 *
 * Structured clone copies every Uint8Array with its whole ArrayBuffer, and
 * a thousand small objects cost a thousand allocations on each side. So the
 * values of a batch, and the changelog values coming back, travel as one
 * byte array with offsets: one copy, whatever the number of records.
 */
import type { BatchColumns } from '../../connectors/kafka/pending-records.js';
import type { RecordColumns } from '../../connectors/kafka/record-columns.js';
import type { Plan } from '../../dsl/plan.js';
import type { Cause, InputRecord } from '../../engine/input-record.js';
import type { OutputEvent } from '../../engine/output-event.js';
import type { CustomerView, PartitionTaskOptions } from '../../engine/partition-task.js';

/** Byte strings end to end: entry i is bytes[starts[i] .. starts[i] + lengths[i]); length -1 is null. */
export interface PackedBytes {
  bytes: Uint8Array;
  starts: Int32Array;
  lengths: Int32Array;
}

export interface PackedRecords {
  values: PackedBytes;
  /** Values decoded before the crossing (Avro), by position; absent when there are none. */
  objects?: (Record<string, unknown> | undefined)[];
  keys: (string | null)[];
  timestamps: Float64Array;
  /**
   * Where the records came from, when all came from one Kafka partition (a
   * batch from the source): their offsets as numbers, so that a batch's
   * causes cross as one typed array instead of an object per record.
   */
  origin?: { topic: string; partition: number; offsets: Float64Array };
  /** Otherwise: topic/partition/offset of each record, or undefined where it has none. */
  causes?: (Cause | undefined)[];
}

export interface PackedSnapshot {
  clock: number;
  nextOffset: string | null;
  pendingTimers: number;
  sizes: Record<string, number>;
  largestStateBytes: number;
  boundedAdds: number;
}

export type WorkerRequest =
  | { op: 'open'; partition: string; stateDir: string; plan: Plan; taskOptions: PartitionTaskOptions }
  | { op: 'process'; partition: string; records: PackedRecords }
  | { op: 'advance'; partition: string; to: number }
  | { op: 'prepare'; partition: string; nextOffset: string | null }
  | { op: 'write'; partition: string; changelogCheckpoint: string | null }
  | { op: 'view'; partition: string; customer: string }
  | { op: 'close'; partition: string }
  /** Restore (runtime/changelog.ts): the store is opened first and restored; `open` then runs the rules over it. */
  | { op: 'restore-open'; partition: string; stateDir: string }
  | { op: 'restore-apply'; partition: string; records: RecordColumns; closedAt: string }
  | { op: 'restore-values'; partition: string; keys: string[] };

export interface PackedStep {
  outputs: OutputEvent[];
  bad: { index: number; reason: string; clock?: boolean }[];
  skipped: number;
  applied: number;
}

export interface PackedChangelog {
  keys: string[];
  values: PackedBytes;
}

export type WorkerResponse =
  | { op: 'open'; snapshot: PackedSnapshot }
  | { op: 'write'; snapshot: PackedSnapshot }
  | { op: 'close' }
  | { op: 'step'; snapshot: PackedSnapshot; step: PackedStep }
  | { op: 'prepare'; snapshot: PackedSnapshot; changelog: PackedChangelog }
  | { op: 'view'; view: CustomerView | undefined }
  | { op: 'restore-open'; checkpoint: string | null }
  | { op: 'restore-apply' }
  | { op: 'restore-values'; values: PackedBytes };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

export function packRecords(records: readonly InputRecord[]): PackedRecords {
  let objects: (Record<string, unknown> | undefined)[] | undefined;
  const values = records.map((r, i) => {
    const v = r.value;
    if (v === null || v instanceof Uint8Array) return v;
    if (typeof v === 'string') return encoder.encode(v);
    (objects ??= new Array<Record<string, unknown> | undefined>(records.length))[i] = v;
    return null;
  });
  const timestamps = new Float64Array(records.length);
  records.forEach((r, i) => { timestamps[i] = r.timestamp ?? Number.NaN; });
  const packed: PackedRecords = { values: packBytes(values), keys: records.map((r) => r.key ?? null), timestamps };
  const origin = oneOrigin(records);
  if (origin) packed.origin = origin;
  else packed.causes = records.map((r) => r.cause);
  if (objects) packed.objects = objects;
  return packed;
}

/** The records' partition and offsets, if every record has a Kafka cause in the same partition. */
function oneOrigin(records: readonly InputRecord[]): PackedRecords['origin'] {
  const first = records[0]?.cause;
  if (!first || !('offset' in first)) return undefined;
  const offsets = new Float64Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const c = records[i]!.cause;
    if (!c || !('offset' in c) || c.topic !== first.topic || c.partition !== first.partition) return undefined;
    // Only offsets that come back as the same text (canonical, below 2^53).
    const n = Number(c.offset);
    if (!Number.isSafeInteger(n) || String(n) !== c.offset) return undefined;
    offsets[i] = n;
  }
  return { topic: first.topic, partition: first.partition, offsets };
}

/**
 * Records [from, count) of a batch of columns (the source's, all of one
 * partition), packed for the crossing without an object per record: the
 * values are views of the columns' bytes (keys and values in one array), the
 * causes the partition and the offsets.
 */
export function packColumns(c: BatchColumns, from: number, origin: { topic: string; partition: number }): PackedRecords {
  const data = Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  const keys = new Array<string | null>(c.count - from);
  for (let i = from; i < c.count; i++) {
    const n = c.keyLengths[i]!;
    keys[i - from] = n < 0 ? null : data.toString('utf8', c.keyStarts[i]!, c.keyStarts[i]! + n);
  }
  return {
    values: { bytes: c.data, starts: c.valueStarts.subarray(from), lengths: c.valueLengths.subarray(from) },
    keys,
    timestamps: c.timestamps.subarray(from),
    origin: { ...origin, offsets: c.offsets.subarray(from) },
  };
}

/**
 * The records of a batch, in the worker. When all of the batch's value bytes
 * are ASCII (JSON events usually are), they are decoded as one string and
 * each value is a slice of it (V8 shares the characters): one decoder call
 * per batch instead of one per record. Otherwise each value is a view of its
 * bytes, decoded by the record decoder.
 */
export function unpackRecords(p: PackedRecords): InputRecord[] {
  const text = decoder.decode(p.values.bytes);
  const ascii = text.length === p.values.bytes.length;
  return p.keys.map((key, i) => {
    const start = p.values.starts[i]!;
    const length = p.values.lengths[i]!;
    const value = ascii && length >= 0 ? text.slice(start, start + length) : packedAt(p.values, i);
    const record: InputRecord = { value: p.objects?.[i] ?? value, key };
    const ts = p.timestamps[i]!;
    if (!Number.isNaN(ts)) record.timestamp = ts;
    const cause = p.origin ? { topic: p.origin.topic, partition: p.origin.partition, offset: String(p.origin.offsets[i]) } : p.causes?.[i];
    if (cause) record.cause = cause;
    return record;
  });
}
