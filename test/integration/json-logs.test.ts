/**
 * `aud run --log-format json` on the real broker: what a log pipeline
 * ingests. Every line the process writes is one JSON object with time,
 * level and msg; the lines an operator looks for carry their fields as
 * data; no customer id reaches a log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { retailRules } from '../support/group-run.js';

test('aud run --log-format json: every line is a JSON object, with the fields an operator filters on', async () => {
  const input = uniqueTopic('jsonlog-in');
  const output = uniqueTopic('jsonlog-out');
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-jsonlog-'));
  const engine = new EngineProcess([retailRules, '--topic', input, '--output-topic', output, '--brokers', testBrokers(),
    '--state-dir', join(work, 'state'), '--clock', 'event', '--http', '0', '--log-format', 'json']);
  try {
    await engine.waitForLog(/"msg":"partition assigned"/);
    const customer = 'json-log-customer-7';
    await produceJson(input, [
      { key: customer, value: JSON.stringify({ customer_id: customer, type: 'purchase', ts: '2026-01-01T10:00:00Z', amount: 6000, category: 'shoes', sku: 's1', channel: 'web' }) },
      { key: customer, value: JSON.stringify({ customer_id: customer, type: 'purchase', ts: '2026-01-02T10:00:00Z', amount: 5000, category: 'shoes', sku: 's2', channel: 'web' }) },
      { key: customer, value: '{"customer_id": "json-log-customer-7", "type": "purchase", "ts": ' },
      { key: customer, value: JSON.stringify({ customer_id: customer, type: 'purchase', ts: '2026-01-03T10:00:00Z', amount: 10, category: 'socks', sku: 's3', channel: 'web' }) },
    ]);
    await readTopic(output, { expected: 1, timeoutMs: 60_000 });
    await engine.waitForLog(/bad record sent to dead-letter topic/);
  } finally {
    assert.equal(await engine.stop(), 0);
    await rm(work, { recursive: true, force: true });
  }
  const lines = engine.logs.filter((l) => l.trim() !== '' && !l.startsWith('%'));
  assert.ok(lines.length >= 5, `${lines.length} lines`);
  const records = lines.map((l) => {
    let parsed: Record<string, unknown>;
    assert.doesNotThrow(() => { parsed = JSON.parse(l) as Record<string, unknown>; }, `not JSON: ${l}`);
    return parsed!;
  });
  for (const r of records) {
    assert.deepEqual(Object.keys(r).slice(0, 3), ['time', 'level', 'msg']);
    assert.ok(!Number.isNaN(Date.parse(String(r.time))));
    assert.ok(['debug', 'info', 'warn', 'error'].includes(String(r.level)));
  }
  const find = (msg: string): Record<string, unknown> => {
    const r = records.find((x) => x.msg === msg);
    assert.ok(r, `a "${msg}" line in:\n${lines.join('\n')}`);
    return r!;
  };
  assert.equal(find('partition assigned').partition, 0);
  assert.match(String(find('query API listening').url), /^http:\/\/127\.0\.0\.1:\d+$/);
  const bad = find('bad record sent to dead-letter topic');
  assert.equal(bad.level, 'warn');
  assert.equal(bad.partition, 0);
  assert.match(String(bad.reason), /JSON/i);
  // Personal data stays out of the logs: the customer's id is in no line.
  assert.deepEqual(lines.filter((l) => l.includes('json-log-customer-7')), []);
});
