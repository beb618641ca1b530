/**
 * Producing records: an idempotent producer (no duplicates from the
 * producer's own retries, order kept per partition), acks from all in-sync
 * replicas, lz4, and a 1 ms linger: the engine hands a batch's records over
 * at once, so they are batched already, and waiting longer for more would
 * only add to every enter/leave event's latency. `send` resolves only when
 * the broker acknowledged every record.
 *
 * With a `transactionalId` the sink is transactional (exactly-once): records
 * are sent inside `begin()` … `commitTransaction()`, together with the
 * consumer's input offsets (`sendOffsets`). Connecting initialises the
 * transactional id, which fences any older producer with the same id (a
 * zombie, or the process that was killed) and aborts its open transaction.
 */
import type { Consumer } from './client.js';
import { createProducer, type Producer } from './client.js';
import { isFencedError, KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';
import { NativeBatchProducer, type PackedRecords } from './batch-produce.js';
import type { GroupMember } from './source.js';

export interface SinkRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
}

/** Records of one topic, packed (batch-produce.ts). */
export interface TopicRecords {
  topic: string;
  records: PackedRecords;
}

/** Packed records as records, for the client's own path (an unpatched binding, or a send with headers). */
function unpackRecords(p: TopicRecords): SinkRecord[] {
  const out: SinkRecord[] = [];
  const data = Buffer.from(p.records.data.buffer, p.records.data.byteOffset, p.records.data.byteLength);
  let at = 0;
  const field = (length: number): Buffer | null => {
    if (length < 0) return null;
    const bytes = data.subarray(at, at + length);
    at += length;
    return bytes;
  };
  for (let i = 0; i < p.records.count; i++) {
    const key = field(p.records.lengths[2 * i]!);
    const value = field(p.records.lengths[2 * i + 1]!);
    out.push({ topic: p.topic, key, value });
  }
  return out;
}

export class KafkaSink {
  private readonly producer: Producer;
  /** The client binding's batch path (patched binding only), found at connect. */
  private batchProducer: NativeBatchProducer | undefined;

  constructor(private readonly opts: KafkaOptions & { transactionalId?: string }) {
    this.producer = createProducer(opts, {
      'enable.idempotence': true,
      'acks': 'all',
      'linger.ms': 1,
      'compression.type': 'lz4',
      // A process may have, per partition, up to 4 batches of output in flight
      // plus a changelog copy (runtime/partition-commits.ts): with many partitions
      // that can pass librdkafka's default of 100,000 queued records, and a
      // full queue fails the send (the partition is then read again).
      'queue.buffering.max.messages': 1_000_000,
      ...(opts.kafkaConfig ?? {}),
      ...(opts.transactionalId !== undefined ? { 'transactional.id': opts.transactionalId } : {}),
    });
  }

