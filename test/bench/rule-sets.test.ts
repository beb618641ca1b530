/**
 * The benchmark's `--rule-sets` (bench/harness/rule-sets.ts): the options,
 * the generated files (they check and declare what bench.aud declares, so
 * that they read the workload's events from the workload's topic), aud's
 * command line with them, and their section of RESULTS.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport, type BenchReport } from '../../bench/harness/results-report.js';
import { checkedPlan, parseRuleSetOptions, ruleSetOf, writeRuleSet } from '../../bench/harness/rule-sets.js';
import { benchRulesFile, commandFor, parseSystem, type LaunchOptions } from '../../bench/harness/systems.js';
import type { ThroughputResult } from '../../bench/harness/throughput-run.js';
import { repo } from '../support/examples.js';

const defaultSystems = 'passthrough,streams-1,streams-2,aud-1,aud-2,aud-eos-1'.split(',').map(parseSystem);

test('--rule-sets: none when empty; sizes sorted; aud systems that are also in --systems', () => {
  assert.deepEqual(parseRuleSetOptions('', 'aud-2', defaultSystems), { sizes: [], systems: [] });
  const o = parseRuleSetOptions('10000, 100,1000', 'aud-2,aud-1', defaultSystems);
  assert.deepEqual(o.sizes, [100, 1000, 10000]);
  assert.deepEqual(o.systems.map((s) => s.label), ['aud --workers 2', 'aud --workers 1']);
  assert.throws(() => parseRuleSetOptions('100,0', 'aud-2', defaultSystems), /"0" is not a whole number/);
  assert.throws(() => parseRuleSetOptions('1e2x', 'aud-2', defaultSystems), /"1e2x"/);
  assert.throws(() => parseRuleSetOptions('100,100', 'aud-2', defaultSystems), /given twice/);
  assert.throws(() => parseRuleSetOptions('100', 'streams-2', defaultSystems), /cannot run the generated rule sets/);
  assert.throws(() => parseRuleSetOptions('100', '', defaultSystems), /at least one aud system/);
  assert.throws(() => parseRuleSetOptions('100', 'aud-2', [parseSystem('aud-1')]), /add aud --workers 2 to --systems/);
});

test('a generated rule set checks and declares bench.aud\'s source, output and events', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aud-rule-sets-'));
  try {
    const bench = checkedPlan(benchRulesFile(repo));
    const set = writeRuleSet(dir, 300, 1, bench);
    assert.equal(set.path, join(dir, 'generated-300.aud'));
    assert.equal(set.audiences, 300);
    const plan = checkedPlan(set.path);
    assert.equal(set.sharedStates, plan.slots.length);
    assert.ok(set.sharedStates > 13 && set.sharedStates < 300, `${set.sharedStates} shared states`);
    assert.equal(plan.source.topic, 'bench.events');
    assert.equal(plan.outputTopic, 'bench.segments');
    assert.deepEqual(plan.source, bench.source);
    assert.deepEqual(plan.events, bench.events);
    const text = readFileSync(set.path, 'utf8');
    assert.equal(writeRuleSet(dir, 300, 1, bench).sharedStates, set.sharedStates);
    assert.equal(readFileSync(set.path, 'utf8'), text, 'the same size and seed give the same file');
    assert.deepEqual(ruleSetOf(benchRulesFile(repo), bench), { path: benchRulesFile(repo), audiences: 10, sharedStates: 13 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aud runs the rule file of its launch options, bench.aud by default', () => {
  const launch: LaunchOptions = { repo, brokers: 'b:9092', input: 'in', output: 'out', group: 'g', stateDir: '/tmp/s', clock: 'event', streamsCommitMs: 1000 };
  const rulesArg = (o: LaunchOptions): string => {
    const { args } = commandFor(parseSystem('aud-2'), o);
    return args[args.indexOf('run') + 1]!;
  };
  assert.equal(rulesArg(launch), join(repo, 'bench/rules/bench.aud'));
  assert.equal(rulesArg({ ...launch, rules: ['/w/generated-100.aud'] }), '/w/generated-100.aud');
});

function run(system: string, eventsPerSecond: number, outputRecords: number): ThroughputResult {
  const seconds = 1000 / eventsPerSecond;
  return { system, repeat: 1, events: 1000, eventsPerSecond, seconds, startSeconds: 1, steadyEventsPerSecond: eventsPerSecond, outputRecords, peakRssMb: 300, stateMb: 12, exitCode: 0, logFile: 'x.log' };
}

test('RESULTS.md: a row per rule set under each system, bench.aud\'s from the main runs; no section without --rule-sets', () => {
  const aud2 = 'aud --workers 2';
  const report: BenchReport = {
    date: '2026-01-01T00:00:00Z', command: 'bash bench/run.sh --rule-sets 100', engineCommit: 'abc',
    machine: { nproc: 2, memoryGb: 8, cpuModel: 'cpu', kernel: 'k', node: 'v20', kafkaClient: '1', librdkafka: '2', broker: '3', java: '17', kafkaStreams: '3' },
    workload: { customers: 100, events: 1000, days: 90, zipf: 0.8, partitions: 8, seed: 1 },
    produced: [], repeat: 1, streamsCommitMs: 1000, systems: [aud2],
    throughput: [run(aud2, 50_000, 2_000)], restore: [], ruleChange: [], latency: [], profile: undefined, latencySeconds: 20, latencyRepeat: 1, failures: [], notes: [],
  };
  assert.ok(!renderReport(report).includes('## Large rule sets'));
  const text = renderReport({
    ...report,
    ruleSets: {
      seed: 1, systems: [aud2], latency: [],
      sets: [{ path: 'bench.aud', audiences: 10, sharedStates: 13 }, { path: 'generated-100.aud', audiences: 100, sharedStates: 83 }],
      throughput: [{ audiences: 100, result: run(aud2, 20_000, 10_000) }],
    },
  });
  assert.match(text, /## Large rule sets/);
  assert.match(text, /### aud --workers 2/);
  assert.match(text, /\| 10 \(bench\.aud\) \| 13 \| 50,000 \| 50,000 \| 50,000 \| 2,000 \| 100,000 \| 300 \| 12\.0 \|/);
  assert.match(text, /\| 100 \| 83 \| 20,000 \| 20,000 \| 20,000 \| 10,000 \| 200,000 \| 300 \| 12\.0 \|/);
});
