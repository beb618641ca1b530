/**
 * Steady audiences under `aud run` on the real broker: a delay that runs
 * while the engine is stopped and its disk lost comes out after the restart,
 * at its instant, by timer: the dwell state is restored from the changelog
 * with the rest of the customer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, produceJson, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';

const example = join(repo, 'examples/steady/steady.aud');

interface Out { type: string; audience: string; customer: string; at: string; version: number; reason: string }

const record = (customer: string, type: string, ts: string, fields: Record<string, unknown>) =>
  ({ key: customer, value: JSON.stringify({ customer_id: customer, type, ts, ...fields }) });

test('aud run: engaged enters an hour after the tenth view, by timer, after a restart from the changelog alone; rules that change it are refused, on SIGHUP and at start', async () => {
  const input = uniqueTopic('steady-in');
  const output = uniqueTopic('steady-out');
  await createTopic(input, 1);
  const work = await mkdtemp(join(tmpdir(), 'aud-steady-'));
  const stateDir = join(work, 'state');
  const rules = join(work, 'steady.aud');
  await copyFile(example, rules);
  const args = [rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', stateDir, '--group', `g-${input}`, '--clock', 'event'];
  const outputs = async (n: number) => (await readTopic(output, { expected: n, timeoutMs: 60_000 }))
    .map((r) => JSON.parse(String(r.value)) as Out)
    .map((o) => `${o.at.slice(11, 16)} ${o.type} ${o.audience} ${o.customer} v${o.version} ${o.reason}`);
  try {
    let engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    // e1's tenth view at 09:09 starts engaged's hour; x's purchase at 09:30 shows the batch was taken.
    await produceJson(input, [
      ...Array.from({ length: 10 }, (_, i) => record('e1', 'page_view', `2026-03-01T09:0${i}:00Z`, { url: `/p/${i}` })),
      record('x', 'purchase', '2026-03-01T09:30:00Z', { amount: 5 }),
    ]);
    assert.deepEqual(await outputs(2), ['09:30 enter recent_buyer x v1 event', '09:30 enter quick_buyer x v1 event']);
    assert.equal(await engine.stop(), 0);

    // Lose the disk: the customer, its dwell state and its timer come back from the changelog.
    await rm(stateDir, { recursive: true, force: true });
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    assert.ok(engine.logs.some((l) => /state restored from changelog .*records=[1-9]/.test(l)), engine.logs.join('\n'));
    await produceJson(input, [record('y', 'purchase', '2026-03-01T12:00:00Z', { amount: 5 })]);
    assert.deepEqual((await outputs(5)).slice(2), [
      '10:09 enter engaged e1 v1 timer',
      '12:00 enter recent_buyer y v1 event',
      '12:00 enter quick_buyer y v1 event',
    ]);

    // Changing engaged's delay cannot be deployed on its running state: refused, the running rules go on.
    await writeFile(rules, (await readFile(example, 'utf8')).replace('enter after 1 hour', 'enter after 2 hours'));
    engine.signal('SIGHUP');
    await engine.waitForLog(/rule change refused: the new rules add or change the steady audience "engaged"/);
    assert.ok(!engine.logs.some((l) => /deploying new rules/.test(l)));
    await produceJson(input, [record('z', 'purchase', '2026-03-01T13:00:00Z', { amount: 5 })]);
    assert.deepEqual((await outputs(8)).slice(5), [
      '12:30 leave quick_buyer x v2 timer',
      '13:00 enter recent_buyer z v1 event',
      '13:00 enter quick_buyer z v1 event',
    ]);
    assert.equal(await engine.stop(), 0);

    // Started with the changed rules on this state: the engine says why and exits 1, rather than sit on partitions it cannot process.
    engine = new EngineProcess(args);
    assert.equal(await engine.exitCode(60_000), 1, engine.logs.join('\n'));
    assert.ok(engine.logs.some((l) => /cannot run these rules on the state of .*: rule change refused: the state of this partition was built by other rules .* steady audience "engaged"/.test(l)), engine.logs.join('\n'));
    assert.ok(!engine.logs.some((l) => /partition assigned/.test(l)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
