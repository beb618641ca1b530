/**
 * Avro container files (connectors/file/avro-container.ts) read as Avro on
 * Kafka is: the file is written by avsc with the schema in its header (logical
 * types included, as Java and Spark writers put them), and every record must
 * come out exactly as AvroInputDecoder gives the same record from a topic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { AvroInputDecoder } from '../../connectors/avro/index.js';
import { readAvroContainer } from '../../connectors/file/avro-container.js';
import { writeAvroContainer } from '../support/avro-files.js';

/** One record per event type, with the logical types aud converts. */
const SCHEMA = [
  { type: 'record', name: 'Purchase', namespace: 'retail', fields: [
    { name: 'type', type: 'string', default: 'purchase' },
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'paid_on', type: ['null', { type: 'int', logicalType: 'date' }], default: null },
    { name: 'total', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
  ] },
  { type: 'record', name: 'PageView', namespace: 'retail', fields: [
    { name: 'type', type: 'string', default: 'page_view' },
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'url', type: 'string' },
  ] },
];

// Written as a producer's library would, without aud's logical types: raw longs, ints and bytes.
const RECORDS = [
  { 'retail.Purchase': { type: 'purchase', customer_id: 'a', ts: 1767225600123000, paid_on: 20454, total: Buffer.from([0x30, 0x39]) } },
  { 'retail.PageView': { type: 'page_view', customer_id: 'a', ts: 1767225600500, url: '/sale' } },
  { 'retail.Purchase': { type: 'purchase', customer_id: 'b', ts: 1767225601000000, paid_on: null, total: Buffer.from([0xff, 0x38]) } },
];

test('an Avro container file reads as the same records from Kafka do: unions of records unwrapped, micros, dates and decimals converted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-container-'));
  try {
    const file = join(dir, 'events.avro');
    // avsc's default: the union of two records wrapped ({'retail.Purchase': ...}), null | T not.
    const type = avro.Type.forSchema(SCHEMA as avro.Schema);
    // Given the schema itself (not a type), avsc writes it to the header as is, logical types included.
    await writeAvroContainer(file, SCHEMA as avro.Schema, RECORDS);
    const header = avro.extractFileHeader(file)!; // decodes the schema to an object
    assert.match(JSON.stringify(header.meta['avro.schema']), /"logicalType":"timestamp-micros"/, 'the header carries the logical types');

    const got: Record<string, unknown>[] = [];
    for await (const { value } of readAvroContainer(file)) got.push(value);
    const kafka = AvroInputDecoder.plain(SCHEMA);
    assert.deepStrictEqual(got, RECORDS.map((r) => kafka.decodeSync(type.toBuffer(r))));
    assert.deepStrictEqual(got, [
      { type: 'purchase', customer_id: 'a', ts: 1767225600123, paid_on: 20454 * 86_400_000, total: 123.45 },
      { type: 'page_view', customer_id: 'a', ts: 1767225600500, url: '/sale' },
      { type: 'purchase', customer_id: 'b', ts: 1767225601000, paid_on: null, total: -2 },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
