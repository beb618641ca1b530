/**
 * One partition's records fetched and not yet handed to the handler, in
 * offset order: the source's prefetch, which holds records for as long as
 * the handlers are behind (in-flight.ts bounds it).
 *
 * Records stay in the fetches they came in (a packed consume, packed-consume.ts)
 * and are kept as message indexes into them; a batch is taken as a
 * RecordBatch of its own (`take`): one copy of each record's bytes, and no
 * object per record. Held as objects, a full prefetch would be hundreds of
 * thousands of objects that outlive every young-generation collection while
 * they wait, each copied and then promoted: the main thread's largest cost
 * in garbage collection.
 */
import { allocateBatch, type RecordBatch } from '../../engine/record-batch.js';
import type { PackedConsume } from './packed-consume.js';

/** A fetch as the source keeps it: with each message's key start, computed once, and its headers when the source reads them. */
export interface Fetch {
  packed: PackedConsume;
  keyStarts: Int32Array;
  /** Per message, its headers as text (a repeated header: its last value). */
  headers?: Record<string, string>[];
}

/** Some records of one fetch: message indexes into it, in offset order. */
interface Run { fetch: Fetch; indexes: number[]; next: number }

export class PendingRecords {
  private runs: Run[] = [];
  private count = 0;

  get length(): number { return this.count; }

  /** Messages `indexes` (in offset order) of a fetch, all of this partition. */
  push(fetch: Fetch, indexes: number[]): void {
    if (indexes.length === 0) return;
    this.runs.push({ fetch, indexes, next: 0 });
    this.count += indexes.length;
  }

  /**
   * The first `max` records (or all) out of the queue, as a batch of their
   * own from `origin` (with their headers, if they were read).
   */
  take(max: number, origin: { topic: string; partition: number }): { records: RecordBatch; headers?: Record<string, string>[] } {
    let count = 0;
    let bytes = 0;
    for (const run of this.runs) {
      const meta = run.fetch.packed.meta;
      for (let k = run.next; k < run.indexes.length && count < max; k++, count++) {
        const i = run.indexes[k]!;
        bytes += Math.max(0, meta[i * 4 + 2]!) + Math.max(0, meta[i * 4 + 3]!);
      }
      if (count === max) break;
    }
    const data = Buffer.allocUnsafe(bytes);
    const b = allocateBatch(count, data);
    b.origin = origin;
    const headers: Record<string, string>[] | undefined = this.runs[0]?.fetch.headers ? [] : undefined;
    let at = 0;
    let j = 0;
    while (j < count) {
      const run = this.runs[0]!;
      const { packed, keyStarts } = run.fetch;
      for (; run.next < run.indexes.length && j < count; run.next++, j++) {
        const i = run.indexes[run.next]!;
        const keyLength = packed.meta[i * 4 + 2]!;
        const valueLength = packed.meta[i * 4 + 3]!;
        const span = Math.max(0, keyLength) + Math.max(0, valueLength);
        // A message's key and value are adjacent in its fetch: one copy.
        if (span > 0) packed.data.copy(data, at, keyStarts[i]!, keyStarts[i]! + span);
        b.keyStarts[j] = at;
        b.keyLengths[j] = keyLength;
        b.valueStarts[j] = at + Math.max(0, keyLength);
        b.valueLengths[j] = valueLength;
        b.offsets[j] = packed.positions[i * 2]!;
        b.timestamps[j] = packed.positions[i * 2 + 1]!;
        headers?.push(run.fetch.headers?.[i] ?? {});
        at += span;
      }
      if (run.next === run.indexes.length) this.runs.shift();
    }
    this.count -= count;
    return headers ? { records: b, headers } : { records: b };
  }

  /** Forget every record; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.runs = [];
    this.count = 0;
    return n;
  }
}
