/**
 * RecordBatch: input records as columns, the one shape a batch has from the
 * Kafka consumer to the partition task (and a changelog chunk on its way to
 * a restore).
 *
 * Every key and value is in one byte array, and each record's positions,
 * offset and timestamp are in typed arrays: a batch of any size is a handful
 * of allocations, crosses to a worker thread by structured clone as a few
 * copies of flat memory, and gives the garbage collector nothing to trace per
 * record. A batch from Kafka names its partition once (`origin`); records
 * from elsewhere (a file, a test) carry a cause each. Values that were
 * decoded before the rules see them (Avro) ride along as objects.
 *
 * The object form (InputRecord, input-record.ts) is what files, tests and
 * backfill have; `batchOfRecords` turns it into a batch at the edge, so that
 * every runner has one `process(batch)`.
 */
import { isAscii } from 'node:buffer';
import type { Cause, InputRecord, RecordValue } from './input-record.js';

export interface RecordBatch {
  count: number;
  /** The records' key and value bytes. */
  data: Uint8Array;
  /** Record i's key is data[keyStarts[i], keyStarts[i] + keyLengths[i]); length -1: null. Values likewise. */
  keyStarts: Int32Array;
  keyLengths: Int32Array;
  valueStarts: Int32Array;
  valueLengths: Int32Array;
  /** Kafka offsets (exact: they stay far below 2^53); NaN for a record that has none. */
  offsets: Float64Array;
  /** Kafka timestamps, ms; NaN for a record that has none. */
  timestamps: Float64Array;
  /** The Kafka partition every record is from: record i's cause is it with offsets[i]. */
  origin?: { topic: string; partition: number };
  /** Without an origin: each record's cause, or undefined where it has none. */
  causes?: (Cause | undefined)[];
  /** Values decoded before the rules (Avro), by position; a record's bytes stay in `data` for its dead letter. */
  objects?: (Record<string, unknown> | undefined)[];
}

const encoder = new TextEncoder();

export function emptyBatch(): RecordBatch {
  const none = new Int32Array(0);
  return { count: 0, data: new Uint8Array(0), keyStarts: none, keyLengths: none, valueStarts: none, valueLengths: none, offsets: new Float64Array(0), timestamps: new Float64Array(0) };
}

/** A batch of `count` records with its columns allocated and `data` given. */
export function allocateBatch(count: number, data: Uint8Array): RecordBatch {
  return {
    count, data,
    keyStarts: new Int32Array(count), keyLengths: new Int32Array(count),
    valueStarts: new Int32Array(count), valueLengths: new Int32Array(count),
    offsets: new Float64Array(count), timestamps: new Float64Array(count),
  };
}

/**
 * Records in object form as a batch: text keys and values as UTF-8, values
 * that are objects already kept as objects, causes kept per record.
 */
export function batchOfRecords(records: readonly InputRecord[]): RecordBatch {
  const keys = records.map((r) => (r.key === undefined || r.key === null ? null : encoder.encode(r.key)));
  let objects: (Record<string, unknown> | undefined)[] | undefined;
  const values = records.map((r, i) => {
    const v = r.value;
    if (v === null || v instanceof Uint8Array) return v;
    if (typeof v === 'string') return encoder.encode(v);
    (objects ??= new Array<Record<string, unknown> | undefined>(records.length))[i] = v;
    return null;
  });
  let bytes = 0;
  for (let i = 0; i < records.length; i++) bytes += (keys[i]?.length ?? 0) + (values[i]?.length ?? 0);
  const b = allocateBatch(records.length, new Uint8Array(bytes));
  let at = 0;
  records.forEach((r, i) => {
    const key = keys[i];
    const value = values[i];
    b.keyStarts[i] = at;
    b.keyLengths[i] = key ? key.length : -1;
    if (key) { b.data.set(key, at); at += key.length; }
    b.valueStarts[i] = at;
    b.valueLengths[i] = value ? value.length : -1;
    if (value) { b.data.set(value, at); at += value.length; }
    b.offsets[i] = Number.NaN;
    b.timestamps[i] = r.timestamp ?? Number.NaN;
  });
  if (records.some((r) => r.cause !== undefined)) b.causes = records.map((r) => r.cause);
  if (objects) b.objects = objects;
  return b;
}

