/**
 * The webhook sink against a real HTTP server on an ephemeral port:
 * signatures, batching, retries (503, 429 with Retry-After, timeouts),
 * dead letters for a 400 and for an endpoint that is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../engine/log.js';
import { signatureFor, verifySignature, WebhookSink, type WebhookSinkOptions } from '../../connectors/webhook/webhook-sink.js';

interface Received { headers: IncomingHttpHeaders; body: Buffer; at: number }

/** A server that records every request and answers with `reply(index, res)` (default 200). */
async function server(reply?: (index: number, res: ServerResponse) => void): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const index = requests.length;
      requests.push({ headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
      if (reply) reply(index, res);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook?token=abc`,
    requests,
    close: () => new Promise<void>((res) => { srv.closeAllConnections(); srv.close(() => res()); }),
  };
}

const lines: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
const secret = 'test-secret';

function events(n: number, from = 0): object[] {
  return Array.from({ length: n }, (_, i) => ({ type: i % 2 ? 'leave' : 'enter', audience: 'vip', customer: `c${from + i}`, at: '2026-01-01T00:00:00.000Z', version: 1, reason: 'event' }));
}

function received(r: Received): object[] {
  return (JSON.parse(r.body.toString('utf8')) as { events: object[] }).events;
}

async function withSink<T>(url: string, opts: Partial<WebhookSinkOptions>, fn: (sink: WebhookSink, deadLetterFile: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aud-webhook-'));
  const deadLetterFile = join(dir, 'dead.jsonl');
  try {
    return await fn(new WebhookSink({ url, secret, initialBackoffMs: 5, maxBackoffMs: 50, timeoutMs: 2000, deadLetterFile, log, ...opts }), deadLetterFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function deadLetters(file: string): Promise<{ at: string; reason: string; status?: number; attempts: number; event: unknown }[]> {
  return (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as never);
}

test('requests are signed over timestamp.body, carry an idempotency key, and verify', async () => {
  const srv = await server();
  try {
    await withSink(srv.url, { headers: { Authorization: 'Bearer x', 'content-type': 'text/plain' } }, async (sink) => {
      const res = await sink.send(events(3));
      assert.deepEqual(res, { delivered: 3, deadLettered: 0, retries: 0, requests: 1 });
    });
    assert.equal(srv.requests.length, 1);
    const { headers, body } = srv.requests[0]!;
    assert.equal(headers['content-type'], 'application/json', 'aud\'s content type wins over an extra header');
    assert.equal(headers['authorization'], 'Bearer x');
    assert.deepEqual(received(srv.requests[0]!), events(3));
    const ts = headers['x-aud-timestamp'] as string;
    const sig = headers['x-aud-signature'] as string;
    assert.match(ts, /^\d+$/);
    assert.ok(Math.abs(Number(ts) - Date.now()) < 5000);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(headers['idempotency-key'], createHash('sha256').update(body).digest('hex'));

    assert.equal(verifySignature(secret, ts, body, sig), true);
    assert.equal(verifySignature(secret, ts, body.toString('utf8'), sig), true, 'a string body verifies too');
    assert.equal(verifySignature(secret, ts, body, sig, { toleranceMs: 60_000 }), true);
    assert.equal(verifySignature(secret, ts, body, sig, { toleranceMs: 60_000, now: Number(ts) + 120_000 }), false, 'too old: a replay');
    assert.equal(verifySignature('other-secret', ts, body, sig), false);
    assert.equal(verifySignature(secret, String(Number(ts) + 1), body, sig), false, 'the timestamp is signed');
    assert.equal(verifySignature(secret, ts, Buffer.concat([body, Buffer.from(' ')]), sig), false, 'the exact bytes are signed');
    assert.equal(verifySignature(secret, ts, body, sig.slice(0, -1)), false);
    assert.equal(verifySignature(secret, ts, body, undefined), false);
    assert.equal(verifySignature(secret, undefined, body, sig), false);
    assert.equal(signatureFor(secret, ts, body), sig);
    assert.ok(!lines.some((l) => l.includes(secret)), 'the secret is never logged');
    assert.ok(!lines.some((l) => l.includes('token=abc')), 'nor the query string of the URL');
  } finally {
    await srv.close();
  }
});

test('without a secret there is no signature header', async () => {
  const srv = await server();
  try {
    await withSink(srv.url, { secret: undefined }, (sink) => sink.send(events(1)));
    assert.equal(srv.requests[0]!.headers['x-aud-signature'], undefined);
    assert.match(srv.requests[0]!.headers['x-aud-timestamp'] as string, /^\d+$/);
  } finally {
    await srv.close();
  }
});

test('1200 events go out as 500 + 500 + 200, in order', async () => {
  const srv = await server();
  try {
    const all = events(1200);
    const res = await withSink(srv.url, {}, (sink) => sink.send(all));
    assert.deepEqual(res, { delivered: 1200, deadLettered: 0, retries: 0, requests: 3 });
    assert.deepEqual(srv.requests.map((r) => received(r).length), [500, 500, 200]);
    assert.deepEqual(srv.requests.flatMap(received), all);
    assert.equal(new Set(srv.requests.map((r) => r.headers['idempotency-key'])).size, 3);
    assert.deepEqual(await withSink(srv.url, {}, (sink) => sink.send([])), { delivered: 0, deadLettered: 0, retries: 0, requests: 0 }, 'nothing to send: no request');
  } finally {
    await srv.close();
  }
});

test('503 twice, then 200: every event accepted exactly once, two retries, the same idempotency key', async () => {
  const accepted: object[] = [];
  const srv = await server((i, res) => {
    if (i < 2) { res.writeHead(503).end('busy'); return; }
    res.writeHead(204).end();
  });
  try {
    const all = events(10);
    const res = await withSink(srv.url, {}, async (sink) => {
      const r = await sink.send(all);
      assert.equal(sink.stats.retries, 2);
      return r;
    });
    for (const r of srv.requests.slice(2)) accepted.push(...received(r));
    assert.deepEqual(res, { delivered: 10, deadLettered: 0, retries: 2, requests: 3 });
    assert.deepEqual(accepted, all);
    assert.equal(new Set(srv.requests.map((r) => r.headers['idempotency-key'])).size, 1, 'retries carry the same key');
    assert.equal(new Set(srv.requests.map((r) => r.body.toString('utf8'))).size, 1, 'and the same body');
    for (const r of srv.requests) {
      assert.ok(verifySignature(secret, r.headers['x-aud-timestamp'] as string, r.body, r.headers['x-aud-signature'] as string), 'each attempt is signed');
    }
    assert.ok(lines.some((l) => l.includes('retrying') && l.includes('HTTP 503')));
  } finally {
    await srv.close();
  }
});

test('429 with Retry-After: 1 waits a second before the retry', async () => {
  const srv = await server((i, res) => {
    if (i === 0) { res.writeHead(429, { 'Retry-After': '1' }).end(); return; }
    res.writeHead(200).end();
  });
  try {
    const res = await withSink(srv.url, { initialBackoffMs: 1, maxBackoffMs: 5000 }, (sink) => sink.send(events(2)));
    assert.deepEqual(res, { delivered: 2, deadLettered: 0, retries: 1, requests: 2 });
    const gap = srv.requests[1]!.at - srv.requests[0]!.at;
    assert.ok(gap >= 950, `waited ${gap} ms`);
    assert.ok(gap < 2000, `waited ${gap} ms`);
  } finally {
    await srv.close();
  }
});

test('a request that times out is retried', async () => {
  const srv = await server((i, res) => {
    if (i === 0) { setTimeout(() => res.writeHead(200).end(), 1000).unref(); return; }
    res.writeHead(200).end();
  });
  try {
    const res = await withSink(srv.url, { timeoutMs: 100 }, (sink) => sink.send(events(1)));
    assert.deepEqual(res, { delivered: 1, deadLettered: 0, retries: 1, requests: 2 });
    assert.ok(lines.some((l) => l.includes('timeout: no complete response within 100 ms')));
  } finally {
    await srv.close();
  }
});

test('a 400 is dead-lettered at once with the reason; the next batch still goes out', async () => {
  const srv = await server((i, res) => {
    if (i === 0) { res.writeHead(400).end('{"error":"bad audience"}'); return; }
    res.writeHead(200).end();
  });
  try {
    const all = events(5);
    await withSink(srv.url, { batchSize: 3 }, async (sink, file) => {
      const res = await sink.send(all);
      assert.deepEqual(res, { delivered: 2, deadLettered: 3, retries: 0, requests: 2 });
      const dead = await deadLetters(file);
      assert.deepEqual(dead.map((d) => d.event), all.slice(0, 3), 'one line per event, in order');
      for (const d of dead) {
        assert.equal(d.attempts, 1);
        assert.equal(d.status, 400);
        assert.match(d.reason, /^HTTP 400 Bad Request: \{"error":"bad audience"\}$/);
        assert.ok(!Number.isNaN(Date.parse(d.at)));
      }
    });
    assert.deepEqual(received(srv.requests[1]!), all.slice(3));
  } finally {
    await srv.close();
  }
});

test('an endpoint that is down: dead-lettered after maxAttempts, send does not throw', async () => {
  const srv = await server();
  const url = srv.url;
  await srv.close();
  await withSink(url, { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 20 }, async (sink, file) => {
    const started = Date.now();
    const res = await sink.send(events(7));
    assert.deepEqual(res, { delivered: 0, deadLettered: 7, retries: 3, requests: 4 });
    assert.ok(Date.now() - started < 1000);
    const dead = await deadLetters(file);
    assert.equal(dead.length, 7);
    for (const d of dead) {
      assert.equal(d.attempts, 4);
      assert.match(d.reason, /^network error: .*ECONNREFUSED/);
      assert.equal(d.status, undefined);
    }
    // Appended, not overwritten.
    await sink.send(events(1, 100));
    assert.equal((await deadLetters(file)).length, 8);
    assert.deepEqual(sink.stats, { batches: 2, delivered: 0, deadLettered: 8, retries: 6, requests: 8 });
  });
  assert.ok(lines.some((l) => l.includes('webhook batch dead-lettered')));
});

test('close() ends the retries: send throws "closed" and nothing is dead-lettered', async () => {
  const srv = await server((_, res) => res.writeHead(503).end());
  try {
    await withSink(srv.url, { maxAttempts: 8, initialBackoffMs: 10_000, maxBackoffMs: 10_000 }, async (sink, file) => {
      const sending = sink.send(events(2));
      await new Promise((res) => setTimeout(res, 100));
      sink.close();
      await assert.rejects(sending, { name: 'WebhookSinkError', code: 'closed' });
      await assert.rejects(readFile(file), { code: 'ENOENT' });
    });
    assert.equal(srv.requests.length, 1);
  } finally {
    await srv.close();
  }
});

test('bad options are refused', () => {
  const base = { deadLetterFile: 'x.jsonl', log };
  assert.throws(() => new WebhookSink({ ...base, url: 'ftp://example.com/' }), { code: 'bad-options' });
  assert.throws(() => new WebhookSink({ ...base, url: 'not a url' }), { code: 'bad-options' });
  assert.throws(() => new WebhookSink({ ...base, url: 'http://example.com/', batchSize: 0 }), { code: 'bad-options' });
});
