/**
 * Consuming a topic as a member of a consumer group.
 *
 * - The engine is told of assignment changes before they take effect
 *   (`onAssign` opens state; `onRevoke` flushes and closes it): the
 *   partitions are handed to librdkafka only once the handler is done.
 * - Records arrive per partition, in offset order, in batches of up to 5000
 *   (a backlog goes in big batches: a customer who recurs in one is read,
 *   encoded and written once); batches of one partition never overlap;
 *   partitions run concurrently.
 * - Fetching runs ahead of the handlers, as Kafka Streams' poll loop does:
 *   one loop takes whatever librdkafka has fetched (up to FETCH_RECORDS) and
 *   adds it to each partition's pending records, while earlier batches are
 *   still being handled, up to MAX_IN_FLIGHT records; then it waits for the
 *   handlers. A partition's next batch is all that is pending when its
 *   handler is free, so batches grow with the load. (The client's
 *   KafkaJS-style `eachBatch` fetches only once every batch it handed out is
 *   finished, which leaves the consumer idle between rounds; see
 *   docs/design.md, "Consuming".)
 * - Nothing is committed automatically: the engine commits after its output
 *   is acknowledged and its state written, either at once (`commit`) or
 *   coalesced (`commitSoon`: the latest offset of each partition that asked
 *   within COMMIT_SOON_MS, in one request, and before a partition is revoked
 *   or the consumer stops). Commits are asynchronous (queued, and a
 *   broker's refusal, as during a rebalance, is only logged), so the source
 *   re-sends the last offset committed for each partition it still owns
 *   every few seconds: a refused commit is repaired, not kept behind until
 *   the next record.
 * - A batch whose handler throws is delivered again: the partition is read
 *   again from the batch's first record, and the records pending behind it
 *   are dropped. A handler that calls `seek` before throwing chooses the
 *   position itself.
 * - read_committed: records of aborted transactions are never seen.
 * - `headers: false` (the engine, which reads no input headers): fetched as
 *   the patched client's columns, kept so while pending, and handed out as a
 *   batch's own columns (`PartitionBatch.columns`; its `records` are made
 *   only if asked for): no object per record on the way (pending-records.ts).
 */
import type { Message } from '@confluentinc/kafka-javascript';
import { createGroupConsumer, type GroupConsumer } from './client.js';
import { KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';
import { PendingRecords, recordsOfColumns, type BatchColumns, type PackedFetch } from './pending-records.js';
import { keyStartsOf, type PackedConsume } from './record-columns.js';

/** The patched client's packed consume (lib/kafka-consumer.js, as patched). */
type PackedConsumeCall = (max: number, cb: (err: Error | null, batch: PackedConsume) => void) => void;

export interface SourceRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  /** Record headers as text (a repeated header: its last value). */
  headers: Record<string, string>;
}

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** The records, in offset order (for a batch that came as columns: made from them on first use). */
  readonly records: SourceRecord[];
  /**
   * The batch as columns, when the source fetched it so (`headers: false`
   * on a patched client): what a handler that wants no object per record reads.
   */
  readonly columns?: BatchColumns;
  /** Offset after the last record in the partition when the batch was fetched. */
  readonly highWatermark: bigint;
}

/** A batch of records taken as columns. */
class ColumnarBatch implements PartitionBatch {
  private made: SourceRecord[] | undefined;
  constructor(readonly topic: string, readonly partition: number, readonly highWatermark: bigint, readonly columns: BatchColumns) {}
  get records(): SourceRecord[] {
    return this.made ??= recordsOfColumns(this.topic, this.partition, this.columns);
  }
}

export interface TopicPartition { topic: string; partition: number }

export interface SourceHandler {
  onAssign(partitions: TopicPartition[]): Promise<void>;
  onRevoke(partitions: TopicPartition[]): Promise<void>;
  onBatch(batch: PartitionBatch): Promise<void>;
}

