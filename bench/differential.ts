/**
 * The differential test at scale: N random rule files and streams, engine vs
 * reference evaluator; prints progress, the mismatches (with their seed, rules
 * and events), and a summary.
 *
 *   node dist/bench/differential.js --cases 20000 [--from 1]      (--from N --cases 1: replay seed N)
 */
import { describeMismatch, runCase } from '../test/reference/differential.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const cases = arg('cases', 10_000);
const from = arg('from', 1);
const started = Date.now();
let mismatches = 0;
let outputs = 0;
let withDeployments = 0;
let ruleChanges = 0;
let decisions = 0;
let decisionRuleChanges = 0;
let withDecisions = 0;
let withIdentities = 0;
let withErasures = 0;
let merges = 0;
let erasures = 0;
for (let seed = from; seed < from + cases; seed++) {
  const r = await runCase(seed);
  outputs += r.engine.length;
  if (r.case.deployments.length > 0) withDeployments++;
  ruleChanges += r.reference.filter((e) => e.reason === 'rule_change').length;
  const decided = r.reference.filter((e) => e.type === 'decision').length;
  decisions += decided;
  decisionRuleChanges += r.reference.filter((e) => e.type === 'decision' && e.reason === 'rule_change').length;
  if (/^decision /m.test(r.case.rules)) withDecisions++;
  if (/\bidentity /.test(r.case.rules)) withIdentities++;
  if (r.case.events.some((e) => e['type'] === 'aud.forget')) withErasures++;
  merges += r.reference.filter((e) => e.reason === 'merge').length;
  erasures += r.reference.filter((e) => e.reason === 'erasure').length;
  if (r.mismatch) {
    mismatches++;
    if (mismatches <= 5) process.stdout.write(describeMismatch(r) + '\n\n');
  }
  if ((seed - from + 1) % 500 === 0) {
    process.stderr.write(`${seed - from + 1}/${cases} cases, ${mismatches} mismatches, ${Math.round((seed - from + 1) / ((Date.now() - started) / 1000))} cases/s\n`);
  }
}
process.stdout.write(`${cases} cases (seeds ${from}..${from + cases - 1}; ${withDeployments} with rule changes, ${withDecisions} with decisions, ` +
  `${withIdentities} with identities, ${withErasures} with erasures), ` +
  `${outputs} events compared (${ruleChanges} of reason rule_change, ${decisions} decision events, ${decisionRuleChanges} of them of reason rule_change, ` +
  `${merges} of reason merge, ${erasures} of reason erasure), ${mismatches} mismatches, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.exitCode = mismatches > 0 ? 1 : 0;
