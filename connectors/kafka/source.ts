/**
 * Consuming a topic as a member of a consumer group.
 *
 * - The engine is told of assignment changes before they take effect
 *   (`onAssign` opens state; `onRevoke` flushes and closes it), through the
 *   client's rebalance callback, which it awaits.
 * - Records arrive per partition, in offset order, in batches of up to 5000
 *   (a backlog goes in big batches: a customer who recurs in one is read,
 *   encoded and written once); batches of one partition never overlap;
 *   partitions run concurrently.
 * - Nothing is committed automatically: the engine commits after its output
 *   is acknowledged and its state written, either at once (`commit`) or
 *   coalesced (`commitSoon`: the latest offset per partition, sent every
 *   `commitIntervalMs` and before a partition is revoked or the consumer
 *   stops), which saves a broker round trip per batch where the committed
 *   offset is only where to resume reading, not what decides what is
 *   applied. The client's commit is asynchronous (librdkafka's commitAsync:
 *   resolved once queued, and a broker's refusal, as during a rebalance, is
 *   not reported back), so the source re-sends the last offset committed for
 *   each partition it still owns every few seconds: a refused commit is
 *   repaired, not kept behind until the next record. A batch whose handler throws is
 *   delivered again (the consumer seeks back to it), so a broker outage
 *   during produce retries rather than loses.
 * - read_committed: records of aborted transactions are never seen.
 */
import { createConsumer, type Consumer } from './client.js';
import { KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';

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
  topic: string;
  partition: number;
  records: SourceRecord[];
  /** Offset after the last record in the partition when the batch was fetched. */
  highWatermark: bigint;
}

export interface TopicPartition { topic: string; partition: number }

export interface SourceHandler {
  onAssign(partitions: TopicPartition[]): Promise<void>;
  onRevoke(partitions: TopicPartition[]): Promise<void>;
  onBatch(batch: PartitionBatch): Promise<void>;
}

const ERR_ASSIGN = -175;
const ERR_REVOKE = -174;

/** How often the last commits are sent again. */
const RECOMMIT_MS = 5000;

export class KafkaSource {
  private consumer: Consumer | undefined;
  private readonly groupId: string;
  private readonly topics: string[];
  /** The last offset committed per owned `topic/partition`, sent again every RECOMMIT_MS. */
  private readonly lastCommits = new Map<string, { topic: string; partition: number; offset: string }>();
  private recommitter: NodeJS.Timeout | undefined;

  /** Offsets waiting for commitSoon's next flush, by `topic/partition`. */
  private readonly pendingCommits = new Map<string, { topic: string; partition: number; nextOffset: bigint }>();
  private commitTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: KafkaOptions & { groupId: string; topics: string[]; concurrency?: number; commitIntervalMs?: number }) {
    this.groupId = opts.groupId;
    this.topics = opts.topics;
  }

  async start(handler: SourceHandler): Promise<void> {
    const rebalance = async (err: { code: number }, assignment: TopicPartition[]): Promise<void> => {
      const parts = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
      try {
        if (err.code === ERR_ASSIGN) await handler.onAssign(parts);
        else if (err.code === ERR_REVOKE) {
          await handler.onRevoke(parts);
          await this.flushCommits(parts).catch(() => undefined);
          // Not again for a partition another member may own next: that could move its offset back.
          for (const p of parts) this.lastCommits.delete(`${p.topic}/${p.partition}`);
        }
      } catch (e) {
        process.stderr.write(`aud: handling a rebalance of ${parts.map((p) => `${p.topic}/${p.partition}`).join(', ')} failed: ${(e as Error).message}\n`);
        throw e;
      }
    };
    this.consumer = createConsumer(this.opts, {
      'group.id': this.groupId,
      'enable.auto.commit': false,
      'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed',
      'partition.assignment.strategy': 'cooperative-sticky',
      'js.consumer.max.batch.size': 5000,
      'fetch.wait.max.ms': 50,
      // librdkafka prefetches up to 64 MiB by default; the engine works a
      // batch at a time per partition and needs far less ahead of it.
      'queued.max.messages.kbytes': 4_096,
      rebalance_cb: rebalance,
      ...(this.opts.kafkaConfig ?? {}),
    });
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.topics });
    } catch (err) {
      throw new KafkaConnectorError('consume', `cannot consume ${this.topics.join(', ')} from ${this.opts.brokers}: ${(err as Error).message}`, { cause: err, retriable: true });
    }
    this.recommitter = setInterval(() => {
      const offsets = [...this.lastCommits.values()];
      if (offsets.length > 0) this.consumer?.commitOffsets(offsets).catch(() => undefined);
    }, RECOMMIT_MS);
    this.recommitter.unref();
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.concurrency ?? 16,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (batch.messages.length === 0) return;
        const records: SourceRecord[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: BigInt(m.offset),
          key: m.key,
          value: m.value,
          timestamp: Number(m.timestamp),
          headers: headerText(m.headers),
        }));
        await handler.onBatch({ topic: batch.topic, partition: batch.partition, records, highWatermark: BigInt(batch.highWatermark) });
        resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      },
    });
  }

  /**
   * The group member, for a transactional producer's `sendOffsets`: the
   * offsets then commit with the transaction, fenced by the group generation.
   */
  get groupMember(): Consumer {
    if (!this.consumer) throw new KafkaConnectorError('commit', `the consumer of group ${this.groupId} is not running`, { retriable: true });
    return this.consumer;
  }

  async commit(offsets: { topic: string; partition: number; nextOffset: bigint }[]): Promise<void> {
    if (!this.consumer || offsets.length === 0) return;
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.nextOffset.toString() }));
    for (const o of list) this.lastCommits.set(`${o.topic}/${o.partition}`, o);
    try {
      await this.consumer.commitOffsets(list);
    } catch (err) {
      // A commit lost to a rebalance is harmless: the engine's state keeps its own offsets.
      throw new KafkaConnectorError('commit', `committing offsets of group ${this.groupId} failed: ${(err as Error).message}`, { cause: err, retriable: true });
    }
  }

  /**
   * Read a partition again from `offset`: the records after it in the batch
   * being handled, and any fetched already, are dropped and fetched anew.
   * Called from a batch handler that then throws, the client keeps this
   * position instead of moving back to the batch's own first record.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    this.consumer?.seek({ topic, partition, offset: offset.toString() });
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
      this.flushCommits().catch(() => undefined);
    }, this.opts.commitIntervalMs ?? 1000);
    this.commitTimer.unref();
  }

  /** Commit what commitSoon holds, for the given partitions or all. */
  private async flushCommits(parts?: TopicPartition[]): Promise<void> {
    const keys = parts ? parts.map((p) => `${p.topic}/${p.partition}`) : [...this.pendingCommits.keys()];
    const offsets = keys.flatMap((k) => {
      const o = this.pendingCommits.get(k);
      this.pendingCommits.delete(k);
      return o ? [o] : [];
    });
    await this.commit(offsets);
  }

  /** Finish the batch in flight, commit what waits, leave the group (revoking every partition), close. */
  async stop(): Promise<void> {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    await this.flushCommits().catch(() => undefined);
    const c = this.consumer;
    this.consumer = undefined;
    if (this.recommitter) clearInterval(this.recommitter);
    if (!c) return;
    await c.disconnect();
  }

}

function headerText(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = last.toString();
  }
  return out;
}
