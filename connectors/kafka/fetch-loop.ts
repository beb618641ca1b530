/**
 * The source's fetch loop, run ahead of the handlers as Kafka Streams' poll
 * loop does: it takes whatever librdkafka has fetched (up to FETCH_RECORDS
 * records), splits it by partition and adds each part to its partition's
 * feed (partition-feed.ts), while earlier batches are still being handled;
 * past the in-flight bound (in-flight.ts) it waits for the handlers. (The
 * client's KafkaJS-style `eachBatch` fetches only once every batch it handed
 * out is finished, which leaves the consumer idle between rounds; see
 * docs/design.md, "Consuming".)
 *
 * A fetch has one shape whichever way it is read: the patched client's
 * packed consume when the source reads no headers, or message objects made
 * into one (packed-consume.ts), with their headers beside them, otherwise.
 */
import type { Message } from '@confluentinc/kafka-javascript';
import type { GroupConsumer } from './client.js';
import type { InFlightRecords } from './in-flight.js';
import { keyStartsOf, packedOfMessages, type PackedConsume } from './packed-consume.js';
import type { PartitionFeed } from './partition-feed.js';
import type { Fetch } from './pending-records.js';

/** The patched client's packed consume (lib/kafka-consumer.js, as patched). */
type PackedConsumeCall = (max: number, cb: (err: Error | null, batch: PackedConsume) => void) => void;

/** Most records taken from librdkafka at once (split by partition). */
const FETCH_RECORDS = 20_000;
/** How long one fetch waits for a first record (then returns what there is). */
const FETCH_WAIT_MS = 100;
/** Partition numbers per topic index in dispatch's keys (Kafka's are int32, never negative). */
const PARTITION_IDS = 2 ** 31;

export interface FetchTargets {
  /** The feed of a partition the source owns; undefined for one it does not (or no longer). */
  feedOf(topic: string, partition: number): PartitionFeed | undefined;
  stopping(): boolean;
}

export class FetchLoop {
  /** The number of the latest fetch from librdkafka: a seek notes it (partition-feed.ts). */
  fetchNumber = 0;
  private readonly packed: PackedConsumeCall | undefined;

  /** `headers`: read the records' headers (then message objects are fetched, not the packed consume). */
  constructor(
    private readonly consumer: GroupConsumer & { consumePacked?: PackedConsumeCall },
    private readonly headers: boolean,
    private readonly topics: string[],
    private readonly inFlight: InFlightRecords,
    private readonly targets: FetchTargets,
  ) {
    // Packed by the binding when headers are not wanted and the client is patched (patches/README.md).
    this.packed = !headers && consumer.consumePacked ? consumer.consumePacked.bind(consumer) : undefined;
    consumer.setDefaultConsumeTimeout(FETCH_WAIT_MS);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
  }

  async run(): Promise<void> {
    while (!this.targets.stopping()) {
      if (this.inFlight.full) {
        await this.inFlight.room();
        continue;
      }
      const number = ++this.fetchNumber;
      try {
        const fetch = await this.fetch();
        if (fetch.packed.meta.length > 0) this.dispatch(fetch, number);
      } catch (err) {
        if (this.targets.stopping()) return;
        process.stderr.write(`kafka warn: fetching from ${this.topics.join(', ')} failed, retrying: ${(err as Error).message}\n`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async fetch(): Promise<Fetch> {
    const packed = this.packed;
    if (packed) {
      const p = await new Promise<PackedConsume>((resolve, reject) => packed(FETCH_RECORDS, (err, b) => (err ? reject(err) : resolve(b))));
      return { packed: p, keyStarts: keyStartsOf(p.meta) };
    }
    const messages = await new Promise<Message[]>((resolve, reject) => this.consumer.consume(FETCH_RECORDS, (err, ms) => (err ? reject(err) : resolve(ms))));
    const p = packedOfMessages(messages);
    const fetch: Fetch = { packed: p, keyStarts: keyStartsOf(p.meta) };
    if (this.headers) fetch.headers = messages.map((m) => headerText(m.headers));
    return fetch;
  }

  /** Split a fetch by partition (message indexes, no object per message) and give each part to its partition's feed. */
  private dispatch(fetch: Fetch, number: number): void {
    const { meta, topics } = fetch.packed;
    // By topic index and partition (a partition number is below 2^31), without a string per message.
    const byPartition = new Map<number, number[]>();
    const count = meta.length / 4;
    for (let i = 0; i < count; i++) {
      const id = meta[i * 4]! * PARTITION_IDS + meta[i * 4 + 1]!;
      let list = byPartition.get(id);
      if (!list) byPartition.set(id, list = []);
      list.push(i);
    }
    for (const [id, indexes] of byPartition) {
      this.targets.feedOf(topics[Math.floor(id / PARTITION_IDS)]!, id % PARTITION_IDS)?.accept(fetch, indexes, number);
    }
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
