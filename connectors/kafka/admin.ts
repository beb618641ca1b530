/**
 * Topic administration: create what is missing, read partition counts and
 * end offsets. Each call opens and closes its own admin client: these run at
 * start-up and on rebalance, never per record.
 */
import { createAdmin, type Admin } from './client.js';
import { KafkaConnectorError } from './errors.js';
import type { KafkaOptions } from './options.js';

async function withAdmin<T>(opts: KafkaOptions, what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = createAdmin(opts);
  try {
    await admin.connect();
    return await fn(admin);
  } catch (err) {
    if (err instanceof KafkaConnectorError) throw err;
    throw new KafkaConnectorError('admin', `${what} on ${opts.brokers} failed: ${(err as Error).message}`, { cause: err, retriable: true });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function ensureTopics(opts: KafkaOptions, topics: { topic: string; partitions: number; config?: Record<string, string> }[]): Promise<void> {
  if (topics.length === 0) return;
  await withAdmin(opts, 'creating topics', async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    try {
      await admin.createTopics({
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      // Another process may have created it in between: that is fine.
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  });
}

export async function partitionCount(opts: KafkaOptions, topic: string): Promise<number> {
  return withAdmin(opts, `reading topic ${topic}`, async (admin) => {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      throw new KafkaConnectorError('no-topic', `topic "${topic}" does not exist on ${opts.brokers}: create it (with as many partitions as you want engine processes at most) or fix the source declaration`, { retriable: false });
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta[0]?.partitions.length ?? 0;
  });
}

/** High watermark (offset of the next record to be written) of every partition. */
export async function endOffsets(opts: KafkaOptions, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(opts, `reading end offsets of ${topic}`, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high ?? o.offset)]));
  });
}

/**
 * The members of a consumer group with the partitions of `topic` each owns.
 * A member's client id carries its query address (`aud@host:port`) when it
 * runs the query API, so that a process can say who answers for a partition.
 */
export async function groupMembers(opts: KafkaOptions, groupId: string, topic: string): Promise<{ clientId: string; host: string; partitions: number[] }[]> {
  return withAdmin(opts, `describing group ${groupId}`, async (admin) => {
    const { groups } = await admin.describeGroups([groupId]);
    return (groups[0]?.members ?? []).map((m) => ({
      clientId: m.clientId,
      host: m.clientHost,
      partitions: (m.assignment?.topicPartitions ?? []).filter((tp) => tp.topic === topic).map((tp) => tp.partition).sort((a, b) => a - b),
    }));
  });
}
