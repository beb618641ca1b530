/**
 * Rule changes on the real broker (customer-lifecycle.md section 1,
 * docs/operations.md "Changing rules"): `aud run` on retail traffic, with
 * --exactly-once and at-least-once; a SIGHUP with a broken rule file is refused and the running rules
 * go on; a SIGHUP with retail-v2.aud deploys it, and the engine is killed
 * (kill -9) while it reads the input again for the new states' history;
 * restarted on the same state directory with retail-v2.aud, it finishes
 * the deployment. The output topic must then equal, event for event,
 * `aud replay retail.aud --deploy T=retail-v2.aud` over the same input
 * (T: the partition's clock at the change; at-least-once, after dropping
 * repeats by version as a consumer does), the membership topic must end
 * with a tombstone for every member of the removed audience, and the query
 * API must list the new rules' audiences, none warming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import type { OutputEvent } from '../../engine/output-event.js';
import { replay } from '../../engine/replay.js';
import { generateRetailEvents } from '../../examples/retail/generate.js';
import { membershipTopicFor } from '../../runtime/naming.js';
import { createTopic, readTopic, testBrokers, uniqueTopic } from '../support/broker.js';
import { EngineProcess } from '../support/engine-process.js';
import { repo } from '../support/examples.js';
import { committedOffsets, produceEvents } from '../support/group-run.js';

async function compile(path: string): Promise<Plan> {
  const r = compileSources(new Map([[path, await readFile(path, 'utf8')]]));
  assert.deepEqual(r.diagnostics, []);
  return r.plan!;
}

async function untilCommittedAt(group: string, topic: string, end: bigint, engine: EngineProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await committedOffsets(group, topic)).get(0) !== end) {
    if (Date.now() > deadline) throw new Error(`group ${group} did not commit offset ${end}; engine log:\n${engine.logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

for (const exactlyOnce of [true, false]) {
  const mode = exactlyOnce ? '--exactly-once' : 'at-least-once';
  const equal = exactlyOnce ? 'output equals replay --deploy' : 'output equals replay --deploy once repeats (same version) are dropped';
  test(`aud run ${mode}: SIGHUP with a broken file keeps the rules; SIGHUP with new rules, kill -9 during the history, restart: ${equal}; removed audience tombstoned; /audiences`, { timeout: 300_000 }, async () => {
    await ruleChangeRun(exactlyOnce);
  });
}

async function ruleChangeRun(exactlyOnce: boolean): Promise<void> {
  const input = uniqueTopic('rules-in');
  const output = uniqueTopic('rules-out');
  const group = `g-${input}`;
  await createTopic(input, 1);
  const dir = await mkdtemp(join(tmpdir(), 'aud-rule-change-'));
  const rules = join(dir, 'rules.aud');
  const v1Path = join(repo, 'examples/retail/retail.aud');
  const v2Path = join(repo, 'examples/retail/rule-change/retail-v2.aud');
  await copyFile(v1Path, rules);
  const args = [rules, '--brokers', testBrokers(), '--topic', input, '--output-topic', output,
    '--state-dir', join(dir, 'state'), '--group', group, '--clock', 'event', '--http', '0', ...(exactlyOnce ? ['--exactly-once'] : [])];
  // Split where time moves on, so that no event of the second part has the first part's last instant.
  const events = [...generateRetailEvents({ customers: 400, days: 60, seed: 3, start: new Date('2026-01-01T00:00:00Z') })];
  const split = Date.parse('2026-02-10T00:00:00Z');
  const first = events.filter((e) => Date.parse(String(e.ts)) < split);
  const second = events.filter((e) => Date.parse(String(e.ts)) >= split);
  let engine: EngineProcess | undefined;
  try {
    engine = new EngineProcess(args);
    await engine.waitForLog(/partition assigned/);
    await produceEvents(input, 1, first);
    await untilCommittedAt(group, input, BigInt(first.length), engine);

    // A broken file: refused with its diagnostics, the running rules stay.
    await writeFile(rules, (await readFile(v2Path, 'utf8')).replace('over 30 days >= 500', 'over 30 days >= "500"'));
    engine.signal('SIGHUP');
    await engine.waitForLog(/rule change refused: 1 error/);
    assert.ok(engine.logs.some((l) => /rules\.aud:\d+:\d+: /.test(l)), 'the diagnostic names file:line:col');
    assert.ok(!engine.logs.some((l) => /deploying new rules/.test(l)));

    // The new rules; killed while the history is read.
    await copyFile(v2Path, rules);
    engine.signal('SIGHUP');
    await engine.waitForLog(/reading the input again: the history of the new states/);
    engine.kill();
    assert.ok(!engine.logs.some((l) => /rules deployed on partition/.test(l)), 'killed before the deployment finished');

    engine = new EngineProcess(args);
    await engine.waitForLog(/rules deployed on partition/);
    assert.ok(engine.logs.some((l) => /partition state was built by other rules/.test(l)), engine.logs.join('\n'));
    await produceEvents(input, 1, second);
    await untilCommittedAt(group, input, BigInt(events.length), engine);
    // The query API answers with the new rules' audiences, none warming.
    const port = /url=http:\/\/[^:]+:(\d+)/.exec(engine.logs.find((l) => /query API listening/.test(l))!)![1];
    const sizes = await (await fetch(`http://127.0.0.1:${port}/audiences`)).json() as { sizes: Record<string, number>; warming: string[] };
    assert.deepEqual(sizes.warming, []);
    assert.ok('big_basket' in sizes.sizes && !('brand_lover' in sizes.sizes), JSON.stringify(sizes));
    assert.equal(await engine.stop(), 0);

    // What replay gives with the deployment at the partition's clock then: the first part's last event time.
    const at = Math.max(...first.map((e) => Date.parse(String(e.ts))));
    const v1 = await compile(v1Path);
    const v2 = await compile(v2Path);
    const expected: OutputEvent[] = [];
    const records = () => events.map((value) => ({ value }));
    await replay(v1, records(), { deployments: [{ at, plan: v2 }], history: records, onOutput: (o) => { expected.push(...o); } });
    assert.ok(expected.some((e) => e.reason === 'rule_change' && e.audience === 'brand_lover'), 'the change makes brand_lover members leave');
    assert.ok(expected.some((e) => e.reason === 'rule_change' && e.audience === 'big_basket'), 'and big_basket members enter');

    const read = (await readTopic(output, { expected: expected.length, timeoutMs: 60_000, settleMs: 1000 }))
      .map((r) => JSON.parse(String(r.value)) as OutputEvent);
    const key = (e: OutputEvent) => JSON.stringify([e.type, e.audience, e.customer, e.at, e.version, e.reason]);
    // At-least-once: what a consumer keeps, dropping each event at or below the version it has for that customer and audience.
    const seen = new Map<string, number>();
    const got = exactlyOnce ? read : read.filter((e) => {
      const k = `${e.customer}/${e.audience}`;
      if ((seen.get(k) ?? 0) >= e.version) return false;
      seen.set(k, e.version);
      return true;
    });
    assert.equal(got.length, expected.length, 'as many enter/leave events as replay --deploy');
    assert.deepEqual(got.map(key), expected.map(key));

    // Every brand_lover membership ends with a tombstone.
    const memberships = await readTopic(membershipTopicFor(output), { expected: 1, timeoutMs: 30_000, settleMs: 2000 });
    const last = new Map<string, string | null>();
    for (const r of memberships) if (r.key?.startsWith('brand_lover/')) last.set(r.key, r.value);
    assert.ok(last.size > 0);
    assert.deepEqual([...last.values()].filter((v) => v !== null), [], 'no brand_lover membership left');
  } finally {
    engine?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}
