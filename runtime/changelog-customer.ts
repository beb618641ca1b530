/**
 * One customer's committed state, read from the changelog rather than from
 * a running engine's store: what `aud why --brokers` explains. The
 * changelog holds every state write of the group, so this works whether or
 * not an engine runs, on any machine that reaches the brokers.
 *
 * A changelog partition is read from end to end, keeping only the
 * customer's key and the partition's own keys (meta, plan, audience lists),
 * complete commits only (restoreFromChangelog), read_committed: exactly the
 * state an engine restoring the partition would start from.
 *
 * Which partition holds the customer depends on how the input's producers
 * partition it: Java clients and Kafka Streams use murmur2, librdkafka
 * crc32. Both are tried first, then the other partitions.
 *
 * With an identity source the customer may be asked for by any identifier:
 * the profiles (`p/`) are kept too, and when none of the customers has that
 * id but a profile holds it, the partition is read again for the profile's.
 */
import { partitionCount } from '../connectors/kafka/admin.js';
import type { KafkaOptions } from '../connectors/kafka/options.js';
import { readPartitionColumns } from '../connectors/kafka/partition-reader.js';
import { partitionFor } from '../connectors/kafka/partitioner.js';
import type { Logger } from '../engine/log.js';
import { keyAt, valueAt } from '../engine/record-batch.js';
import { AUDIENCE_LIST_PREFIX, customerKey, PROFILE_PREFIX } from '../engine/state-keys.js';
import { MemoryStore } from '../engine/state/memory-store.js';
import type { StoreWrite } from '../engine/state/store.js';
import { restoreFromChangelog, type ChangelogChunk, type RestoreTarget } from './changelog.js';

const decoder = new TextDecoder();

export interface ChangelogCustomer {
  partition: number;
  /** The customer's id: the one asked for, or the profile id of the identifier asked for. */
  customer: string;
  /** The customer's key and the partition's own keys, as the changelog's last complete commit left them. */
  store: MemoryStore;
}

/** The customer's state from the group's changelog topic, or undefined when no partition holds it. */
export async function customerFromChangelog(
  kafka: KafkaOptions, changelogTopic: string, customer: string, log: Logger, identities = false,
): Promise<ChangelogCustomer | undefined> {
  const partitions = await partitionCount(kafka, changelogTopic);
  const likely = [partitionFor('murmur2', customer, partitions), partitionFor('crc32', customer, partitions)];
  const order = [...new Set([...likely, ...Array.from({ length: partitions }, (_, p) => p)])];
  const read = async (partition: number, id: string): Promise<OneCustomerTarget> => {
    const target = new OneCustomerTarget(customerKey(id), identities);
    await restoreFromChangelog(target, `${changelogTopic}/${partition}`, log,
      (from, onBatch) => readPartitionColumns(kafka, changelogTopic, partition, from, onBatch));
    return target;
  };
  for (const partition of order) {
    const target = await read(partition, customer);
    if (target.found) return { partition, customer, store: target.store };
    const profile = identities ? await profileHolding(target.store, customer) : undefined;
    if (profile === undefined) continue;
    const again = await read(partition, profile);
    if (again.found) return { partition, customer: profile, store: again.store };
  }
  return undefined;
}

/** The id of the profile (a `p/` record) that holds `identifier`, if any. */
async function profileHolding(store: MemoryStore, identifier: string): Promise<string | undefined> {
  for await (const [, value] of store.scan(PROFILE_PREFIX)) {
    const p = JSON.parse(decoder.decode(value)) as { id: string; identifiers: [number, string, number][] };
    if (p.identifiers.some(([, v]) => v === identifier)) return p.id;
  }
  return undefined;
}

/** A restore target that keeps one customer and the partition's own keys, in memory. */
class OneCustomerTarget implements RestoreTarget {
  readonly checkpoint = undefined;
  readonly store = new MemoryStore();
  found = false;

  /** `profiles`: keep the identity profiles (`p/`) too. */
  constructor(private readonly key: string, private readonly profiles: boolean) {}

  async apply(chunk: ChangelogChunk): Promise<void> {
    const writes: StoreWrite[] = [];
    const { records } = chunk;
    for (let i = 0; i < records.count; i++) {
      const keyBytes = keyAt(records, i);
      if (!keyBytes) continue;
      const key = decoder.decode(keyBytes);
      if (key !== this.key && !key.startsWith('m/') && !key.startsWith(AUDIENCE_LIST_PREFIX) && !(this.profiles && key.startsWith(PROFILE_PREFIX))) continue;
      const value = valueAt(records, i);
      writes.push(value === null ? { type: 'del', key } : { type: 'put', key, value: value.slice() });
      if (key === this.key) this.found = value !== null;
    }
    if (writes.length > 0) await this.store.write(writes);
  }

  async currentValues(keys: string[]): Promise<(Uint8Array | null)[]> {
    return (await this.store.getMany(keys)).map((v) => v ?? null);
  }
}
