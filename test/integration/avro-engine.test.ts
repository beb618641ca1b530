/**
 * Avro on the real broker: the events of examples/thresholds encoded as Avro
 * (with avsc directly, not with aud's encoder), produced to a topic and run
 * through `aud run`; the enter/leave events must be exactly what `aud replay`
 * gives for the same events as JSON Lines. The records that are bad in the
 * JSON file are bad here too (two do not decode, one has no customer id),
 * and each lands in `<input>.dlq` with the bytes read and its reason while
 * the partition goes on.
 *
 * The Confluent wire format runs in-process, with writer schemas from memory
 * (no registry server can run here; see connectors/avro/README.md): two writer
 * versions, an unknown id, JSON by mistake, and a registry that fails twice,
 * which delays the batch and dead-letters nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { AvroInputDecoder, AvroValueDecoder, frameConfluent, parseAvroSchema, RegistryError, type AvroType, type WriterSchemas } from '../../connectors/avro/index.js';
import { compileFiles } from '../../dsl/compile.js';
import { changelogTopicFor, deadLetterTopicFor, membershipTopicFor } from '../../runtime/naming.js';
import { KafkaRuntime } from '../../runtime/kafka-runtime.js';
import { createLogger } from '../../engine/log.js';
import { createTopic, produceBytes, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { SHOP_EVENT_FIELDS } from '../support/avro-files.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo, thresholdsRecords } from '../support/examples.js';

const cli = join(repo, 'dist/cli/aud.js');
const rulesJson = join(repo, 'examples/thresholds/thresholds.aud');
const eventsJson = join(repo, 'examples/thresholds/events.jsonl');

interface Out { type: string; audience: string; customer: string; at: string; version: number; reason: string; cause?: unknown }

function withoutCause(o: Out): Omit<Out, 'cause'> {
  const { cause: _cause, ...rest } = o;
  return rest;
}

/** The schema producers of the Avro topic write with. */
const EVENT_SCHEMA = { type: 'record', name: 'Event', namespace: 'thresholds', fields: SHOP_EVENT_FIELDS };
// Without logical types: the test writes plain longs, as a producer's library would.
const rawEvent = avro.Type.forSchema(EVENT_SCHEMA as avro.Schema);

/** The thresholds rules with `format avro` in their source block. */
async function avroRules(dir: string): Promise<string> {
  const text = (await readFile(rulesJson, 'utf8')).replace(/(\n  time\s+ts\n)\}/, '$1  format avro\n}');
  assert.match(text, /format avro/);
  const file = join(dir, 'thresholds-avro.aud');
  await writeFile(file, text);
  return file;
}

interface AvroCase {
  records: { key: string | null; value: Buffer }[];
  /** Value bytes and reason of each record that must be dead-lettered, in order. */
  dead: { bytes: Buffer; reason: string }[];
}

/**
 * events.jsonl as Avro values. Its two values no Avro schema can hold (a line
 * that is not JSON, an amount of "lots") become a truncated record and one
 * with trailing bytes; the event with no customer id keeps a null one.
 */
async function thresholdsAsAvro(encode: (value: Record<string, unknown>) => Buffer, label: (bytes: Buffer) => string): Promise<AvroCase> {
  const lines = (await readFile(eventsJson, 'utf8')).trim().split('\n');
  const out: AvroCase = { records: [], dead: [] };
  for (const line of lines) {
    let o: Record<string, unknown>;
    try { o = JSON.parse(line) as Record<string, unknown>; } catch {
      const whole = encode({ customer_id: 'c9', type: 'purchase', ts: 0, amount: 1, channel: 'web', url: null });
      const truncated = whole.subarray(0, whole.length - 3);
      out.records.push({ key: null, value: truncated });
      out.dead.push({ bytes: truncated, reason: `Avro: does not decode with ${label(whole)}: truncated buffer` });
      continue;
    }
    const value = { customer_id: o.customer_id ?? null, type: o.type, ts: Date.parse(o.ts as string), amount: null, channel: o.channel ?? null, url: o.url ?? null } as Record<string, unknown>;
    if (typeof o.amount === 'number') value.amount = o.amount;
    let bytes = encode(value);
    if (o.amount === 'lots') {
      bytes = Buffer.concat([bytes, Buffer.from([0x02, 0x02])]);
      out.dead.push({ bytes, reason: `Avro: does not decode with ${label(bytes)}: trailing data` });
    } else if (o.customer_id === undefined) {
      out.dead.push({ bytes, reason: 'no customer id: field "customer_id" is missing' });
    }
    out.records.push({ key: (o.customer_id as string | undefined) ?? null, value: bytes });
  }
  return out;
}

