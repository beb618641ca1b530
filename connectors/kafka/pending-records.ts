/**
 * One partition's records fetched and not yet handed to the handler, in
 * offset order: the source's prefetch, which holds up to MAX_IN_FLIGHT
 * records (source.ts) for as long as the handlers are behind.
 *
 * Records fetched as columns (the patched client's packed consume, when the
 * source needs no headers) stay columns here and become SourceRecord objects
 * only when a batch is taken. Held as objects, a prefetch of 40,000 records
 * is 200,000 objects that outlive every young-generation collection while
 * they wait, each copied and then promoted: the main thread's largest cost
 * in garbage collection. Records fetched as message objects are kept as
 * they are.
 */
import type { SourceRecord } from './source.js';

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

  constructor(private readonly topic: string, private readonly partition: number) {}

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

  /** The first `max` records (or all), as objects, out of the queue. */
  take(max: number): SourceRecord[] {
    const out: SourceRecord[] = [];
    while (out.length < max && this.runs.length > 0) {
      const run = this.runs[0]!;
      const n = Math.min(max - out.length, runLength(run) - run.next);
      if ('records' in run) {
        for (let k = run.next; k < run.next + n; k++) out.push(run.records[k]!);
      } else {
        for (let k = run.next; k < run.next + n; k++) out.push(this.recordAt(run.fetched, run.indexes[k]!));
      }
      run.next += n;
      if (run.next === runLength(run)) this.runs.shift();
    }
    this.count -= out.length;
    return out;
  }

  /** Forget every record; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.runs = [];
    this.count = 0;
    return n;
  }

  /** Message i of a packed fetch as a SourceRecord: key and value are views of the fetch's bytes. */
  private recordAt(f: PackedFetch, i: number): SourceRecord {
    const keyLength = f.meta[i * 4 + 2]!;
    const valueLength = f.meta[i * 4 + 3]!;
    const keyStart = f.keyStarts[i]!;
    const valueStart = keyStart + Math.max(0, keyLength);
    return {
      topic: this.topic,
      partition: this.partition,
      offset: BigInt(f.positions[i * 2]!),
      key: keyLength < 0 ? null : f.data.subarray(keyStart, keyStart + keyLength),
      value: valueLength < 0 ? null : f.data.subarray(valueStart, valueStart + valueLength),
      timestamp: f.positions[i * 2 + 1]!,
      headers: NO_HEADERS,
    };
  }
}

function runLength(run: Run): number {
  return 'records' in run ? run.records.length : run.indexes.length;
}

/** Each message's key start in `data` (each key is followed by its value). */
export function keyStartsOf(meta: Int32Array): Int32Array {
  const count = meta.length / 4;
  const starts = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += Math.max(0, meta[i * 4 + 2]!) + Math.max(0, meta[i * 4 + 3]!);
  }
  return starts;
}
