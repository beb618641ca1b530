/**
 * cli/rule-reloader.ts, without Kafka: what `aud run` does on SIGHUP and with
 * --watch. Rules that compile are handed to deploy; a file with errors is
 * refused (deploy not called, the errors counted in the log, the running
 * rules stay); a deploy that refuses is logged; saving a watched file
 * reloads it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '../../dsl/plan.js';
import { createLogger } from '../../engine/log.js';
import { RuleReloader } from '../../cli/rule-reloader.js';
import { repo } from '../support/examples.js';

function setup(deploy: (plan: Plan) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'aud-reload-'));
  const file = join(dir, 'rules.aud');
  writeFileSync(file, readFileSync(join(repo, 'examples/retail/retail.aud'), 'utf8'));
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  return { file, lines, reloader: new RuleReloader([file], log, deploy) };
}

test('SIGHUP: rules that compile are deployed; a file with errors is refused and nothing is deployed', async () => {
  const deployed: Plan[] = [];
  const { file, lines, reloader } = setup(async (p) => { deployed.push(p); });
  await reloader.reload('SIGHUP');
  assert.equal(deployed.length, 1);
  assert.ok(deployed[0]!.audiences.some((a) => a.name === 'vip'));

  writeFileSync(file, readFileSync(file, 'utf8').replace('>= 10000', '>= "10000"'));
  await reloader.reload('SIGHUP');
  assert.equal(deployed.length, 1, 'nothing deployed');
  assert.ok(lines.some((l) => /rule change refused: 1 error in the rule files \(above\); the running rules stay/.test(l)), lines.join('\n'));
});

test('a deploy that refuses the rules is logged, and the reloader goes on', async () => {
  let calls = 0;
  const { lines, reloader } = setup(async () => { calls++; throw new Error('the new rules write to "x", the running ones to "y": changing the output topic needs a restart'); });
  await reloader.reload('SIGHUP');
  await reloader.reload('SIGHUP');
  assert.equal(calls, 2);
  assert.ok(lines.some((l) => /rule change refused: the new rules write to "x".*the running rules stay/.test(l)), lines.join('\n'));
});

test('--watch: saving the file deploys it once the burst of writes settles', async () => {
  const deployed: Plan[] = [];
  let arrived: () => void = () => undefined;
  const { file, reloader } = setup(async (p) => { deployed.push(p); arrived(); });
  reloader.watch();
  try {
    const next = new Promise<void>((res) => { arrived = res; });
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('>= 10000', '>= 5000'));
    writeFileSync(file, text.replace('>= 10000', '>= 6000'));
    await Promise.race([next, new Promise((_, rej) => setTimeout(() => rej(new Error('no reload within 5 s of saving')), 5000))]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(deployed.length, 1, 'two writes in a burst: one reload');
    const vip = deployed[0]!.audiences.find((a) => a.name === 'vip')!;
    assert.match(vip.text, /6000/);
  } finally {
    reloader.close();
  }
});
