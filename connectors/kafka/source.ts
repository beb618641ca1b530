/**
 * Consuming a topic as a member of a consumer group.
 *
 * - The engine is told of assignment changes before they take effect
 *   (`onAssign` opens state; `onRevoke` flushes and closes it): the
 *   partitions are handed to librdkafka only once the handler is done.
 * - Records arrive per partition, in offset order, as RecordBatches
 *   (engine/record-batch.ts); batches of one partition never overlap;
 *   partitions run concurrently, up to `concurrency` at once.
 * - read_committed: records of aborted transactions are never seen.
 *
 * The jobs, one file each:
 * - fetch-loop.ts: fetching ahead of the handlers, split by partition;
 * - in-flight.ts: how far fetching runs ahead (backpressure);
 * - partition-feed.ts: one partition's pending records handed out a batch
 *   at a time, a failed batch read again, a seek's stale records dropped;
 * - pending-records.ts: a partition's prefetch, kept as the fetches' bytes;
 * - concurrency-gate.ts: how many handlers run at once;
 * - offset-commits.ts: commits at once or coalesced, and re-sent;
 * - this file: the consumer's life (start, rebalances, stop) and the API.
 */
import { createGroupConsumer, type GroupConsumer } from './client.js';
import { ConcurrencyGate } from './concurrency-gate.js';
import { KafkaConnectorError } from './errors.js';
import { FetchLoop } from './fetch-loop.js';
import { InFlightRecords } from './in-flight.js';
import { OffsetCommits, type CommitOffset } from './offset-commits.js';
import type { KafkaOptions } from './options.js';
import { PartitionFeed, type FeedContext, type PartitionBatch } from './partition-feed.js';

export type { PartitionBatch } from './partition-feed.js';

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

export class KafkaSource {
  private consumer: GroupConsumer | undefined;
  private handler: SourceHandler | undefined;
  private readonly groupId: string;
  private readonly topics: string[];
  /** Partitions handed to librdkafka whose onAssign is done, by `topic/partition`. */
  private readonly feeds = new Map<string, PartitionFeed>();
  /** Rebalances run one at a time, in the order librdkafka reports them. */
  private rebalances: Promise<void> = Promise.resolve();
  private readonly inFlight = new InFlightRecords();
  private readonly gate: ConcurrencyGate;
  private fetchLoop: FetchLoop | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private commits: OffsetCommits | undefined;
  private stopping = false;

  /**
   * `concurrency`: most partitions whose batches are handled at the same
   * time (default: all owned). `headers: false`: the records' headers are
   * not read (batches come without them), which lets the source take the
   * patched client's packed consume (fetch-loop.ts).
   */
  constructor(private readonly opts: KafkaOptions & { groupId: string; topics: string[]; concurrency?: number; headers?: boolean }) {
    this.groupId = opts.groupId;
    this.topics = opts.topics;
    this.gate = new ConcurrencyGate(opts.concurrency ?? Infinity);
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
        // Refused commits (a rebalance, a broker moving) are sent again by offset-commits.ts.
        if (err && !this.stopping) process.stderr.write(`kafka warn: an offset commit of group ${this.groupId} was refused: ${err.message}\n`);
      },
    });
    try {
      await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
      consumer.subscribe(this.topics);
    } catch (err) {
      throw new KafkaConnectorError('consume', `cannot consume ${this.topics.join(', ')} from ${this.opts.brokers}: ${(err as Error).message}`, { cause: err, retriable: true });
    }
    const fetchLoop = new FetchLoop(consumer, this.opts.headers !== false, this.topics, this.inFlight, {
      feedOf: (topic, partition) => this.feeds.get(`${topic}/${partition}`),
      stopping: () => this.stopping,
    });
    this.consumer = consumer;
    this.commits = new OffsetCommits(consumer, this.groupId);
    this.fetchLoop = fetchLoop;
    this.loopDone = fetchLoop.run();
  }

  /** What a partition's feed needs of the source. */
  private feedContext(): FeedContext {
    return {
      onBatch: (batch) => this.handler!.onBatch(batch),
      gate: this.gate,
      inFlight: this.inFlight,
      owns: (feed) => this.feeds.get(`${feed.topic}/${feed.partition}`) === feed,
      highOffset: (topic, partition) => this.consumer!.getWatermarkOffsets(topic, partition).highOffset,
      seek: (topic, partition, offset) => this.seek(topic, partition, offset),
      stopping: () => this.stopping,
    };
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
      const ctx = this.feedContext();
      for (const p of parts) this.feeds.set(`${p.topic}/${p.partition}`, new PartitionFeed(p.topic, p.partition, ctx));
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
      const feed = this.feeds.get(key);
      this.feeds.delete(key);
      return feed ? [feed] : [];
    });
    if (released.length === 0) return;
    await Promise.all(released.map((f) => f.idle));
    const revoked = released.map((f) => ({ topic: f.topic, partition: f.partition }));
    try {
      await this.handler!.onRevoke(revoked);
    } catch (e) {
      process.stderr.write(`aud: handling the revocation of ${revoked.map((p) => `${p.topic}/${p.partition}`).join(', ')} failed: ${(e as Error).message}\n`);
    }
    this.commits?.flush(revoked, true);
    this.commits?.forget(revoked);
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
  async commit(offsets: CommitOffset[]): Promise<void> {
    if (!this.consumer) return;
    this.commits?.commit(offsets);
  }

  /**
   * Commit later, coalesced with the partition's next offsets. Failures are
   * not reported: a later flush commits a later offset anyway.
   */
  commitSoon(offset: CommitOffset): void {
    this.commits?.commitSoon(offset);
  }

  /**
   * Read a partition again from `offset`, a record already delivered: the
   * batches of it queued behind the one being handled, and any fetched
   * already, are dropped and fetched anew.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    const feed = this.feeds.get(`${topic}/${partition}`);
    if (!feed || !this.consumer) return;
    feed.rewound(this.fetchLoop?.fetchNumber ?? 0);
    this.consumer.seek({ topic, partition, offset: Number(offset) }, 0, (err) => {
      if (err) process.stderr.write(`kafka warn: moving ${topic}/${partition} back to offset ${offset} failed: ${err.message}\n`);
    });
  }

  /**
   * Finish the batches in flight, revoke every partition (the handler
   * flushes them), commit what waits, leave the group, close.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer || this.stopping) return;
    this.stopping = true;
    this.commits?.stop();
    this.inFlight.release();
    await this.loopDone;
    await this.rebalances;
    await this.release([...this.feeds.values()].map((f) => ({ topic: f.topic, partition: f.partition })));
    this.commits?.flush(undefined, true);
    // Leaving the group revokes what is assigned: the callback finds nothing owned and only unassigns.
    try {
      consumer.unsubscribe();
    } catch {
      // Not subscribed (the broker was never reached): nothing to leave.
    }
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    await this.rebalances;
    this.consumer = undefined;
    this.commits = undefined;
  }
}
