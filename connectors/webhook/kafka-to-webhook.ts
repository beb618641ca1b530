/**
 * The enter/leave topic to a webhook, at-least-once: records are consumed in
 * a consumer group of their own, each partition batch is posted through a
 * `WebhookSink`, and the partition's offset is committed only once every
 * event of the batch was delivered or dead-lettered. A crash (or a failed
 * commit) therefore sends some events again, never loses one; receivers drop
 * repeats by Idempotency-Key or by each event's `version`.
 *
 * Order: a customer's events are keyed by customer id, so they share a
 * partition; batches of one partition go out one after another, in offset
 * order. Partitions are posted concurrently (`concurrency`, default 4).
 *
 * Records that are not JSON are dead-lettered with the reason; null values
 * (tombstones) are skipped.
 *
 * `stop()` cuts retries short: a batch still waiting to be retried is neither
 * delivered nor committed, and goes out again on the next start; a request in
 * flight completes first.
 */
import { KafkaSource, type PartitionBatch, type TopicPartition } from '../kafka/source.js';
import type { KafkaOptions } from '../kafka/options.js';
import type { Logger } from '../../engine/log.js';
import { bytesOf } from '../../engine/record-batch.js';
import { WebhookSinkError, type WebhookSink, type WebhookStats } from './webhook-sink.js';

export interface WebhookConsumerOptions {
  kafka: KafkaOptions;
  topic: string;
  groupId: string;
  sink: WebhookSink;
  log: Logger;
  /** Partitions posted at the same time (default 4). */
  concurrency?: number;
  /** How often progress is logged at info level, if anything changed (default 10 000; 0: never). */
  progressMs?: number;
}

export interface WebhookConsumerStats extends WebhookStats {
  /** Records read from the topic. */
  records: number;
  /** Null values skipped. */
  skipped: number;
  /** Partition batches whose offsets were committed. */
  committedBatches: number;
}

export class WebhookConsumer {
  private readonly source: KafkaSource;
  private stopping = false;
  private started = false;
  private progressTimer: NodeJS.Timeout | undefined;
  private lastProgress = '';
  private readonly counts = { records: 0, skipped: 0, committedBatches: 0 };

  constructor(private readonly opts: WebhookConsumerOptions) {
    // No headers are read: the source may take the client's packed consume.
    const sourceOpts: ConstructorParameters<typeof KafkaSource>[0] = { ...opts.kafka, groupId: opts.groupId, topics: [opts.topic], headers: false };
    if (opts.concurrency !== undefined) sourceOpts.concurrency = opts.concurrency;
    this.source = new KafkaSource(sourceOpts);
  }

  get stats(): WebhookConsumerStats {
    return { ...this.opts.sink.stats, ...this.counts };
  }

  /** Join the group and start posting; resolves once consuming has started. */
  async start(): Promise<void> {
    const { log, topic, groupId } = this.opts;
    this.started = true;
    await this.source.start({
      onAssign: async (parts) => log.info('partition assigned', { group: groupId, partitions: names(parts) }),
      onRevoke: async (parts) => log.info('partition revoked', { group: groupId, partitions: names(parts) }),
      onBatch: (batch) => this.onBatch(batch),
    });
    log.info('consuming', { topic, group: groupId });
    const every = this.opts.progressMs ?? 10_000;
    if (every > 0) {
      this.progressTimer = setInterval(() => this.logProgress(), every);
      this.progressTimer.unref();
    }
  }

  /** Stop retrying, finish the request in flight, leave the group. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.progressTimer);
    this.opts.sink.close();
    if (this.started) await this.source.stop();
    this.logProgress(true);
  }

  private async onBatch(batch: PartitionBatch): Promise<void> {
    if (this.stopping) return; // not committed: read again on the next start
    const { log, sink } = this.opts;
    const where = `${batch.topic}/${batch.partition}`;
    const events: unknown[] = [];
    const { records } = batch;
    const bytes = bytesOf(records);
    this.counts.records += records.count;
    try {
      for (let i = 0; i < records.count; i++) {
        if (records.valueLengths[i]! < 0) { this.counts.skipped++; continue; }
        const start = records.valueStarts[i]!;
        const text = bytes.toString('utf8', start, start + records.valueLengths[i]!);
        try {
          events.push(JSON.parse(text));
        } catch (err) {
          await sink.deadLetter([text], `record ${where}@${records.offsets[i]} is not JSON: ${(err as Error).message}`);
          log.warn('record is not JSON; dead-lettered', { partition: where, offset: String(records.offsets[i]) });
        }
      }
      const res = await sink.send(events);
      log.debug('batch posted', { partition: where, records: records.count, ...res });
    } catch (err) {
      if (err instanceof WebhookSinkError && err.code === 'closed') {
        log.info('stopping: batch not delivered, it will be sent again on the next start', { partition: where, records: records.count });
        return;
      }
      log.error('cannot finish a batch; it will be read again', { partition: where, error: (err as Error).message });
      // Do not spin on a broken dead-letter file: the client redelivers the batch at once.
      await new Promise((res) => setTimeout(res, 1000));
      throw err;
    }
    const nextOffset = BigInt(records.offsets[records.count - 1]!) + 1n;
    try {
      await this.source.commit([{ topic: batch.topic, partition: batch.partition, nextOffset }]);
      this.counts.committedBatches++;
    } catch (err) {
      // Delivered but not committed: whoever reads the partition next sends these again (at-least-once).
      log.warn('offset commit failed; the batch may be delivered again', { partition: where, error: (err as Error).message });
    }
  }

  private logProgress(final = false): void {
    const s = this.stats;
    const line = JSON.stringify(s);
    if (!final && line === this.lastProgress) return;
    this.lastProgress = line;
    this.opts.log.info(final ? 'stopped' : 'progress', {
      records: s.records, delivered: s.delivered, deadLettered: s.deadLettered, retries: s.retries, requests: s.requests, committedBatches: s.committedBatches,
    });
  }
}

function names(parts: TopicPartition[]): string {
  return parts.map((p) => `${p.topic}/${p.partition}`).join(',');
}
