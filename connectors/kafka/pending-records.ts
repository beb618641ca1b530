/**
 * One partition's records fetched and not yet handed to the handler, in
 * offset order: the source's prefetch, which holds up to MAX_IN_FLIGHT
 * records (source.ts) for as long as the handlers are behind.
 *
 * Records fetched as columns (the patched client's packed consume, when the
 * source needs no headers) stay columns here, and a batch is taken as
 * columns of its own (takeColumns): no object per record, unless a handler
 * asks for the batch's records (source.ts makes them then). Held as objects, a prefetch of 40,000 records
 * is 200,000 objects that outlive every young-generation collection while
 * they wait, each copied and then promoted: the main thread's largest cost
 * in garbage collection. Records fetched as message objects are kept as
 * they are.
 */
import type { RecordColumns } from './record-columns.js';
import type { SourceRecord } from './source.js';

/** A batch taken from packed runs: columns of its own (the bytes copied out of the fetches), with each record's timestamp. */
export interface BatchColumns extends RecordColumns {
  timestamps: Float64Array;
}

/** A packed consume (see record-columns.ts) with each message's key start, computed once per fetch. */
export interface PackedFetch {
  data: Buffer;
  /** Per message: topic index, partition, key length, value length (-1: null). */
  meta: Int32Array;
  /** Per message: offset, timestamp. */
  positions: Float64Array;
  keyStarts: Int32Array;
}

/** Some records of one fetch: message indexes into a packed fetch, or objects. */
type Run =
  | { fetched: PackedFetch; indexes: number[]; next: number }
  | { records: SourceRecord[]; next: number };

/** Headers are not read on the packed path: one shared empty set, never written to. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export class PendingRecords {
  private runs: Run[] = [];
  private count = 0;

  get length(): number { return this.count; }

  /** Messages `indexes` (in offset order) of a packed fetch, all of this partition. */
  pushPacked(fetched: PackedFetch, indexes: number[]): void {
    if (indexes.length === 0) return;
    this.runs.push({ fetched, indexes, next: 0 });
    this.count += indexes.length;
  }

  pushRecords(records: SourceRecord[]): void {
    if (records.length === 0) return;
    this.runs.push({ records, next: 0 });
    this.count += records.length;
  }

  /**
   * The first `max` records (or all) out of the queue, as columns of their
   * own: one copy of each record's bytes, and no object per record. Only for
   * a queue of packed runs (a source that fetches packed pushes nothing else).
   */
  takeColumns(max: number): BatchColumns {
    let count = 0;
    let bytes = 0;
    for (const run of this.runs) {
      if ('records' in run) throw new Error('internal error: takeColumns on records fetched as objects');
      for (let k = run.next; k < run.indexes.length && count < max; k++, count++) {
        const i = run.indexes[k]!;
        bytes += Math.max(0, run.fetched.meta[i * 4 + 2]!) + Math.max(0, run.fetched.meta[i * 4 + 3]!);
      }
      if (count === max) break;
    }
    const c: BatchColumns = {
      count, data: Buffer.allocUnsafe(bytes),
      keyStarts: new Int32Array(count), keyLengths: new Int32Array(count),
      valueStarts: new Int32Array(count), valueLengths: new Int32Array(count),
      offsets: new Float64Array(count), timestamps: new Float64Array(count),
    };
    const data = c.data as Buffer;
    let at = 0;
    let j = 0;
    while (j < count) {
      const run = this.runs[0] as Extract<Run, { fetched: PackedFetch }>;
      const f = run.fetched;
      for (; run.next < run.indexes.length && j < count; run.next++, j++) {
        const i = run.indexes[run.next]!;
        const keyLength = f.meta[i * 4 + 2]!;
        const valueLength = f.meta[i * 4 + 3]!;
        const span = Math.max(0, keyLength) + Math.max(0, valueLength);
        // A message's key and value are adjacent in its fetch: one copy.
        if (span > 0) f.data.copy(data, at, f.keyStarts[i]!, f.keyStarts[i]! + span);
        c.keyStarts[j] = at;
        c.keyLengths[j] = keyLength;
        c.valueStarts[j] = at + Math.max(0, keyLength);
        c.valueLengths[j] = valueLength;
        c.offsets[j] = f.positions[i * 2]!;
        c.timestamps[j] = f.positions[i * 2 + 1]!;
        at += span;
      }
      if (run.next === run.indexes.length) this.runs.shift();
    }
    this.count -= count;
    return c;
  }

  /** The first `max` records (or all) out of a queue of records fetched as objects. */
  take(max: number): SourceRecord[] {
    const out: SourceRecord[] = [];
    while (out.length < max && this.runs.length > 0) {
      const run = this.runs[0]!;
      if (!('records' in run)) throw new Error('internal error: take on records fetched packed');
      const n = Math.min(max - out.length, run.records.length - run.next);
      for (let k = run.next; k < run.next + n; k++) out.push(run.records[k]!);
      run.next += n;
      if (run.next === run.records.length) this.runs.shift();
    }
    this.count -= out.length;
    return out;
  }

  /** Whether the queue's records were fetched packed (take them with takeColumns). */
  get packed(): boolean {
    const first = this.runs[0];
    return first !== undefined && 'fetched' in first;
  }

  /** Forget every record; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.runs = [];
    this.count = 0;
    return n;
  }
}

/** The records of batch columns as SourceRecord objects: key and value are views of the columns' bytes. */
export function recordsOfColumns(topic: string, partition: number, c: BatchColumns): SourceRecord[] {
  const data = c.data as Buffer;
  const out = new Array<SourceRecord>(c.count);
  for (let i = 0; i < c.count; i++) {
    const keyLength = c.keyLengths[i]!;
    const valueLength = c.valueLengths[i]!;
    out[i] = {
      topic, partition,
      offset: BigInt(c.offsets[i]!),
      key: keyLength < 0 ? null : data.subarray(c.keyStarts[i]!, c.keyStarts[i]! + keyLength),
      value: valueLength < 0 ? null : data.subarray(c.valueStarts[i]!, c.valueStarts[i]! + valueLength),
      timestamp: c.timestamps[i]!,
      headers: NO_HEADERS,
    };
  }
  return out;
}
