/**
 * The dashboard's routes on a running engine, without a browser: the page's
 * files served from the package (and nothing else by path), the live tail of
 * an exactly-once engine (events published once their transaction
 * committed; the rules in the main thread, so the events come as objects,
 * not packed), partitions with their offsets, and the sizes history read
 * back by the next process on the same state directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { produceEvents, retailRules } from '../support/group-run.js';

const PARTITIONS = 2;

interface SizePoint { t: number; sizes: Record<string, number>; enters: Record<string, number>; leaves: Record<string, number> }

/** Server-sent `data:` messages of /events until `until` holds for one, or the timeout. */
async function tailUntil(base: string, until: (event: Record<string, unknown>) => boolean, started: () => Promise<void>, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(`${base}/events`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let connected = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the tail ended');
      buffer += value;
      if (!connected && buffer.includes(': connected')) { connected = true; await started(); }
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const event = JSON.parse(data.slice(6)) as Record<string, unknown>;
        if (until(event)) { abort.abort(); return event; }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

async function startEngine(input: string, stateDir: string): Promise<{ engine: EngineProcess; base: string }> {
  const engine = new EngineProcess([retailRules, '--brokers', testBrokers(), '--topic', input, '--output-topic', `${input}.out`,
    '--state-dir', stateDir, '--group', `g-${input}`, '--http', '0', '--exactly-once',
    // The rules in this thread: the tail takes the events as objects here, packed by a worker in the browser test.
    '--workers', '0']);
  await engine.waitForLog(/query API listening/);
  const port = /url=http:\/\/[^:]+:(\d+)/.exec(engine.logs.find((l) => /query API listening/.test(l))!)![1];
  await engine.waitForLog(/partition assigned/, PARTITIONS);
  return { engine, base: `http://127.0.0.1:${port}` };
}

test('dashboard routes: files, the exactly-once tail, partitions, and sizes history across a restart', async () => {
  const input = uniqueTopic('dash-api');
  await createTopic(input, PARTITIONS);
  const work = await mkdtemp(join(tmpdir(), 'aud-dash-api-'));
  const stateDir = join(work, 'state');
  let { engine, base } = await startEngine(input, stateDir);
  try {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.match(await page.text(), /<script src="\/dashboard\/dashboard.js">/);
    for (const file of ['dashboard.js', 'dashboard.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
      assert.equal((await fetch(`${base}/dashboard/${file}`)).status, 200, file);
    }
    assert.equal((await fetch(`${base}/dashboard/..%2F..%2Fpackage.json`)).status, 404, 'only the page\'s own files');

    const customer = `dash-api-${Date.now()}`;
    const event = await tailUntil(base, (e) => e.customer === customer, () => produceEvents(input, PARTITIONS, [
      { customer_id: customer, type: 'profile_update', ts: new Date().toISOString(), tier: 'gold', email_opt_in: true, country: 'NL' },
    ]));
    assert.equal(event.type, 'enter');
    assert.equal(event.audience, 'gold_opted_in');
    assert.equal(event.version, 1);

    const { partitions } = await (await fetch(`${base}/partitions`)).json() as { partitions: Record<string, unknown>[] };
    assert.deepEqual(partitions.map((p) => p.partition), [0, 1]);
    const busy = partitions.find((p) => p.appliedOffset === '1')!;
    assert.ok(busy, JSON.stringify(partitions));
    assert.equal(busy.committedOffset, '1', 'exactly-once: committed with the output');
    assert.equal(busy.highWatermark, '1');
    assert.equal(busy.lag, 0);
    assert.equal(busy.caughtUp, true);
    assert.ok((busy.stateBytes as number) > 0);

    const sizes = await (await fetch(`${base}/sizes`)).json() as { points: SizePoint[] };
    assert.equal(sizes.points.at(-1)!.sizes.gold_opted_in, 1);
    assert.equal(sizes.points.reduce((n, p) => n + (p.enters.gold_opted_in ?? 0), 0), 1);

    assert.equal(await engine.stop(), 0);
    assert.ok(existsSync(join(stateDir, 'dashboard', 'sizes.jsonl')));
    ({ engine, base } = await startEngine(input, stateDir));
    const again = await (await fetch(`${base}/sizes`)).json() as { points: SizePoint[] };
    assert.equal(again.points.reduce((n, p) => n + (p.enters.gold_opted_in ?? 0), 0), 1, 'the enter counted before the restart is read back');
    assert.equal(again.points.at(-1)!.sizes.gold_opted_in, 1);
  } finally {
    await engine.stop();
    await rm(work, { recursive: true, force: true });
  }
});
