/**
 * The group source with `headers: false`, as the engine runs it: its
 * prefetch is kept as the patched client's packed columns and turned into
 * records only when a batch is handed out (connectors/kafka/pending-records.ts).
 * It must deliver what the object path delivers, and redeliver a failed
 * batch the same way. Needs the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaSource, type SourceRecord } from '../../connectors/kafka/source.js';
import { createTopic, produceBytes, testBrokers, uniqueTopic } from '../support/broker.js';

const PARTITIONS = 3;

/** Everything a source of its own group reads from `topic` until `expected` records were handled; `failOnce` makes that batch's handler throw the first time. */
async function readAll(topic: string, headers: boolean, expected: number, failOnce?: (r: SourceRecord) => boolean): Promise<{ handled: SourceRecord[]; failed: number; asColumns: number }> {
  const handled: SourceRecord[] = [];
  let failed = 0;
  let asColumns = 0;
  let done: () => void = () => undefined;
  const enough = new Promise<void>((res) => { done = res; });
  const source = new KafkaSource({ brokers: testBrokers(), clientId: 'aud-test-source', groupId: `${topic}.${headers ? 'objects' : 'columns'}`, topics: [topic], headers });
  await source.start({
    onAssign: async () => undefined,
    onRevoke: async () => undefined,
    onBatch: async (batch) => {
      if (failOnce && failed === 0 && batch.records.some(failOnce)) {
        failed++;
        throw new Error('handler failed once');
      }
      for (const r of batch.records) assert.equal(r.partition, batch.partition);
      if (batch.columns) {
        asColumns++;
        assert.equal(batch.columns.count, batch.records.length);
        batch.records.forEach((r, i) => assert.equal(r.offset, BigInt(batch.columns!.offsets[i]!)));
      }
      handled.push(...batch.records);
      if (handled.length >= expected) done();
    },
  });
  const timer = setTimeout(done, 60_000);
  await enough;
  clearTimeout(timer);
  await new Promise((res) => setTimeout(res, 500)); // nothing more may come
  await source.stop();
  return { handled, failed, asColumns };
}

function byPartition(records: SourceRecord[]): Map<number, SourceRecord[]> {
  const out = new Map<number, SourceRecord[]>();
  for (const r of records) out.set(r.partition, [...(out.get(r.partition) ?? []), r]);
  return out;
}

async function someTopic(prefix: string): Promise<{ topic: string; count: number }> {
  const topic = uniqueTopic(prefix);
  await createTopic(topic, PARTITIONS);
  const records = Array.from({ length: 3000 }, (_, i) => ({
    key: i % 17 === 4 ? null : `customer-${i % 400}-é`,
    value: i % 23 === 9 ? null : Buffer.from(`{"i":${i},"pad":"${'z'.repeat(i * 7 % 300)}"}`),
  }));
  await produceBytes(topic, records);
  return { topic, count: records.length };
}

test('source without headers (prefetch as columns): every record once, in offset order per partition, the same keys, values, offsets and timestamps as with headers', async () => {
  const { topic, count } = await someTopic('source-columns');
  const objects = await readAll(topic, true, count);
  const columns = await readAll(topic, false, count);
  assert.equal(columns.handled.length, count);
  assert.equal(objects.handled.length, count);
  // Batches of the packed path come as columns; their records share one frozen, empty headers object.
  assert.equal(objects.asColumns, 0);
  assert.ok(columns.asColumns > 0 && Object.isFrozen(columns.handled[0]!.headers),
    'the source read message objects, not columns: the installed @confluentinc/kafka-javascript lacks aud\'s consume-packed patch; run bash scripts/patch-kafka-client.sh');
  const a = byPartition(objects.handled);
  const b = byPartition(columns.handled);
  for (let p = 0; p < PARTITIONS; p++) {
    const x = a.get(p) ?? [];
    const y = b.get(p) ?? [];
    assert.equal(y.length, x.length, `records of partition ${p}`);
    y.forEach((r, i) => {
      assert.equal(r.offset, BigInt(i), `partition ${p}: offsets in order, none twice`);
      assert.equal(r.topic, topic);
      assert.deepEqual(r.key, x[i]!.key, `partition ${p} offset ${i}: key`);
      assert.deepEqual(r.value, x[i]!.value, `partition ${p} offset ${i}: value`);
      assert.equal(r.timestamp, x[i]!.timestamp, `partition ${p} offset ${i}: timestamp`);
      assert.deepEqual(r.headers, {});
    });
  }
});

test('source without headers: a batch whose handler throws is read again from its first record; nothing is lost or handled twice', async () => {
  const { topic, count } = await someTopic('source-columns-again');
  const { handled, failed } = await readAll(topic, false, count, (r) => r.partition === 1 && r.offset === 500n);
  assert.equal(failed, 1);
  assert.equal(handled.length, count);
  for (const [p, records] of byPartition(handled)) {
    records.forEach((r, i) => assert.equal(r.offset, BigInt(i), `partition ${p}: offsets in order, none twice`));
  }
  assert.ok(handled.some((r) => r.partition === 1 && r.offset === 500n));
});
