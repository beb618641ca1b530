// Checks aud's Avro connector against Confluent's own JavaScript serde
// (@confluentinc/schemaregistry), without a registry server: Confluent's
// in-memory MockClient assigns the schema ids. Not part of `npm test` (the
// package is not a dependency of aud). To run it:
//
//   npx tsc -p . && d=$(mktemp -d) && (cd "$d" && npm init -y >/dev/null && npm install @confluentinc/schemaregistry@1.10.1) \
//     && node scripts/registry/confluent-interop.mjs "$d"
//
// The directory holding node_modules/@confluentinc/schemaregistry is the first argument.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const dir = process.argv[2];
if (!dir) { console.error('usage: node scripts/registry/confluent-interop.mjs DIR-WITH-node_modules'); process.exit(2); }
const require = createRequire(join(resolve(dir), 'package.json'));
const { MockClient, AvroSerializer, AvroDeserializer, SerdeType } = require('@confluentinc/schemaregistry');
const aud = await import(new URL('../../dist/connectors/avro/index.js', import.meta.url).href);

const V1 = { type: 'record', name: 'Event', namespace: 'retail', fields: [
  { name: 'type', type: 'string' }, { name: 'customer_id', type: 'string' },
  { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } }, { name: 'amount', type: 'double' },
  { name: 'coupon', type: ['null', 'string'], default: null } ] };
const confluent = new MockClient({ baseURLs: ['mock://'] });
await confluent.register('other-value', { schemaType: 'AVRO', schema: JSON.stringify({ type: 'record', name: 'X', fields: [] }) });
const id = await confluent.register('retail.events-value', { schemaType: 'AVRO', schema: JSON.stringify(V1) });

// Confluent's serializer → aud's decoder (writer schemas looked up in Confluent's client).
const ser = new AvroSerializer(confluent, SerdeType.VALUE, { useLatestVersion: true });
const value = { type: 'purchase', customer_id: 'c-1', ts: 1763800000123, amount: 9.5, coupon: 'X' };
const bytes = await ser.serialize('retail.events', value);
assert.equal(aud.decodeConfluent(bytes).schemaId, id);
const writers = {
  url: 'mock://', cachedType: () => undefined,
  async getSchemaById(i) { return { type: aud.parseAvroSchema((await confluent.getBySubjectAndId('retail.events-value', i)).schema) }; },
};
assert.deepStrictEqual(await aud.AvroInputDecoder.withRegistry(writers).decode(bytes), value);
assert.deepEqual([...aud.encodeConfluent(id, aud.parseAvroSchema(V1), value)], [...bytes], 'byte for byte the same as Confluent\'s serializer');

// aud's encoder → Confluent's deserializer.
const outId = await confluent.register('audiences-value', { schemaType: 'AVRO', schema: JSON.stringify(aud.SEGMENT_EVENT_SCHEMA) });
const enc = await aud.AvroOutputEncoder.create({ topic: 'audiences', registry: { register: async () => outId } });
const de = new AvroDeserializer(confluent, SerdeType.VALUE, {});
const events = [
  { type: 'enter', audience: 'vip', customer: 'c-1', at: '2026-11-22T10:00:00.000Z', version: 1, reason: 'event', cause: { topic: 'retail.events', partition: 3, offset: '812' } },
  { type: 'leave', audience: 'vip', customer: 'c-1', at: '2026-11-22T11:00:00.000Z', version: 2, reason: 'timer' },
  { type: 'enter', audience: 'vip', customer: 'c-2', at: '2026-11-22T12:00:00.000Z', version: 1, reason: 'event', cause: { line: 7 } },
];
for (const e of events) {
  const got = await de.deserialize('audiences', enc.encode(e));
  assert.deepStrictEqual(aud.fromAvroEvent({ ...got, cause: got.cause ? { ...got.cause } : null }), e);
}
console.log('confluent interop ok: wire format byte-identical; Confluent serializer → aud decoder; aud encoder → Confluent deserializer (3 events)');
