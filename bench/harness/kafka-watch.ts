/**
 * The harness's view of the broker: one admin connection, kept open for a
 * whole run, to read end offsets and a group's committed offsets every few
 * hundred milliseconds (cheaper than a JVM tool per poll on a 2-core
 * machine), and to create and delete the run's topics.
 */
import { createAdmin, type Admin } from '../../connectors/kafka/client.js';

export class KafkaWatch {
  private readonly admin: Admin;

  constructor(readonly brokers: string) {
    this.admin = createAdmin({ brokers, clientId: 'aud-bench-harness' });
  }

  async connect(): Promise<void> { await this.admin.connect(); }
  async close(): Promise<void> { await this.admin.disconnect().catch(() => undefined); }

  /** Sum over the partitions of the next offset to be written. */
  async endOffset(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high ?? o.offset), 0);
  }

  /** Sum over the partitions of the group's committed offsets (0 where none). */
  async committedOffset(group: string, topic: string): Promise<number> {
    const answer = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    let sum = 0;
    for (const t of answer) for (const p of t.partitions) sum += Math.max(0, Number(p.offset));
    return sum;
  }

  async createTopic(topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
    await this.admin.createTopics({
      topics: [{ topic, numPartitions: partitions, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
    });
  }

  async topicsWithPrefix(prefix: string): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length > 0) await this.admin.deleteTopics({ topics, timeout: 30_000 });
  }

  async deleteGroups(groups: string[]): Promise<void> {
    if (groups.length > 0) await this.admin.deleteGroups(groups).catch(() => undefined);
  }
}
