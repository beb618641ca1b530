/**
 * The webhook consumer on the real broker: enter/leave events produced to a
 * fresh topic arrive at a local HTTP endpoint once each, in order per
 * customer, despite the endpoint failing now and then; offsets are committed,
 * so a restart in the same group sends only what is new.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../engine/log.js';
import { WebhookConsumer } from '../../connectors/webhook/kafka-to-webhook.js';
import { verifySignature, WebhookSink } from '../../connectors/webhook/webhook-sink.js';
import { createTopic, produceJson, testBrokers, uniqueTopic } from '../support/broker.js';

interface Ev { type: 'enter' | 'leave'; audience: string; customer: string; at: string; version: number; reason: string }

/** Per customer and audience: enter, leave, enter, ... with versions 1, 2, 3, ... */
function enterLeave(customers: number, changes: number, fromVersion = 1): Ev[] {
  const out: Ev[] = [];
  for (let v = fromVersion; v < fromVersion + changes; v++) {
    for (let c = 0; c < customers; c++) {
      out.push({ type: v % 2 ? 'enter' : 'leave', audience: 'vip', customer: `c${c}`, at: new Date(Date.UTC(2026, 0, 1, 0, v)).toISOString(), version: v, reason: 'event' });
    }
  }
  return out;
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

test('aud webhook on Kafka: every event once, in order per customer; a restart resumes after the commit', async () => {
  const topic = uniqueTopic('webhook-in');
  await createTopic(topic, 3);
  const secret = 's3cret';
  const accepted: Ev[] = [];
  const keys = new Set<string>();
  let requests = 0;
  let badSignatures = 0;
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = Buffer.concat(chunks);
      if (!verifySignature(secret, req.headers['x-aud-timestamp'] as string, body, req.headers['x-aud-signature'] as string)) badSignatures++;
      // Every third request fails: the sink retries it.
      if (requests % 3 === 0) { res.writeHead(503).end(); return; }
      const key = req.headers['idempotency-key'] as string;
      if (!keys.has(key)) {
        keys.add(key);
        accepted.push(...(JSON.parse(body.toString('utf8')) as { events: Ev[] }).events);
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/events`;
  const dir = await mkdtemp(join(tmpdir(), 'aud-webhook-kafka-'));
  const deadLetterFile = join(dir, 'dead.jsonl');
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => logLines.push(l) });
  const groupId = `g-${topic}`;
  const consumer = (): WebhookConsumer => new WebhookConsumer({
    kafka: { brokers: testBrokers(), clientId: 'aud-webhook-test' },
    topic,
    groupId,
    sink: new WebhookSink({ url, secret, batchSize: 7, initialBackoffMs: 5, maxBackoffMs: 20, deadLetterFile, log }),
    log,
    progressMs: 0,
  });

  try {
    const first = enterLeave(20, 6);
    await produceJson(topic, [...first.map((e) => ({ key: e.customer, value: JSON.stringify(e) })), { key: 'c0', value: 'not json' }]);
    let c = consumer();
    await c.start();
    await until(() => accepted.length >= first.length, 30_000);
    await c.stop();
    assert.equal(accepted.length, first.length, 'every event arrived once');
    assert.deepEqual(sortEvents(accepted), sortEvents(first), 'and exactly these');
    assertOrderPerCustomer(accepted);
    assert.equal(badSignatures, 0);
    assert.ok(c.stats.retries > 0, 'the 503s were retried');
    assert.equal(c.stats.deadLettered, 1, 'the record that is not JSON');
    const dead = (await readFile(deadLetterFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { reason: string; event: unknown });
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.event, 'not json');
    assert.match(dead[0]!.reason, /is not JSON/);

    // Same group again: only new events go out.
    accepted.length = 0;
    const second = enterLeave(20, 2, 7);
    await produceJson(topic, second.map((e) => ({ key: e.customer, value: JSON.stringify(e) })));
    c = consumer();
    await c.start();
    await until(() => accepted.length >= second.length, 30_000);
    await new Promise((res) => setTimeout(res, 500)); // anything resent would show up now
    await c.stop();
    assert.deepEqual(sortEvents(accepted), sortEvents(second), 'the restart resumed after the committed offsets');
    assertOrderPerCustomer(accepted);
    assert.equal(c.stats.records, second.length);
  } finally {
    await new Promise<void>((res) => { srv.closeAllConnections(); srv.close(() => res()); });
    await rm(dir, { recursive: true, force: true });
  }
});

function sortEvents(list: Ev[]): Ev[] {
  return [...list].sort((a, b) => a.customer.localeCompare(b.customer) || a.version - b.version);
}

function assertOrderPerCustomer(list: Ev[]): void {
  const last = new Map<string, number>();
  for (const e of list) {
    const k = `${e.audience}/${e.customer}`;
    const prev = last.get(k);
    if (prev !== undefined) assert.equal(e.version, prev + 1, `${k}: version ${e.version} after ${prev}`);
    last.set(k, e.version);
  }
}