/**
 * The handle a transactional producer's `sendOffsets` takes for the group
 * member (the KafkaJS-style producer asks it for the librdkafka consumer).
 */
export interface GroupMember { _getInternalClient(): GroupConsumer }

const ERR_ASSIGN = -175;

/** How often the last commits are sent again. */
const RECOMMIT_MS = 5000;
/** Most records in one batch handed to the handler. */
const MAX_BATCH = 5000;
/** Most records taken from librdkafka at once (split by partition). */
const FETCH_RECORDS = 20_000;
/** Records queued or being handled, beyond which fetching waits. */
const MAX_IN_FLIGHT = 40_000;
/** How long one fetch waits for a first record (then returns what there is). */
const FETCH_WAIT_MS = 100;
/** Partition numbers per topic index in dispatchPacked's keys (Kafka's are int32, never negative). */
const PARTITION_IDS = 2 ** 31;
/** commitSoon gathers the offsets asked for within this long into one commit request. */
const COMMIT_SOON_MS = 20;

/** What the source keeps per owned partition. */
interface OwnedPartition {
  topic: string;
  partition: number;
  /** Records fetched and not yet handed to the handler, in offset order. */
  pending: PendingRecords;
  /** Handing pending records to the handler, a batch at a time; resolved when there are none left. */
  chain: Promise<void>;
  running: boolean;
  /** Bumped by every seek: a batch handed out before it failing does not move the partition again. */
  generation: number;
  /** Offset of the last record queued, for telling a seek's records from those fetched before it. */
  lastQueued: number | undefined;
  /**
   * The last seek (always back, to a record read before): the fetch running
   * when it happened may hold records from before it (after `lastQueued`)
   * ahead of those from the new position (at or before it).
   */
  lastSeek: { fetch: number; lastQueued: number } | undefined;
}

export class KafkaSource {
  private consumer: GroupConsumer | undefined;
  private handler: SourceHandler | undefined;
  private readonly groupId: string;
  private readonly topics: string[];
  /** Partitions handed to librdkafka whose onAssign is done, by `topic/partition`. */
  private readonly owned = new Map<string, OwnedPartition>();
  /** Rebalances run one at a time, in the order librdkafka reports them. */
  private rebalances: Promise<void> = Promise.resolve();
  /** Fetch number: each fetch from librdkafka gets the next. */
  private fetchNumber = 0;
  private inFlightRecords = 0;
  /** Resolved when in-flight records fall below MAX_IN_FLIGHT (the fetch loop waits on it). */
  private roomAgain: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  /** Handlers running now, and those waiting for `concurrency` to let them (in order). */
  private running = 0;
  private readonly waitingToRun: (() => void)[] = [];
  private stopping = false;
  /** The last offset committed per owned `topic/partition`, sent again every RECOMMIT_MS. */
  private readonly lastCommits = new Map<string, { topic: string; partition: number; offset: number }>();
  private recommitter: NodeJS.Timeout | undefined;

  /** Offsets waiting for commitSoon's next flush, by `topic/partition`. */
  private readonly pendingCommits = new Map<string, { topic: string; partition: number; nextOffset: bigint }>();
  private commitTimer: NodeJS.Timeout | undefined;

  /**
   * `concurrency`: most partitions whose batches are handled at the same
   * time (default: all owned). `headers: false`: the records' headers are
   * not read (every record's `headers` is empty), which lets the source take
   * the patched client's packed consume (pending-records.ts says why).
   */
  constructor(private readonly opts: KafkaOptions & { groupId: string; topics: string[]; concurrency?: number; headers?: boolean }) {
    this.groupId = opts.groupId;
    this.topics = opts.topics;
  }

