/**
 * Which partition a producer puts a keyed record in, so that work done
 * outside Kafka (`aud backfill`) lands in the partition the live stream will
 * use for the same customer.
 *
 * - `murmur2`: the Java client's default (and Kafka Streams', ksqlDB's):
 *   `toPositive(murmur2(key)) % partitions`; librdkafka's `murmur2_random`.
 * - `crc32`: librdkafka's default `consistent_random` for keyed records:
 *   `crc32(key) % partitions` (what aud's own tools and most non-Java
 *   clients built on librdkafka produce with).
 */
import { crc32 } from 'node:zlib';

export type PartitionerName = 'murmur2' | 'crc32';

/** Kafka's Utils.murmur2, seed 0x9747b28c, over the key's UTF-8 bytes. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const base = length & ~3;
  if (rest === 3) h ^= (data[base + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[base + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[base]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

export function partitionFor(partitioner: PartitionerName, key: string, partitions: number): number {
  const bytes = encoder.encode(key);
  if (partitioner === 'murmur2') return (murmur2(bytes) & 0x7fffffff) % partitions;
  return crc32(bytes) % partitions;
}
