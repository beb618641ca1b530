/**
 * The installed Kafka client carries aud's consume patch
 * (patches/kafka-javascript-*-consume-arena.patch): a consumed batch's keys
 * and values are views of one ArrayBuffer, and they read back byte for byte,
 * nulls included. Needs the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPartition, type PartitionRecord } from '../../connectors/kafka/partition-reader.js';
import { createTopic, produceBytes, testBrokers, uniqueTopic } from '../support/broker.js';

test('consumed records: every key and value as produced, one ArrayBuffer per consumed batch (the client is patched)', async () => {
  const topic = uniqueTopic('client-patch');
  await createTopic(topic, 1);
  const produced = Array.from({ length: 300 }, (_, i) => ({
    key: i % 7 === 3 ? null : `customer-${i}-ü`,
    value: i % 11 === 5 ? null : Buffer.from(`{"n":${i},"pad":"${'x'.repeat(i * 13 % 900)}"}`),
  }));
  await produceBytes(topic, produced);

  const batches: PartitionRecord[][] = [];
  await readPartition({ brokers: testBrokers() }, topic, 0, undefined, async (records) => { batches.push(records); });
  const read = batches.flat();
  assert.equal(read.length, produced.length);
  read.forEach((r, i) => {
    assert.equal(r.offset, BigInt(i));
    assert.equal(r.key === null ? null : r.key.toString('utf8'), produced[i]!.key, `key ${i}`);
    assert.deepEqual(r.value, produced[i]!.value, `value ${i}`);
  });
  const biggest = batches.reduce((a, b) => (b.length > a.length ? b : a));
  const buffers = new Set(biggest.flatMap((r) => [r.key, r.value]).filter((b): b is Buffer => b !== null).map((b) => b.buffer));
  assert.equal(buffers.size, 1,
    `a batch of ${biggest.length} records came in ${buffers.size} ArrayBuffers: the installed @confluentinc/kafka-javascript lacks aud's consume patch; run bash scripts/patch-kafka-client.sh`);
});