/** Records [from, to) of `b`: views, not copies. */
export function sliceBatch(b: RecordBatch, from: number, to: number): RecordBatch {
  const s: RecordBatch = {
    count: to - from, data: b.data,
    keyStarts: b.keyStarts.subarray(from, to), keyLengths: b.keyLengths.subarray(from, to),
    valueStarts: b.valueStarts.subarray(from, to), valueLengths: b.valueLengths.subarray(from, to),
    offsets: b.offsets.subarray(from, to), timestamps: b.timestamps.subarray(from, to),
  };
  if (b.origin) s.origin = b.origin;
  if (b.causes) s.causes = b.causes.slice(from, to);
  if (b.objects) s.objects = b.objects.slice(from, to);
  return s;
}

/** The records of `b` at `positions` (ascending), sharing its bytes. */
export function selectRecords(b: RecordBatch, positions: readonly number[]): RecordBatch {
  const s = allocateBatch(positions.length, b.data);
  positions.forEach((p, i) => {
    s.keyStarts[i] = b.keyStarts[p]!;
    s.keyLengths[i] = b.keyLengths[p]!;
    s.valueStarts[i] = b.valueStarts[p]!;
    s.valueLengths[i] = b.valueLengths[p]!;
    s.offsets[i] = b.offsets[p]!;
    s.timestamps[i] = b.timestamps[p]!;
  });
  if (b.origin) s.origin = b.origin;
  const { causes, objects } = b;
  if (causes) s.causes = positions.map((p) => causes[p]);
  if (objects) s.objects = positions.map((p) => objects[p]);
  return s;
}

/**
 * The records of `a` then those of `b` (of one origin), copied into a batch
 * of their own: only their keys and values, however large the arrays they
 * are views of.
 */
export function concatBatches(a: RecordBatch, b: RecordBatch): RecordBatch {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const c = allocateBatch(a.count + b.count, new Uint8Array(spanOf(a) + spanOf(b)));
  let at = 0;
  let i = 0;
  for (const part of [a, b]) {
    for (let k = 0; k < part.count; k++, i++) {
      const keyLength = part.keyLengths[k]!;
      const valueLength = part.valueLengths[k]!;
      c.keyStarts[i] = at;
      c.keyLengths[i] = keyLength;
      if (keyLength > 0) { c.data.set(part.data.subarray(part.keyStarts[k]!, part.keyStarts[k]! + keyLength), at); at += keyLength; }
      c.valueStarts[i] = at;
      c.valueLengths[i] = valueLength;
      if (valueLength > 0) { c.data.set(part.data.subarray(part.valueStarts[k]!, part.valueStarts[k]! + valueLength), at); at += valueLength; }
      c.offsets[i] = part.offsets[k]!;
      c.timestamps[i] = part.timestamps[k]!;
    }
  }
  if (a.origin) c.origin = a.origin;
  if (a.causes || b.causes) c.causes = [...(a.causes ?? new Array<undefined>(a.count)), ...(b.causes ?? new Array<undefined>(b.count))];
  if (a.objects || b.objects) c.objects = [...(a.objects ?? new Array<undefined>(a.count)), ...(b.objects ?? new Array<undefined>(b.count))];
  return c;
}

/** Bytes of keys and values of the records of `b` (which may share a larger `data`). */
function spanOf(b: RecordBatch): number {
  let n = 0;
  for (let i = 0; i < b.count; i++) n += Math.max(0, b.keyLengths[i]!) + Math.max(0, b.valueLengths[i]!);
  return n;
}

/** Record i's key, a view of `data`; null for none. */
export function keyAt(b: RecordBatch, i: number): Uint8Array | null {
  const n = b.keyLengths[i]!;
  return n < 0 ? null : b.data.subarray(b.keyStarts[i]!, b.keyStarts[i]! + n);
}

