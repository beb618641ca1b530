/**
 * Decisions under `aud run` on the real broker, exactly-once: the retail
 * example's offers (examples/retail/offers.aud) give, on the output topic,
 * the decision events `aud replay` gives for the same events — across a
 * restart that lost the disk, so that what the caps count and the offer last
 * sent come back from the changelog — and `aud webhook` posts them on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFiles } from '../../dsl/compile.js';
import { WebhookConsumer } from '../../connectors/webhook/kafka-to-webhook.js';
import { WebhookSink } from '../../connectors/webhook/webhook-sink.js';
import { createLogger } from '../../engine/log.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';

const rules = [join(repo, 'examples/retail/retail.aud'), join(repo, 'examples/retail/offers.aud')];

const purchase = (c: string, ts: string, amount: number) => ({ customer_id: c, type: 'purchase', ts, amount, category: 'bags', sku: 'b', channel: 'web' });
/** The first part, before the restart: a VIP who buys upsells, a cart left overnight, an upsell sent twice. */
const FIRST = [
  purchase('c2', '2026-01-05T10:00:00Z', 6000),
  { customer_id: 'c1', type: 'add_to_cart', ts: '2026-01-05T21:30:00Z', sku: 's9' },
  purchase('c2', '2026-01-06T10:00:00Z', 3000),
  purchase('c2', '2026-01-07T10:00:00Z', 2000),
  purchase('c3', '2026-01-10T12:00:00Z', 40),
  purchase('c3', '2026-01-25T12:00:00Z', 40),
];
/** After the restart: c3's upsell is held by its cap (the sends of 10 and 25 January), and a login moves the clock past c2's lapse. */
const SECOND = [
  purchase('c3', '2026-02-08T13:00:00Z', 40),
  { customer_id: 'z', type: 'login', ts: '2026-03-10T00:00:00Z' },
];

/** What a consumer compares: everything but the cause (an offset on Kafka, a line in replay). */
function line(e: OutputEvent): string {
  const what = e.type === 'decision' ? `${e.decision} ${e.offer} ${e.score === null ? 'null' : e.score.toFixed(6)}` : e.audience;
  return `${e.at} ${e.customer} ${e.type} ${what} v${e.version} ${e.reason}`;
}

test('aud run --exactly-once: decision events equal replay\'s across a restart from the changelog alone; aud webhook posts them', async () => {
  const input = uniqueTopic('offers-in');
  const output = uniqueTopic('offers-out');
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-offers-'));
  const stateDir = join(work, 'state');
  const args = [...rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', stateDir, '--group', `g-${input}`, '--clock', 'event', '--exactly-once'];
  const produce = (events: Record<string, unknown>[]) => produceJson(input, events.map((e) => ({ key: String(e.customer_id), value: JSON.stringify(e) })));

  const compiled = await compileFiles(rules);
  const expected: string[] = [];
  const replayed = async (events: Record<string, unknown>[]) => {
    const out: string[] = [];
    await replay(compiled.plan!, events.map((value) => ({ value })), { onOutput: (o) => { out.push(...o.map(line)); } });
    return out;
  };
  expected.push(...await replayed([...FIRST, ...SECOND]));
  const firstPart = await replayed(FIRST);
  assert.ok(expected.some((l) => / c3 decision next_offer upsell .* timer$/.test(l)), `the cap holds c3's third upsell until it frees: ${expected.join('\n')}`);
  assert.ok(expected.some((l) => / c2 decision next_offer winback /.test(l)), 'c2 lapses and is offered the win-back');

  try {
    let engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produce(FIRST);
    const got = async (n: number) => (await readTopic(output, { expected: n, timeoutMs: 60_000 }))
      .map((r) => line(JSON.parse(String(r.value)) as OutputEvent));
    assert.deepEqual(await got(firstPart.length), firstPart);
    assert.equal(await engine.stop(), 0);

    // Lose the disk: the decision state comes back from the changelog with the rest of the customer.
    await rm(stateDir, { recursive: true, force: true });
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produce(SECOND);
    const all = await got(expected.length);
    assert.deepEqual(all, expected);
    assert.equal(await engine.stop(), 0);

    // The webhook consumer posts the decision events as they are on the topic.
    const posted: Record<string, unknown>[] = [];
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posted.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Record<string, unknown>[] }).events);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const log = createLogger({ level: 'error', write: () => undefined });
    const consumer = new WebhookConsumer({
      kafka: { brokers: testBrokers(), clientId: 'aud-offers-webhook' }, topic: output, groupId: `w-${output}`,
      sink: new WebhookSink({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, deadLetterFile: join(work, 'dead.jsonl'), log }),
      log, progressMs: 0,
    });
    try {
      await consumer.start();
      const deadline = Date.now() + 30_000;
      while (posted.length < expected.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    } finally {
      await consumer.stop();
      await new Promise<void>((res) => { srv.closeAllConnections(); srv.close(() => res()); });
    }
    assert.deepEqual(posted.map((e) => line(e as unknown as OutputEvent)), expected);
    const decision = posted.find((e) => e['type'] === 'decision' && e['reason'] === 'event')!;
    assert.deepEqual(Object.keys(decision), ['type', 'decision', 'offer', 'customer', 'at', 'score', 'version', 'reason', 'cause']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
