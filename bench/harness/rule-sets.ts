/**
 * The large rule sets of a run (`--rule-sets 100,1000,10000`): for each
 * size, a rule file that bench/rules/generate-rules.ts writes into the work
 * directory, which aud then runs on the workload's topic beside bench.aud.
 *
 * A generated set declares bench.aud's source and output topics; its events
 * are the retail events, which are bench.aud's and the workload's. So the
 * two differ in their audiences only, and a difference in the figures is the
 * cost of the audiences. `writeRuleSet` refuses a set that does not check or
 * whose declarations are not bench.aud's, before any run starts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources, formatDiagnostics } from '../../dsl/compile.js';
import type { Plan } from '../../dsl/plan.js';
import { generateRuleSet } from '../rules/generate-rules.js';
import { parseSystem, type SystemSpec } from './systems.js';

export interface RuleSet {
  path: string;
  audiences: number;
  /** The plan's shared per-customer states (slots), as `aud explain` lists them. */
  sharedStates: number;
}

/** The rule file's plan; throws with the diagnostics when it does not check. */
export function checkedPlan(path: string, text = readFileSync(path, 'utf8')): Plan {
  const compiled = compileSources(new Map([[path, text]]));
  if (!compiled.plan) throw new Error(`${path} does not check:\n${formatDiagnostics(compiled)}`);
  return compiled.plan;
}

export function ruleSetOf(path: string, plan: Plan): RuleSet {
  return { path, audiences: plan.audiences.length, sharedStates: plan.slots.length };
}

/** Generates `audiences` audiences declaring what `like` (bench.aud's plan) declares, into `dir`. */
export function writeRuleSet(dir: string, audiences: number, seed: number, like: Plan): RuleSet {
  if (like.source.topic === undefined || like.outputTopic === undefined) throw new Error('the benchmark\'s rule file must declare its source and output topics');
  const text = generateRuleSet({ audiences, seed, ownAggregates: false, topics: { source: like.source.topic, output: like.outputTopic } });
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `generated-${audiences}.aud`);
  writeFileSync(path, text);
  const plan = checkedPlan(path, text);
  const declared = (p: Plan): string => JSON.stringify({ source: p.source, output: p.outputTopic, events: p.events });
  if (declared(plan) !== declared(like)) throw new Error(`${path} does not declare the source, output and events of the benchmark's rules`);
  return ruleSetOf(path, plan);
}

/**
 * `--rule-sets` (audience counts, comma-separated; empty: none) and
 * `--rule-set-systems` (aud only: the generated sets are aud rule files).
 * Each of those systems must also be in `--systems`, whose bench.aud runs
 * give the row that the large sets are compared with.
 */
export function parseRuleSetOptions(sizes: string, ruleSetSystems: string, systems: readonly SystemSpec[]): { sizes: number[]; systems: SystemSpec[] } {
  const counts = sizes.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--rule-sets: "${s}" is not a whole number of audiences of 1 or more`);
    return n;
  });
  if (new Set(counts).size !== counts.length) throw new Error(`--rule-sets ${sizes}: a size is given twice`);
  if (counts.length === 0) return { sizes: [], systems: [] };
  const specs = ruleSetSystems.split(',').filter(Boolean).map(parseSystem);
  if (specs.length === 0) throw new Error('--rule-set-systems: give at least one aud system (aud-N or aud-eos-N)');
  for (const spec of specs) {
    if (spec.kind !== 'aud') throw new Error(`--rule-set-systems: ${spec.label} cannot run the generated rule sets; give aud-N or aud-eos-N`);
    if (!systems.some((s) => s.label === spec.label)) throw new Error(`--rule-set-systems: add ${spec.label} to --systems too, for bench.aud's row to compare with`);
  }
  return { sizes: [...counts].sort((a, b) => a - b), systems: specs };
}