/** Record i's value, a view of `data`; null for none (a tombstone). */
export function valueAt(b: RecordBatch, i: number): Uint8Array | null {
  const n = b.valueLengths[i]!;
  return n < 0 ? null : b.data.subarray(b.valueStarts[i]!, b.valueStarts[i]! + n);
}

/** `data` as a Buffer (a view), for its UTF-8 slices: a batch that crossed to a worker arrives as a plain Uint8Array. */
export function bytesOf(b: RecordBatch): Buffer {
  return Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
}

/** Every record's key as text (UTF-8), '' for none. */
export function keyTexts(b: RecordBatch): string[] {
  const bytes = bytesOf(b);
  const keys = new Array<string>(b.count);
  for (let i = 0; i < b.count; i++) {
    const n = b.keyLengths[i]!;
    keys[i] = n <= 0 ? '' : bytes.toString('utf8', b.keyStarts[i]!, b.keyStarts[i]! + n);
  }
  return keys;
}

/** Whether record i's key is exactly `key`'s bytes. */
export function keyEquals(b: RecordBatch, i: number, key: Uint8Array): boolean {
  if (b.keyLengths[i] !== key.length) return false;
  const start = b.keyStarts[i]!;
  for (let k = 0; k < key.length; k++) if (b.data[start + k] !== key[k]) return false;
  return true;
}

/** Where record i came from: its partition and offset, or the cause it was given. */
export function causeAt(b: RecordBatch, i: number): Cause | undefined {
  return b.origin ? { topic: b.origin.topic, partition: b.origin.partition, offset: String(b.offsets[i]) } : b.causes?.[i];
}

/**
 * Reading a batch's records one by one without an object per record. When
 * all of its bytes are ASCII (JSON events and their keys usually are), they
 * are read as one string and each key and value is a slice of it (V8 shares
 * the characters): one string made per batch instead of one per record.
 * Otherwise keys are decoded one by one and each value is a view of its
 * bytes, which the record decoder reads as UTF-8 (or finds bad).
 */
export class BatchReader {
  private readonly text: string | undefined;
  private readonly bytes: Buffer;

  constructor(private readonly batch: RecordBatch) {
    this.bytes = bytesOf(batch);
    this.text = isAscii(batch.data) ? this.bytes.toString('latin1') : undefined;
  }

  /** Record i's value: its decoded object, its text, its bytes, or null. */
  value(i: number): RecordValue {
    const b = this.batch;
    const decoded = b.objects?.[i];
    if (decoded !== undefined) return decoded;
    const n = b.valueLengths[i]!;
    if (n < 0) return null;
    const start = b.valueStarts[i]!;
    return this.text !== undefined ? this.text.slice(start, start + n) : b.data.subarray(start, start + n);
  }

  /** Record i's key as text (UTF-8); null for none. */
  key(i: number): string | null {
    const b = this.batch;
    const n = b.keyLengths[i]!;
    if (n < 0) return null;
    const start = b.keyStarts[i]!;
    return this.text !== undefined ? this.text.slice(start, start + n) : this.bytes.toString('utf8', start, start + n);
  }

  /** Record i's timestamp; undefined for none. */
  timestamp(i: number): number | undefined {
    const ts = this.batch.timestamps[i]!;
    return Number.isNaN(ts) ? undefined : ts;
  }
}

/** Record i in object form (a bad record's report): its value as read, not as decoded. */
export function recordAt(b: RecordBatch, i: number): InputRecord {
  const key = keyAt(b, i);
  const record: InputRecord = { value: valueAt(b, i), key: key === null ? null : bytesOf(b).toString('utf8', b.keyStarts[i]!, b.keyStarts[i]! + key.length) };
  const ts = b.timestamps[i]!;
  if (!Number.isNaN(ts)) record.timestamp = ts;
  const cause = causeAt(b, i);
  if (cause) record.cause = cause;
  return record;
}
