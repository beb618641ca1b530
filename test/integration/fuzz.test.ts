/**
 * Fuzz through the real Kafka path: random bytes and mutated good records
 * (bytes flipped, cut short, hostile values spliced in) among good ones. The
 * engine must not crash, must dead-letter every bad record with the reason
 * the decoder gives, and must apply every good one: its output equals replay
 * of the same records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../../dsl/compile.js';
import { RecordDecoder, type InputRecord } from '../../engine/input-record.js';
import { outputEventJson, type OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { createTopic, produceBytes, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';

const rulesFile = join(repo, 'examples/thresholds/thresholds.aud');

function random(seed: number): () => number {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
}

const HOSTILE = ['1e400', '-1e400', '"' + 'x'.repeat(70_000) + '"', '[' + '['.repeat(5000) + ']'.repeat(5000) + ']', '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
  'true', 'null', '{}', '[]', '"\\ud800"', '-0', '1e300', '"2030-01-01T00:00:00Z"'];

function records(seed: number, n: number): Buffer[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: Buffer[] = [];
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < n; i++) {
    const good = {
      customer_id: `c${Math.floor(rnd() * 40)}`, type: pick(['purchase', 'refund', 'page_view']),
      ts: new Date(start + i * 600_000).toISOString(), amount: Math.floor(rnd() * 120), channel: pick(['web', 'store']),
    };
    const text = JSON.stringify(good);
    const roll = rnd();
    if (roll < 0.5) { out.push(Buffer.from(text)); continue; }
    if (roll < 0.6) { out.push(Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)))); continue; }
    if (roll < 0.75) {
      const bytes = Buffer.from(text);
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      out.push(bytes);
      continue;
    }
    if (roll < 0.85) { out.push(Buffer.from(text.slice(0, Math.floor(rnd() * text.length)))); continue; }
    // A hostile value in place of one field's.
    const field = pick(['customer_id', 'type', 'ts', 'amount', 'channel']);
    out.push(Buffer.from(text.replace(new RegExp(`"${field}":("[^"]*"|[^,}]*)`), `"${field}":${pick(HOSTILE)}`)));
  }
  return out;
}

test('fuzz: random and mutated records through Kafka: no crash, every bad one dead-lettered with its reason, the good ones give replay\'s output', async (t) => {
  const plan = compileSources(new Map([[rulesFile, await readFile(rulesFile, 'utf8')]])).plan!;
  const decoder = new RecordDecoder(plan);
  // A record with no time of its own would take the Kafka timestamp, which replay cannot know: left out.
  const values = records(11, 1500).filter((value) => {
    const d = decoder.decode(value);
    return !(d.kind === 'bad' && d.reason.startsWith('no event time'));
  });
  const expected: OutputEvent[] = [];
  const expectedBad: string[] = [];
  const input: InputRecord[] = values.map((value) => ({ value, key: null }));
  await replay(plan, input, { onOutput: (e) => { expected.push(...e); }, onBad: (b) => { expectedBad.push(b.reason); } });
  assert.ok(expectedBad.length > 300, `the fuzz makes bad records (${expectedBad.length})`);
  assert.ok(expected.length > 20, `and the good ones make output (${expected.length})`);

  const topic = uniqueTopic('fuzz-in');
  const output = uniqueTopic('fuzz-out');
  await createTopic(topic, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-fuzz-'));
  const engine = new EngineProcess([rulesFile, '--brokers', testBrokers(), '--topic', topic, '--output-topic', output,
    '--state-dir', join(work, 'state'), '--group', `g-${topic}`, '--clock', 'event']);
  try {
    await engine.waitForLog(/partition assigned/);
    await produceBytes(topic, values.map((value) => ({ key: null, value })));
    const dead = await readTopic(`${topic}.dlq`, { expected: expectedBad.length, timeoutMs: 60_000 });
    assert.deepEqual(dead.map((d) => d.headers['aud.error']), expectedBad, 'every bad record, in order, with the decoder\'s reason');
    for (const d of dead) assert.deepEqual(d.bytes, values[Number(d.headers['aud.source.offset'])], 'the dead letter carries the bytes read');
    // As written on the topic, less the cause (replay's records have no offsets).
    const comparable = (json: string) => {
      const { cause: _cause, ...rest } = JSON.parse(json) as Record<string, unknown>;
      return rest;
    };
    const out = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000, settleMs: 1000 })).map((r) => comparable(String(r.value)));
    assert.deepEqual(out, expected.map((e) => comparable(outputEventJson(e))));
    assert.equal(await engine.stop(), 0, 'the engine is still running and stops cleanly');
    t.diagnostic(`${values.length} records: ${dead.length} dead-lettered with the decoder's reason, ${values.length - dead.length} good, ${out.length} enter/leave events as replay's, 0 crashes`);
  } finally {
    await engine.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
});