  async start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    const consumer = createGroupConsumer(this.opts, {
      'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed',
      'partition.assignment.strategy': 'cooperative-sticky',
      'fetch.wait.max.ms': 50,
      // librdkafka prefetches up to 64 MiB by default; the engine needs far
      // less ahead of it. With a small queue, librdkafka's default backoff
      // (1 s before fetching a partition whose queue was full) stalls reading.
      'queued.max.messages.kbytes': 4_096,
      'fetch.queue.backoff.ms': 10,
      ...(this.opts.kafkaConfig ?? {}),
      'group.id': this.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      rebalance_cb: (err: { code: number }, assignment: TopicPartition[]) => {
        const parts = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
        this.rebalances = this.rebalances.then(() => this.rebalance(err.code === ERR_ASSIGN, parts));
      },
      offset_commit_cb: (err: Error | undefined) => {
        // Refused commits (a rebalance, a broker moving) are sent again by the recommitter.
        if (err && !this.stopping) process.stderr.write(`kafka warn: an offset commit of group ${this.groupId} was refused: ${err.message}\n`);
      },
    });
    try {
      await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
      consumer.subscribe(this.topics);
    } catch (err) {
      throw new KafkaConnectorError('consume', `cannot consume ${this.topics.join(', ')} from ${this.opts.brokers}: ${(err as Error).message}`, { cause: err, retriable: true });
    }
    consumer.setDefaultConsumeTimeout(FETCH_WAIT_MS);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.consumer = consumer;
    this.recommitter = setInterval(() => {
      const offsets = [...this.lastCommits.values()];
      if (offsets.length > 0) this.commitAsync(offsets);
    }, RECOMMIT_MS);
    this.recommitter.unref();
    this.loopDone = this.fetchLoop(consumer);
  }

  /**
   * Assignment: the handler first, then librdkafka (which starts fetching).
   * Revocation: no more batches, the queued ones finished, the handler, the
   * coalesced commits, then librdkafka. A failing handler is reported and
   * the rebalance completed anyway: the group must not wait forever.
   */
  private async rebalance(assign: boolean, parts: TopicPartition[]): Promise<void> {
    const consumer = this.consumer;
    if (assign) {
      try {
        await this.handler!.onAssign(parts);
      } catch (e) {
        process.stderr.write(`aud: handling the assignment of ${parts.map((p) => `${p.topic}/${p.partition}`).join(', ')} failed: ${(e as Error).message}\n`);
      }
      for (const p of parts) this.owned.set(`${p.topic}/${p.partition}`, { ...p, pending: new PendingRecords(), chain: Promise.resolve(), running: false, generation: 0, lastQueued: undefined, lastSeek: undefined });
      consumer?.incrementalAssign(parts);
      return;
    }
    await this.release(parts);
    try {
      consumer?.incrementalUnassign(parts);
    } catch {
      // The consumer is closing: nothing is assigned any more.
    }
  }

  /** Stop handing out batches of these partitions, let the queued ones finish, then revoke those that were owned. */
  private async release(parts: TopicPartition[]): Promise<void> {
    const released = parts.flatMap((p) => {
      const key = `${p.topic}/${p.partition}`;
      const owned = this.owned.get(key);
      this.owned.delete(key);
      return owned ? [owned] : [];
    });
    if (released.length === 0) return;
    await Promise.all(released.map((o) => o.chain));
    const revoked = released.map((o) => ({ topic: o.topic, partition: o.partition }));
    try {
      await this.handler!.onRevoke(revoked);
    } catch (e) {
      process.stderr.write(`aud: handling the revocation of ${revoked.map((p) => `${p.topic}/${p.partition}`).join(', ')} failed: ${(e as Error).message}\n`);
    }
    this.flushCommits(revoked, true);
    // Not again for a partition another member may own next: that could move its offset back.
    for (const p of revoked) this.lastCommits.delete(`${p.topic}/${p.partition}`);
  }

  private async fetchLoop(consumer: GroupConsumer & { consumePacked?: PackedConsumeCall }): Promise<void> {
    // Columns from the binding when headers are not wanted and the client is patched (patches/README.md).
    const packed = this.opts.headers === false && consumer.consumePacked ? consumer.consumePacked.bind(consumer) : undefined;
    while (!this.stopping) {
      if (this.inFlightRecords >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => { this.roomAgain = resolve; });
        continue;
      }
      const fetch = ++this.fetchNumber;
      try {
        if (packed) {
          const batch = await new Promise<PackedConsume>((resolve, reject) => packed(FETCH_RECORDS, (err, b) => (err ? reject(err) : resolve(b))));
          if (batch.meta.length > 0) this.dispatchPacked(batch, fetch);
        } else {
          const messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(FETCH_RECORDS, (err, ms) => (err ? reject(err) : resolve(ms))));
          if (messages.length > 0) this.dispatch(messages, fetch);
        }
      } catch (err) {
        if (this.stopping) return;
        process.stderr.write(`kafka warn: fetching from ${this.topics.join(', ')} failed, retrying: ${(err as Error).message}\n`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Split a fetch by partition; add each part to its partition's pending records and start handing them out if idle. */
  private dispatch(messages: Message[], fetch: number): void {
    const byPartition = new Map<string, SourceRecord[]>();
    for (const m of messages) {
      const key = `${m.topic}/${m.partition}`;
      let list = byPartition.get(key);
      if (!list) byPartition.set(key, list = []);
      list.push({
        topic: m.topic,
        partition: m.partition,
        offset: BigInt(m.offset),
        key: m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(String(m.key)),
        value: m.value,
        timestamp: m.timestamp ?? 0,
        headers: headerText(m.headers),
      });
    }
    for (const [key, all] of byPartition) {
      const owned = this.owned.get(key);
      if (!owned) continue; // not (or no longer) ours
      const from = this.afterSeek(owned, all.length, (i) => Number(all[i]!.offset), fetch);
      if (from === all.length) continue;
      owned.pending.pushRecords(from === 0 ? all : all.slice(from));
      this.queued(owned, all.length - from, Number(all[all.length - 1]!.offset));
    }
  }

  /** dispatch for a packed fetch: message indexes by partition, records made only when a batch is taken. */
  private dispatchPacked(batch: PackedConsume, fetch: number): void {
    const fetched: PackedFetch = { data: batch.data, meta: batch.meta, positions: batch.positions, keyStarts: keyStartsOf(batch.meta) };
    // By topic index and partition (a partition number is below 2^31), without a string per message.
    const byPartition = new Map<number, number[]>();
    const count = batch.meta.length / 4;
    for (let i = 0; i < count; i++) {
      const id = batch.meta[i * 4]! * PARTITION_IDS + batch.meta[i * 4 + 1]!;
      let list = byPartition.get(id);
      if (!list) byPartition.set(id, list = []);
      list.push(i);
    }
    for (const [id, all] of byPartition) {
      const owned = this.owned.get(`${batch.topics[Math.floor(id / PARTITION_IDS)]}/${id % PARTITION_IDS}`);
      if (!owned) continue; // not (or no longer) ours
      const from = this.afterSeek(owned, all.length, (i) => batch.positions[all[i]! * 2]!, fetch);
      if (from === all.length) continue;
      owned.pending.pushPacked(fetched, from === 0 ? all : all.slice(from));
      this.queued(owned, all.length - from, batch.positions[all[all.length - 1]! * 2]!);
    }
  }

  /** `n` records up to offset `last` were added to the partition's pending ones: start handing them out if idle. */
  private queued(owned: OwnedPartition, n: number, last: number): void {
    owned.lastQueued = last;
    this.inFlightRecords += n;
    if (!owned.running) {
      owned.running = true;
      owned.chain = this.drain(owned);
    }
  }

  /**
   * Where a fetch's `count` records of a partition (offsets by `offsetAt`)
   * start to be from its current position: those fetched before its last
   * seek are dropped. `count` when none is.
   */
  private afterSeek(owned: OwnedPartition, count: number, offsetAt: (i: number) => number, fetch: number): number {
    const seek = owned.lastSeek;
    if (!seek) return 0;
    // A fetch started after the seek holds only records from the new position (librdkafka drops older ones).
    if (fetch > seek.fetch) { owned.lastSeek = undefined; return 0; }
    for (let i = 0; i < count; i++) {
      if (offsetAt(i) <= seek.lastQueued) { owned.lastSeek = undefined; return i; }
    }
    return count;
  }

  /**
   * Hand a partition's pending records to the handler until none are left:
   * each batch is everything that arrived while the one before was handled
   * (up to MAX_BATCH). So batches grow with the load: a partition that falls
   * behind catches up in large batches, not in as many small ones as fetches.
   */
  private async drain(owned: OwnedPartition): Promise<void> {
    const key = `${owned.topic}/${owned.partition}`;
    try {
      while (owned.pending.length > 0 && this.owned.get(key) === owned) {
        await this.turn();
        // A seek or a revocation may have emptied it while this waited for its turn.
        if (owned.pending.length === 0 || this.owned.get(key) !== owned) { this.endTurn(); break; }
        const generation = owned.generation;
        const { batch, count, first } = this.takeBatch(owned);
        try {
          await this.handler!.onBatch(batch);
        } catch (err) {
          // Read it again, unless the handler chose where (or gave the partition up).
          if (owned.generation === generation && this.owned.get(key) === owned) {
            if (!this.stopping) process.stderr.write(`aud: a batch of ${key} failed; reading it again from offset ${first}: ${(err as Error).message}\n`);
            this.seek(owned.topic, owned.partition, first);
          }
        } finally {
          this.endTurn();
          this.recordsDone(count);
        }
      }
    } finally {
      owned.running = false;
      if (this.owned.get(key) !== owned) this.dropPending(owned);
    }
  }

  /** The partition's next batch (up to MAX_BATCH of its pending records), its size and its first offset. */
  private takeBatch(owned: OwnedPartition): { batch: PartitionBatch; count: number; first: bigint } {
    const { highOffset } = this.consumer!.getWatermarkOffsets(owned.topic, owned.partition);
    const watermark = (last: number): bigint => BigInt(Math.max(highOffset, last + 1));
    if (owned.pending.packed) {
      const columns = owned.pending.takeColumns(MAX_BATCH);
      const last = columns.offsets[columns.count - 1]!;
      const batch = new ColumnarBatch(owned.topic, owned.partition, watermark(last), columns);
      return { batch, count: columns.count, first: BigInt(columns.offsets[0]!) };
    }
    const records = owned.pending.take(MAX_BATCH);
    const last = Number(records[records.length - 1]!.offset);
    return { batch: { topic: owned.topic, partition: owned.partition, records, highWatermark: watermark(last) }, count: records.length, first: records[0]!.offset };
  }

  /** Forget a partition's pending records (after a seek, or once it is no longer ours). */
  private dropPending(owned: OwnedPartition): void {
    this.recordsDone(owned.pending.clear());
  }

  private recordsDone(n: number): void {
    this.inFlightRecords -= n;
    if (this.inFlightRecords < MAX_IN_FLIGHT && this.roomAgain) {
      const wake = this.roomAgain;
      this.roomAgain = undefined;
      wake();
    }
  }

  /** Wait until fewer than `concurrency` handlers run. */
  private async turn(): Promise<void> {
    if (this.running < (this.opts.concurrency ?? Infinity)) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waitingToRun.push(resolve));
  }

  /** The slot goes to the next waiting handler, if any. */
  private endTurn(): void {
    const next = this.waitingToRun.shift();
    if (next) next();
    else this.running--;
  }

  /**
   * The group member, for a transactional producer's `sendOffsets`: the
   * offsets then commit with the transaction, fenced by the group generation.
   */
  get groupMember(): GroupMember {
    const consumer = this.consumer;
    if (!consumer) throw new KafkaConnectorError('commit', `the consumer of group ${this.groupId} is not running`, { retriable: true });
    return { _getInternalClient: () => consumer };
  }

  /** Commit these offsets (queued: a refusal is repaired by the re-sends). */
  async commit(offsets: { topic: string; partition: number; nextOffset: bigint }[]): Promise<void> {
    if (!this.consumer || offsets.length === 0) return;
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.nextOffset) }));
    for (const o of list) this.lastCommits.set(`${o.topic}/${o.partition}`, o);
    this.commitAsync(list);
  }

  private commitAsync(list: { topic: string; partition: number; offset: number }[], sync = false): void {
    try {
      if (sync) this.consumer?.commitSync(list);
      else this.consumer?.commit(list);
    } catch (err) {
      // A commit lost to a rebalance is harmless: the engine's state keeps its own offsets.
      if (!this.stopping) process.stderr.write(`kafka warn: committing offsets of group ${this.groupId} failed: ${(err as Error).message}\n`);
    }
  }

  /**
   * Read a partition again from `offset`, a record already delivered: the
   * batches of it queued behind the one being handled, and any fetched
   * already, are dropped and fetched anew.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    const owned = this.owned.get(`${topic}/${partition}`);
    if (!owned || !this.consumer) return;
    owned.generation++;
    owned.lastSeek = { fetch: this.fetchNumber, lastQueued: owned.lastQueued ?? Infinity };
    this.dropPending(owned);
    this.consumer.seek({ topic, partition, offset: Number(offset) }, 0, (err) => {
      if (err) process.stderr.write(`kafka warn: moving ${topic}/${partition} back to offset ${offset} failed: ${err.message}\n`);
    });
  }

  /**
   * Commit later, coalesced with the partition's next offsets. Failures are
   * not reported: a later flush commits a later offset anyway.
   */
  commitSoon(offset: { topic: string; partition: number; nextOffset: bigint }): void {
    this.pendingCommits.set(`${offset.topic}/${offset.partition}`, offset);
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      this.flushCommits(undefined, false);
    }, COMMIT_SOON_MS);
    this.commitTimer.unref();
  }

  /** Commit what commitSoon holds, for the given partitions or all; `sync` waits for the broker's answer. */
  private flushCommits(parts: TopicPartition[] | undefined, sync: boolean): void {
    const keys = parts ? parts.map((p) => `${p.topic}/${p.partition}`) : [...this.pendingCommits.keys()];
    const list = keys.flatMap((k) => {
      const o = this.pendingCommits.get(k);
      this.pendingCommits.delete(k);
      return o ? [{ topic: o.topic, partition: o.partition, offset: Number(o.nextOffset) }] : [];
    });
    if (list.length === 0) return;
    for (const o of list) this.lastCommits.set(`${o.topic}/${o.partition}`, o);
    this.commitAsync(list, sync);
  }

  /**
   * Finish the batches in flight, revoke every partition (the handler
   * flushes them), commit what waits, leave the group, close.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer || this.stopping) return;
    this.stopping = true;
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    if (this.recommitter) clearInterval(this.recommitter);
    this.roomAgain?.();
    await this.loopDone;
    await this.rebalances;
    await this.release([...this.owned.values()].map((o) => ({ topic: o.topic, partition: o.partition })));
    this.flushCommits(undefined, true);
    // Leaving the group revokes what is assigned: the callback finds nothing owned and only unassigns.
    try {
      consumer.unsubscribe();
    } catch {
      // Not subscribed (the broker was never reached): nothing to leave.
    }
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    await this.rebalances;
    this.consumer = undefined;
  }

}

/** librdkafka's headers (a list of one-key objects, in order) as text; a repeated header: its last value. */
function headerText(headers: Record<string, string | Buffer>[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const h of headers) {
    for (const [k, v] of Object.entries(h)) out[k] = v.toString();
  }
  return out;
}