  /** Whether records go through the patched binding's batch path (known once connected). */
  get producesInBatches(): boolean {
    return this.batchProducer !== undefined;
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.batchProducer = NativeBatchProducer.of(this.producer);
    } catch (err) {
      throw this.failure('produce', `connecting the producer${this.opts.transactionalId ? ` (transactional id ${this.opts.transactionalId})` : ''} to ${this.opts.brokers} failed`, err);
    }
  }

  /** Start a transaction (transactional sinks only). */
  async begin(): Promise<void> {
    try {
      await this.producer.transaction();
    } catch (err) {
      throw this.failure('produce', 'beginning a transaction failed', err);
    }
  }

  /** Add the consumer group's next input offsets to the open transaction. */
  async sendOffsets(consumer: GroupMember, offsets: { topic: string; partition: number; nextOffset: bigint }[]): Promise<void> {
    try {
      await this.producer.sendOffsets({
        // The client asks the consumer only for its librdkafka handle.
        consumer: consumer as unknown as Consumer,
        topics: offsets.map((o) => ({ topic: o.topic, partitions: [{ partition: o.partition, offset: o.nextOffset.toString() }] })),
      });
    } catch (err) {
      throw this.failure('commit', 'adding the input offsets to the transaction failed', err);
    }
  }

  async commitTransaction(): Promise<void> {
    try {
      await this.producer.commit();
    } catch (err) {
      throw this.failure('commit', 'committing the transaction failed', err);
    }
  }

  /** Abort the open transaction, if any; failures are ignored (closing the producer aborts it too). */
  async abortTransaction(): Promise<void> {
    if (!this.producer.isActive()) return;
    await this.producer.abort().catch(() => undefined);
  }

  private failure(code: 'produce' | 'commit', what: string, err: unknown): KafkaConnectorError {
    if (isFencedError(err)) {
      return new KafkaConnectorError('fenced', `${what}: the producer was fenced (transactional id ${this.opts.transactionalId}); another instance owns this work now`, { cause: err, retriable: false });
    }
    return new KafkaConnectorError(code, `${what} on ${this.opts.brokers}: ${(err as Error).message}`, { cause: err, retriable: true });
  }

  /**
   * Resolves when every record is acknowledged, with the offset of the first
   * record written to each `topic/partition` (the others follow it in order).
   * `packed`: more records, already packed for the producer, after `records`.
   */
  async send(records: readonly SinkRecord[], packed: readonly TopicRecords[] = []): Promise<Map<string, bigint>> {
    const count = records.length + packed.reduce((n, p) => n + p.records.count, 0);
    if (count === 0) return new Map();
    // Records with headers (dead letters: few) take the client's own path.
    const batchProducer = records.every((r) => r.headers === undefined) ? this.batchProducer : undefined;
    const all = batchProducer ? records : [...records, ...packed.flatMap(unpackRecords)];
    const byTopic = new Map<string, SinkRecord[]>();
    for (const r of all) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    try {
      return batchProducer ? await this.sendInBatches(batchProducer, byTopic, packed) : await this.sendThroughClient(byTopic);
    } catch (err) {
      const topics = new Set([...byTopic.keys(), ...packed.map((p) => p.topic)]);
      throw this.failure('produce', `producing ${count} records to ${[...topics].join(', ')} failed`, err);
    }
  }

  private async sendInBatches(batchProducer: NativeBatchProducer, byTopic: Map<string, SinkRecord[]>, packed: readonly TopicRecords[]): Promise<Map<string, bigint>> {
    const firstOffsets = new Map<string, bigint>();
    const noteFirsts = (topic: string, firsts: Map<number, bigint>): void => {
      for (const [partition, offset] of firsts) {
        const key = `${topic}/${partition}`;
        if (!firstOffsets.has(key)) firstOffsets.set(key, offset);
      }
    };
    // One topic's calls in order (records, then its packed groups), so that its records keep their order per partition.
    const topics = new Set([...byTopic.keys(), ...packed.map((p) => p.topic)]);
    await Promise.all([...topics].map(async (topic) => {
      const list = byTopic.get(topic);
      if (list) noteFirsts(topic, await batchProducer.send(topic, list));
      for (const p of packed) {
        if (p.topic === topic && p.records.count > 0) noteFirsts(topic, await batchProducer.sendPacked(topic, p.records));
      }
    }));
    return firstOffsets;
  }

  private async sendThroughClient(byTopic: Map<string, SinkRecord[]>): Promise<Map<string, bigint>> {
    const metadata = await this.producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((r) => ({
          key: r.key, value: r.value,
          ...(r.headers ? { headers: r.headers } : {}),
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })) as never,
      })),
    });
    const firstOffsets = new Map<string, bigint>();
    for (const m of metadata) {
      if (m.baseOffset !== undefined && m.baseOffset !== null) firstOffsets.set(`${m.topicName}/${m.partition}`, BigInt(m.baseOffset));
    }
    return firstOffsets;
  }

  async disconnect(): Promise<void> {
    await this.abortTransaction();
    await this.producer.flush({ timeout: 30_000 }).catch(() => undefined);
    await this.producer.disconnect();
  }
}
