/**
 * Producing records: an idempotent producer (no duplicates from the
 * producer's own retries, order kept per partition), acks from all in-sync
 * replicas, lz4, a short linger so that one batch of output goes out as a few
 * requests. `send` resolves only when the broker acknowledged every record.
 */
import { createProducer, type Producer } from './client.js';
import { KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';

export interface SinkRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
}

export class KafkaSink {
  private readonly producer: Producer;

  constructor(private readonly opts: KafkaOptions) {
    this.producer = createProducer(opts, {
      'enable.idempotence': true,
      'acks': 'all',
      'linger.ms': 5,
      'compression.type': 'lz4',
      ...(opts.kafkaConfig ?? {}),
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /**
   * Resolves when every record is acknowledged, with the offset of the first
   * record written to each `topic/partition` (the others follow it in order).
   */
  async send(records: readonly SinkRecord[]): Promise<Map<string, bigint>> {
    const firstOffsets = new Map<string, bigint>();
    if (records.length === 0) return firstOffsets;
    const byTopic = new Map<string, { key: string | Buffer | null; value: string | Buffer | null; headers?: Record<string, string>; partition?: number }[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      const m: { key: string | Buffer | null; value: string | Buffer | null; headers?: Record<string, string>; partition?: number } = { key: r.key, value: r.value };
      if (r.headers) m.headers = r.headers;
      if (r.partition !== undefined) m.partition = r.partition;
      list.push(m);
      byTopic.set(r.topic, list);
    }
    try {
      const metadata = await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages: messages as never })),
      });
      for (const m of metadata) {
        if (m.baseOffset !== undefined && m.baseOffset !== null) firstOffsets.set(`${m.topicName}/${m.partition}`, BigInt(m.baseOffset));
      }
      return firstOffsets;
    } catch (err) {
      throw new KafkaConnectorError('produce', `producing ${records.length} records to ${[...byTopic.keys()].join(', ')} on ${this.opts.brokers} failed: ${(err as Error).message}`,
        { cause: err, retriable: true });
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.flush({ timeout: 30_000 }).catch(() => undefined);
    await this.producer.disconnect();
  }
}
