/**
 * One owned partition as the source feeds it to the handler: its pending
 * records (pending-records.ts), handed out a batch at a time, and where the
 * last seek left it.
 *
 * - A partition's next batch is everything that arrived while the one
 *   before was handled (up to MAX_BATCH): batches grow with the load, so a
 *   partition that falls behind catches up in large batches, not in as many
 *   small ones as fetches. Batches of one partition never overlap.
 * - A batch whose handler throws is delivered again: the partition is read
 *   again from the batch's first record, and the records pending behind it
 *   are dropped. A handler that calls `seek` before throwing chooses the
 *   position itself (the seek bumps `generation`, so the failed batch does
 *   not move the partition a second time).
 * - A seek is always back, to a record read before: the fetch running when
 *   it happened may still hold records from before it, ahead of those from
 *   the new position; `acceptFrom` drops them.
 */
import type { RecordBatch } from '../../engine/record-batch.js';
import type { ConcurrencyGate } from './concurrency-gate.js';
import type { InFlightRecords } from './in-flight.js';
import { PendingRecords, type Fetch } from './pending-records.js';

/** Most records in one batch handed to the handler. */
const MAX_BATCH = 5000;

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** The records, in offset order; their origin is this partition. */
  readonly records: RecordBatch;
  /** Each record's headers as text, when the source reads headers (`headers: true`). */
  readonly headers?: Record<string, string>[];
  /** Offset after the last record in the partition when the batch was fetched. */
  readonly highWatermark: bigint;
}

/** What a feed needs of its source. */
export interface FeedContext {
  onBatch(batch: PartitionBatch): Promise<void>;
  gate: ConcurrencyGate;
  inFlight: InFlightRecords;
  /** Whether this feed is still the source's for its partition (not revoked since). */
  owns(feed: PartitionFeed): boolean;
  /** The partition's high watermark as librdkafka last saw it. */
  highOffset(topic: string, partition: number): number;
  /** Read the partition again from `offset` (KafkaSource.seek). */
  seek(topic: string, partition: number, offset: bigint): void;
  stopping(): boolean;
}

export class PartitionFeed {
  private readonly pending = new PendingRecords();
  /** Handing pending records to the handler, a batch at a time; resolved when there are none left. */
  private chain: Promise<void> = Promise.resolve();
  private running = false;
  /** Bumped by every seek: a batch handed out before it failing does not move the partition again. */
  private generation = 0;
  /** Offset of the last record queued, for telling a seek's records from those fetched before it. */
  private lastQueued: number | undefined;
  /** The last seek: the number of the fetch running then, and the last record queued before it. */
  private lastSeek: { fetch: number; lastQueued: number } | undefined;

  constructor(readonly topic: string, readonly partition: number, private readonly ctx: FeedContext) {}

  /** Resolved once the batches handed out or queued are handled. */
  get idle(): Promise<void> { return this.chain; }

  /**
   * Messages `indexes` (in offset order) of fetch number `fetchNumber`, all
   * of this partition: queued, less those fetched before the last seek, and
   * handed out if the handler is free.
   */
  accept(fetch: Fetch, indexes: number[], fetchNumber: number): void {
    const from = this.acceptFrom(fetch, indexes, fetchNumber);
    if (from === indexes.length) return;
    this.pending.push(fetch, from === 0 ? indexes : indexes.slice(from));
    const n = indexes.length - from;
    this.lastQueued = fetch.packed.positions[indexes[indexes.length - 1]! * 2]!;
    this.ctx.inFlight.add(n);
    if (!this.running) {
      this.running = true;
      this.chain = this.drain();
    }
  }

  /** Where the fetch's records start to be from the current position: those fetched before the last seek are dropped. */
  private acceptFrom(fetch: Fetch, indexes: number[], fetchNumber: number): number {
    const seek = this.lastSeek;
    if (!seek) return 0;
    // A fetch started after the seek holds only records from the new position (librdkafka drops older ones).
    if (fetchNumber > seek.fetch) { this.lastSeek = undefined; return 0; }
    for (let k = 0; k < indexes.length; k++) {
      if (fetch.packed.positions[indexes[k]! * 2]! <= seek.lastQueued) { this.lastSeek = undefined; return k; }
    }
    return indexes.length;
  }

  /**
   * The consumer is moved back to a record already delivered, during fetch
   * number `fetchNumber`: the records queued, and any that fetch holds from
   * before, are dropped.
   */
  rewound(fetchNumber: number): void {
    this.generation++;
    this.lastSeek = { fetch: fetchNumber, lastQueued: this.lastQueued ?? Infinity };
    this.dropPending();
  }

  /** Hand the pending records to the handler until none are left, or the partition is no longer the source's. */
  private async drain(): Promise<void> {
    const { ctx } = this;
    try {
      while (this.pending.length > 0 && ctx.owns(this)) {
        await ctx.gate.enter();
        // A seek or a revocation may have emptied it while this waited for its turn.
        if (this.pending.length === 0 || !ctx.owns(this)) { ctx.gate.leave(); break; }
        const generation = this.generation;
        const batch = this.takeBatch();
        const first = BigInt(batch.records.offsets[0]!);
        try {
          await ctx.onBatch(batch);
        } catch (err) {
          // Read it again, unless the handler chose where (or gave the partition up).
          if (this.generation === generation && ctx.owns(this)) {
            if (!ctx.stopping()) process.stderr.write(`aud: a batch of ${this.topic}/${this.partition} failed; reading it again from offset ${first}: ${(err as Error).message}\n`);
            ctx.seek(this.topic, this.partition, first);
          }
        } finally {
          ctx.gate.leave();
          ctx.inFlight.done(batch.records.count);
        }
      }
    } finally {
      this.running = false;
      if (!ctx.owns(this)) this.dropPending();
    }
  }

  /** The partition's next batch: up to MAX_BATCH of its pending records. */
  private takeBatch(): PartitionBatch {
    const highOffset = this.ctx.highOffset(this.topic, this.partition);
    const { records, headers } = this.pending.take(MAX_BATCH, { topic: this.topic, partition: this.partition });
    const last = records.offsets[records.count - 1]!;
    const batch = { topic: this.topic, partition: this.partition, records, highWatermark: BigInt(Math.max(highOffset, last + 1)) };
    return headers ? { ...batch, headers } : batch;
  }

  /** Forget the pending records (after a seek, or once the partition is no longer the source's). */
  private dropPending(): void {
    this.ctx.inFlight.done(this.pending.clear());
  }
}
