/**
 * Helpers for tests on the real broker (started by scripts/test.sh), built on
 * aud's own connectors so that tests exercise the code users run.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTopics } from '../../connectors/kafka/admin.js';
import { KafkaSink } from '../../connectors/kafka/sink.js';
import { KafkaSource, type PartitionBatch } from '../../connectors/kafka/source.js';
import { keyAt, valueAt } from '../../engine/record-batch.js';

export function testBrokers(): string {
  return process.env.AUD_TEST_BROKERS ?? '127.0.0.1:9092';
}

/** A topic name no other test or run uses. */
export function uniqueTopic(prefix: string): string {
  return `test.${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
}

/**
 * A topic's configuration as the broker reports it (`cleanup.policy` and the
 * rest), read with Kafka's own Java admin client from the broker's lib/:
 * the JavaScript client has no DescribeConfigs.
 */
export async function topicConfig(topic: string): Promise<Record<string, string>> {
  const repo = join(fileURLToPath(import.meta.url), '../../../..');
  const lib = join(process.env.AUD_KAFKA_DIR ?? join(repo, '.kafka'), 'lib', '*');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('java', ['-cp', lib, join(repo, 'test/support/TopicConfig.java'), testBrokers(), topic], { timeout: 60_000 }, (err, out, errOut) => {
      if (err) reject(new Error(`reading the config of ${topic}: ${err.message}\n${errOut}`)); else resolve(out);
    });
  });
  return Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export async function createTopic(name: string, partitions: number): Promise<void> {
  await ensureTopics({ brokers: testBrokers() }, [{ topic: name, partitions }]);
}

export async function produceJson(topic: string, records: { key: string | null; value: string }[]): Promise<void> {
  await produceBytes(topic, records);
}

/** Values as they are: Avro binary, or anything a test wants on the topic. */
export async function produceBytes(topic: string, records: { key: string | null; value: string | Buffer | null }[]): Promise<void> {
  const sink = new KafkaSink({ brokers: testBrokers(), clientId: 'aud-test' });
  await sink.connect();
  try {
    await sink.send(records.map((r) => ({ topic, key: r.key, value: r.value })));
  } finally {
    await sink.disconnect();
  }
}

export interface ReadRecord { key: string | null; value: string | null; partition: number; offset: bigint; headers: Record<string, string>; bytes: Buffer | null; timestamp: number }

/**
 * Reads a topic from the beginning with a fresh group until `expected`
 * records arrived or `timeoutMs` passed, then waits `settleMs` more for
 * records that should not be there. Returns them in partition, offset order.
 */
export async function readTopic(topic: string, opts: { expected: number; timeoutMs: number; settleMs?: number }): Promise<ReadRecord[]> {
  const got: ReadRecord[] = [];
  const source = new KafkaSource({ brokers: testBrokers(), clientId: 'aud-test-reader', groupId: `reader-${randomBytes(6).toString('hex')}`, topics: [topic] });
  let reached: () => void = () => undefined;
  const enough = new Promise<void>((res) => { reached = res; });
  await source.start({
    onAssign: async () => undefined,
    onRevoke: async () => undefined,
    onBatch: async (batch) => {
      got.push(...readRecords(batch));
      if (got.length >= opts.expected) reached();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([enough, new Promise((res) => { timer = setTimeout(res, opts.timeoutMs); })]);
  clearTimeout(timer);
  await new Promise((res) => setTimeout(res, opts.settleMs ?? 500));
  await source.stop();
  return got.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}

/** A source's batch as records with their own bytes (a batch's are views of its one byte array). */
export function readRecords(batch: PartitionBatch): ReadRecord[] {
  const out: ReadRecord[] = [];
  for (let i = 0; i < batch.records.count; i++) {
    const key = keyAt(batch.records, i);
    const value = valueAt(batch.records, i);
    const bytes = value && Buffer.from(value);
    out.push({
      key: key && Buffer.from(key).toString('utf8'), value: bytes && bytes.toString('utf8'), partition: batch.partition,
      offset: BigInt(batch.records.offsets[i]!), headers: batch.headers?.[i] ?? {}, bytes, timestamp: batch.records.timestamps[i]!,
    });
  }
  return out;
}