/** What `aud replay` gives for the JSON Lines file. */
function replayed(): Out[] {
  const r = spawnSync(process.execPath, [cli, 'replay', rulesJson, '--input', eventsJson], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Out);
  assert.ok(out.length >= 5, 'the example has enough enter/leave events to compare');
  return out;
}

function assertDeadLetters(dead: Awaited<ReturnType<typeof readTopic>>, expected: AvroCase['dead'], input: string): void {
  assert.deepEqual(dead.map((d) => d.headers['aud.error']), expected.map((d) => d.reason));
  for (const [i, d] of dead.entries()) {
    assert.ok(d.bytes && d.bytes.equals(expected[i]!.bytes), `dead letter ${i} holds the bytes that were read`);
    assert.equal(d.headers['aud.source.topic'], input);
    assert.equal(d.headers['aud.source.partition'], '0');
  }
}

test('aud run, format avro with --avro-schema: replay\'s exact enter/leave sequence; undecodable records dead-lettered with their reason', async () => {
  const expected = replayed();
  const input = uniqueTopic('avro-in');
  const output = uniqueTopic('avro-out');
  await createTopic(input, 1);
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-it-'));
  const schemaFile = join(dir, 'event.avsc');
  await writeFile(schemaFile, JSON.stringify(EVENT_SCHEMA, null, 2));
  const engine = new EngineProcess([await avroRules(dir), '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(dir, 'state'), '--group', `g-${input}`, '--clock', 'event', '--avro-schema', schemaFile]);
  try {
    await engine.waitForLog(/partition assigned/);
    assert.ok(engine.logs.some((l) => l.includes('Avro input: the declared events fit the schema') && l.includes(schemaFile)), engine.logs.join('\n'));
    const avroCase = await thresholdsAsAvro((v) => rawEvent.toBuffer(v), () => 'the schema thresholds.Event');
    await produceBytes(input, avroCase.records);

    const got = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000, settleMs: 2000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(got.map(withoutCause), expected.map(withoutCause), 'the output topic carries exactly what replay gives for the JSON events');
    assertDeadLetters(await readTopic(deadLetterTopicFor(input), { expected: avroCase.dead.length, timeoutMs: 30_000 }), avroCase.dead, input);
    assert.equal(engine.logs.filter((l) => l.includes('bad record sent to dead-letter topic')).length, avroCase.dead.length);
    assert.equal(await engine.stop(), 0);
  } finally {
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('aud run, format avro: a declared field the schema lacks stops start-up with every problem listed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-check-'));
  try {
    const schemaFile = join(dir, 'event.avsc');
    await writeFile(schemaFile, JSON.stringify({
      ...EVENT_SCHEMA,
      fields: EVENT_SCHEMA.fields.filter((f) => f.name !== 'channel').map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f)),
    }));
    // The check runs before Kafka is contacted: an unused port shows it.
    const r = spawnSync(process.execPath, [cli, 'run', await avroRules(dir), '--brokers', '127.0.0.1:1', '--state-dir', join(dir, 'state'), '--avro-schema', schemaFile],
      { cwd: repo, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot start: the declared events do not fit the Avro schema \\(${schemaFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): 3 problems:`));
    for (const problem of [
      'event purchase declares amount: number, but the Avro schema "thresholds.Event" has amount as string (a number needs int, long, float, double or decimal)',
      'event purchase declares channel: string, but the Avro schema "thresholds.Event" has no field channel (its fields: customer_id, type, ts, amount, url)',
      'event refund declares amount: number, but the Avro schema "thresholds.Event" has amount as string (a number needs int, long, float, double or decimal)',
    ]) assert.ok(r.stderr.includes(`\n  - ${problem}`), `${problem}\nnot in:\n${r.stderr}`);
    assert.match(r.stderr, /\nNothing was read\. Change the event declarations \(or the source block\) to fit the schema, or give the schema the producers write with/);
    assert.doesNotMatch(r.stderr, /engine started|waiting for Kafka/);

    // The same from the config file: avro-schema is a key like any flag.
    const config = join(dir, 'aud.config.yaml');
    await writeFile(config, `files: [${await avroRules(dir)}]\nbrokers: 127.0.0.1:1\nstate-dir: ${join(dir, 'state')}\navro-schema: ${schemaFile}\n`);
    const fromConfig = spawnSync(process.execPath, [cli, 'run', '--config', config], { cwd: repo, encoding: 'utf8', timeout: 30_000 });
    assert.equal(fromConfig.status, 1, fromConfig.stderr);
    assert.match(fromConfig.stderr, /cannot start: the declared events do not fit the Avro schema .*: 3 problems:/);

    const none = spawnSync(process.execPath, [cli, 'run', await avroRules(dir), '--brokers', '127.0.0.1:1', '--state-dir', join(dir, 'state')],
      { cwd: repo, encoding: 'utf8', timeout: 30_000 });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /cannot start: the source is format avro, but no schema was given: pass --avro-schema FILE\.avsc/);

    const json = spawnSync(process.execPath, [cli, 'run', rulesJson, '--brokers', '127.0.0.1:1', '--state-dir', join(dir, 'state'), '--schema-registry', 'http://127.0.0.1:1'],
      { cwd: repo, encoding: 'utf8', timeout: 30_000 });
    assert.equal(json.status, 1);
    assert.match(json.stderr, /cannot start: --schema-registry is given, but nothing is Avro: the source block reads format json and --output-format is json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('format avro, Confluent wire format (writer schemas from memory): two writer versions, unknown id, JSON by mistake, a registry that fails twice', async () => {
  const expected = replayed();
  const input = uniqueTopic('avro-cf-in');
  const output = uniqueTopic('avro-cf-out');
  await createTopic(input, 1);
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-cf-'));
  // Version 1 lacks `url`; the reader schema (version 2) gives it its default.
  const v1 = { ...EVENT_SCHEMA, fields: EVENT_SCHEMA.fields.filter((f) => f.name !== 'url') };
  const rawV1 = avro.Type.forSchema(v1 as avro.Schema);
  const schemas = new Map<number, AvroType>([[1, parseAvroSchema(v1)], [2, parseAvroSchema(EVENT_SCHEMA)]]);
  let failures = 2;
  const fetches: number[] = [];
  const writers: WriterSchemas = {
    url: 'memory://writers',
    cachedType: () => undefined,
    async getSchemaById(id) {
      fetches.push(id);
      if (failures-- > 0) throw new RegistryError('unreachable', 'connect ECONNREFUSED (test)', { retriable: true });
      const type = schemas.get(id);
      if (!type) throw new RegistryError('not-found', `schema ${id} not found`, { status: 404, errorCode: 40403, retriable: false });
      return { type };
    },
  };
  const logs: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => logs.push(l) });
  const compiled = await compileFiles([await avroRules(dir)]);
  assert.ok(compiled.plan, 'the rules compile');
  const runtime = new KafkaRuntime({
    plan: compiled.plan, kafka: { brokers: testBrokers(), clientId: 'aud-avro-test' }, groupId: `g-${input}`, stateDir: join(dir, 'state'),
    inputTopic: input, outputTopic: output, membershipTopic: membershipTopicFor(output), deadLetterTopic: deadLetterTopicFor(input),
    changelogTopic: changelogTopicFor(`g-${input}`), clock: 'event', tickMs: 1000, exactlyOnce: false, workers: 1, log,
    valueDecoder: new AvroValueDecoder(AvroInputDecoder.withRegistry(writers, EVENT_SCHEMA), 'Avro (test)'),
  });
  try {
    await runtime.start();
    let n = 0;
    const avroCase = await thresholdsAsAvro((v) => {
      // Writer versions alternate record by record, as during a rolling upgrade of the producers.
      if (v.url === null && n++ % 2 === 0) { const { url: _u, ...old } = v; return frameConfluent(1, rawV1.toBuffer(old)); }
      return frameConfluent(2, rawEvent.toBuffer(v));
    }, (bytes) => `writer schema id ${bytes.readUInt32BE(1)} (thresholds.Event)`);
    const json = Buffer.from('{"customer_id":"c5","type":"purchase","ts":"2026-01-08T00:00:00Z","amount":500,"channel":"web"}');
    const unknown = frameConfluent(7, rawEvent.toBuffer({ customer_id: 'c5', type: 'purchase', ts: 0, amount: 500, channel: 'web', url: null }));
    await produceBytes(input, [...avroCase.records, { key: 'c5', value: json }, { key: 'c5', value: unknown }]);
    const dead = [...avroCase.dead,
      { bytes: json, reason: 'Avro: not Confluent wire format: first byte is 0x7b (\'{\'), expected 0x00: it looks like JSON, but the source says format avro' },
      { bytes: unknown, reason: 'Avro: schema id 7 is not in the registry at memory://writers' }];

    const got = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000, settleMs: 2000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(got.map(withoutCause), expected.map(withoutCause), 'both writer versions read as one shape: replay\'s sequence exactly');
    assertDeadLetters(await readTopic(deadLetterTopicFor(input), { expected: dead.length, timeoutMs: 30_000 }), dead, input);
    assert.ok(logs.some((l) => l.includes('cannot decode Avro (test) values now; retrying the batch in 0.5 s (records are not dead-lettered for this)')),
      'the registry failures were retried');
    assert.equal(runtime.counters.bad, dead.length);
    assert.deepEqual([...new Set(fetches)].sort(), [1, 2, 7], 'each writer schema id fetched, none per record');
  } finally {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('aud run --output-format avro: enter/leave events decode with segment-event.avsc (read by avsc) and equal replay\'s', async () => {
  const expected = replayed();
  const input = uniqueTopic('avro-outfmt-in');
  const output = uniqueTopic('avro-outfmt-out');
  await createTopic(input, 1);
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-out-'));
  const segmentEvent = avro.Type.forSchema(JSON.parse(await readFile(join(repo, 'connectors/avro/segment-event.avsc'), 'utf8')) as avro.Schema);
  const engine = new EngineProcess([rulesJson, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(dir, 'state'), '--group', `g-${input}`, '--clock', 'event', '--output-format', 'avro']);
  try {
    await engine.waitForLog(/partition assigned/);
    await produceJson(input, await thresholdsRecords());
    const got = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000, settleMs: 2000 }))
      .map((r) => segmentEvent.fromBuffer(r.bytes!) as Record<string, unknown>);
    assert.deepEqual(got.map((g) => ({ type: g.type, audience: g.audience, customer: g.customer, at: g.at, version: g.version, reason: g.reason })),
      expected.map(withoutCause));
    for (const g of got.filter((x) => x.reason === 'event')) {
      assert.deepEqual({ ...(g.cause as object) }, { topic: input, partition: 0, offset: (g.cause as { offset: string }).offset, line: null });
      assert.match((g.cause as { offset: string }).offset, /^\d+$/);
    }
    // The membership topic stays JSON: it is aud's own record of who is in, not an interface.
    const members = await readTopic(membershipTopicFor(output), { expected: 1, timeoutMs: 30_000 });
    assert.doesNotThrow(() => JSON.parse(members[0]!.value!));
    assert.equal(await engine.stop(), 0);
  } finally {
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('aud run, format avro: a schema registry that does not answer at start-up is waited for, and its password is not logged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-reg-'));
  // A port nothing listens on: taken, then given back.
  const port = await new Promise<number>((res) => { const srv = createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => res(p)); }); });
  const engine = new EngineProcess([await avroRules(dir), '--brokers', testBrokers(), '--state-dir', join(dir, 'state'),
    '--schema-registry', `http://aud:s3cret@127.0.0.1:${port}`]);
  try {
    await engine.waitForLog(/waiting for the schema registry at http:\/\/127\.0\.0\.1:\d+; retrying in 1 s/, 1, 30_000);
    assert.match(engine.logs.join('\n'), /is unreachable \(fetching version latest of subject "shop\.events-value"\)/);
    assert.ok(!engine.logs.some((l) => l.includes('s3cret')), 'no password in the log');
    assert.ok(!engine.logs.some((l) => l.includes('engine started')), 'the engine does not start without the schema');
  } finally {
    engine.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

test('format avro, Confluent wire format: a registry down for longer than the retry window gives the batch back; it is read again, nothing lost or dead-lettered', async () => {
  const input = uniqueTopic('avro-down-in');
  const output = uniqueTopic('avro-down-out');
  await createTopic(input, 1);
  const dir = await mkdtemp(join(tmpdir(), 'aud-avro-down-'));
  // One id: six failed fetches exhaust one batch's attempts (the first and five retries); the seventh fails on redelivery.
  let failures = 7;
  const writers: WriterSchemas = {
    url: 'memory://writers',
    cachedType: () => undefined,
    async getSchemaById() {
      if (failures-- > 0) throw new RegistryError('unreachable', 'connect ECONNREFUSED (test)', { retriable: true });
      return { type: parseAvroSchema(EVENT_SCHEMA) };
    },
  };
  const logs: string[] = [];
  const compiled = await compileFiles([await avroRules(dir)]);
  const runtime = new KafkaRuntime({
    plan: compiled.plan!, kafka: { brokers: testBrokers(), clientId: 'aud-avro-test' }, groupId: `g-${input}`, stateDir: join(dir, 'state'),
    inputTopic: input, outputTopic: output, membershipTopic: membershipTopicFor(output), deadLetterTopic: deadLetterTopicFor(input),
    changelogTopic: changelogTopicFor(`g-${input}`), clock: 'event', tickMs: 1000, exactlyOnce: false, workers: 0,
    log: createLogger({ level: 'info', write: (l) => logs.push(l) }),
    valueDecoder: new AvroValueDecoder(AvroInputDecoder.withRegistry(writers), 'Avro (test)'),
  });
  try {
    await runtime.start();
    const event = (customer: string, ts: string, amount: number) =>
      ({ key: customer, value: frameConfluent(3, rawEvent.toBuffer({ customer_id: customer, type: 'purchase', ts: Date.parse(ts), amount, channel: 'web', url: null })) });
    await produceBytes(input, [event('d1', '2026-01-01T00:00:00Z', 150), event('d2', '2026-01-01T01:00:00Z', 20)]);
    const got = (await readTopic(output, { expected: 3, timeoutMs: 90_000, settleMs: 2000 })).map((r) => JSON.parse(String(r.value)) as Out);
    assert.deepEqual(got.map((o) => `${o.type} ${o.audience} ${o.customer} v${o.version}`),
      ['enter weekly_spender d1 v1', 'enter net_positive d1 v1', 'enter online_spender d1 v1'], logs.join('\n'));
    assert.ok(failures < 0, 'every planned failure happened');
    assert.equal(logs.filter((l) => l.includes('retrying the batch in 8 s')).length, 1, 'one batch used its whole retry window');
    assert.equal(runtime.counters.bad, 0, 'nothing dead-lettered for the outage');
    assert.equal(runtime.counters.applied, 2, 'each record applied once');
  } finally {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
