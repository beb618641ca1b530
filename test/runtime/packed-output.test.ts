import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outputEventJson, type OutputEvent } from '../../engine/output-event.js';
import { outputRecords, packedOutputRecords } from '../../runtime/output-records.js';
import { packedEventTexts, packOutput } from '../../runtime/packed-output.js';

const topics = { outputTopic: 'out', membershipTopic: 'members', deadLetterTopic: 'dlq', changelogTopic: 'log' };

const outputs: OutputEvent[] = [
  { type: 'enter', audience: 'vip', customer: 'c-1', at: '2026-01-01T00:00:00.000Z', version: 1, reason: 'event', cause: { topic: 'in', partition: 3, offset: '812' } },
  { type: 'enter', audience: 'cart "abandoner"', customer: 'ünïcødé 文', at: '2026-01-01T00:00:01.000Z', version: 3, reason: 'timer' },
  { type: 'leave', audience: 'vip', customer: 'c-1', at: '2026-01-02T00:00:00.000Z', version: 2, reason: 'timer' },
];

/** Packed records back as [topic, key, value] text triples. */
function unpacked(topic: string, data: Uint8Array, lengths: Int32Array, count: number): [string, string | null, string | null][] {
  const out: [string, string | null, string | null][] = [];
  let at = 0;
  const field = (n: number): string | null => {
    if (n < 0) return null;
    const text = Buffer.from(data.subarray(at, at + n)).toString('utf8');
    at += n;
    return text;
  };
  for (let i = 0; i < count; i++) out.push([topic, field(lengths[2 * i]!), field(lengths[2 * i + 1]!)]);
  assert.equal(at, data.length);
  return out;
}

test('packed output holds the records outputRecords makes, byte for byte, events then memberships', () => {
  const packed = packedOutputRecords(topics, packOutput(outputs));
  const fromPacked = packed.flatMap((p) => unpacked(p.topic, p.records.data, p.records.lengths, p.records.count));
  const expected = outputRecords(topics, outputs).map((r) => [r.topic, r.key, r.value] as [string, string | null, string | null]);
  const byTopic = (rs: [string, string | null, string | null][], t: string) => rs.filter((r) => r[0] === t);
  for (const t of ['out', 'members']) assert.deepEqual(byTopic(fromPacked, t), byTopic(expected, t));
  assert.equal(fromPacked.length, expected.length);
  // The membership tombstone on leave is a null value, not an empty one.
  assert.deepEqual(byTopic(fromPacked, 'members')[2], ['members', 'vip/c-1', null]);
});

test('packed output counts enter and leave events per audience', () => {
  assert.deepEqual(packOutput(outputs).counts, [
    { audience: 'vip', enters: 1, leaves: 1 },
    { audience: 'cart "abandoner"', enters: 1, leaves: 0 },
  ]);
  assert.deepEqual(packedOutputRecords(topics, undefined), []);
});

test('the live tail reads the events\' JSON back from packed output, the first `limit` of them', () => {
  const packed = packOutput(outputs);
  assert.deepEqual(packedEventTexts(packed, 100), outputs.map(outputEventJson));
  assert.deepEqual(packedEventTexts(packed, 2), outputs.slice(0, 2).map(outputEventJson));
});
