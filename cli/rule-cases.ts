/**
 * Rule unit tests (`aud test`): a case file (YAML or JSON) names rule files,
 * gives events, and lists every enter/leave and decision event that must
 * come out, in order, with nothing else. `at` may be left out; where given
 * it must match within the precision of the windows the audience reads (one
 * bucket). A decision event's `score` is checked where given.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { compileFiles, formatDiagnostics } from '../dsl/compile.js';
import type { Plan } from '../dsl/plan.js';
import { parseTime } from '../engine/input-record.js';
import type { OutputEvent } from '../engine/output-event.js';
import { replay, type Deployment } from '../engine/replay.js';
import { planRuleChange, ruleChangeRefusal } from '../engine/rule-change.js';

export interface ExpectedEvent {
  type: 'enter' | 'leave' | 'decision';
  /** Enter and leave. */
  audience?: string;
  /** Decision events: the decision and the offer it names (null: none). */
  decision?: string;
  offer?: string | null;
  /** Checked where given, to 1e-9. */
  score?: number | null;
  customer: string;
  at?: string;
  /** event, timer, rule_change, merge or erasure; checked where given. */
  reason?: string;
}

/** `deploy:` in a case: from `at` on, these rule files replace those in force (`aud replay --deploy`). */
export interface CaseDeployment {
  at: string;
  rules: string[];
}

export interface RuleCase {
  path: string;
  name: string;
  rules: string[];
  events: Record<string, unknown>[];
  until?: string;
  deploy: CaseDeployment[];
  expect: ExpectedEvent[];
}

export interface CaseOutcome {
  case: RuleCase;
  passed: boolean;
  /** Why it failed, in lines a person can act on. */
  failures: string[];
  actual: OutputEvent[];
}

const CASE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Case files named directly or found (recursively) in directories, in name order. */
export async function findCaseFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      const entries = (await readdir(p)).sort();
      out.push(...await findCaseFiles(entries.map((e) => join(p, e)).filter((e) => !e.includes('/node_modules/'))));
    } else if (CASE_EXTENSIONS.has(extname(p)) || paths.includes(p)) {
      out.push(p);
    }
  }
  return out;
}

/** A case file holds one case, or a list of them under `cases:` (each with a `name`). */
export async function loadCases(path: string, defaultRules: readonly string[]): Promise<RuleCase[]> {
  const doc = YAML.parse(await readFile(path, 'utf8')) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error(`${path}: not a case file (expected a mapping with events and expect)`);
  const list = Array.isArray(doc.cases) ? (doc.cases as Record<string, unknown>[]) : [doc];
  return list.map((c, i) => {
    const where = `${path}${list.length > 1 ? ` case ${i + 1}` : ''}`;
    const rulesField = c.rules ?? doc.rules;
    const rules = Array.isArray(rulesField)
      ? (rulesField as string[]).map((r) => resolve(dirname(path), r))
      : [...defaultRules];
    if (rules.length === 0) throw new Error(`${where}: no rule files: give "rules: [file.aud]" in the case or rule files on the command line`);
    if (!Array.isArray(c.events)) throw new Error(`${where}: "events" must be a list of event records`);
    if (!Array.isArray(c.expect)) throw new Error(`${where}: "expect" must be a list of enter/leave and decision events (an empty list [] if none)`);
    const deployField = c.deploy ?? [];
    if (!Array.isArray(deployField)) throw new Error(`${where}: "deploy" must be a list of { at: TIME, rules: [file.aud, ...] }`);
    const deploy = (deployField as Record<string, unknown>[]).map((d, k) => {
      if (!d || typeof d !== 'object' || d.at === undefined || !Array.isArray(d.rules) || d.rules.length === 0) {
        throw new Error(`${where}: deploy ${k + 1} must be { at: TIME, rules: [file.aud, ...] }`);
      }
      return { at: String(d.at), rules: (d.rules as string[]).map((r) => resolve(dirname(path), r)) };
    });
    const rc: RuleCase = {
      path, name: typeof c.name === 'string' ? c.name : where, rules, deploy,
      events: c.events as Record<string, unknown>[],
      expect: c.expect as ExpectedEvent[],
    };
    if (c.until !== undefined) rc.until = String(c.until);
    return rc;
  });
}

/**
 * Time tolerance for an audience: the widest bucket among the windows it
 * reads, else exact; for a decision, the widest bucket of any window (its
 * offers read audiences and traits).
 */
function tolerance(plan: Plan, want: ExpectedEvent): number {
  const a = want.type === 'decision' ? undefined : plan.audiences.find((x) => x.name === want.audience);
  if (!a && want.type !== 'decision') return 0;
  let t = 0;
  for (const i of a ? a.slots : plan.slots.keys()) {
    const s = plan.slots[i]!;
    if (s.kind === 'aggregate' && s.bucketMs !== undefined) t = Math.max(t, s.bucketMs);
  }
  return t;
}

function show(e: ExpectedEvent | OutputEvent): string {
  const what = e.type === 'decision' ? `decision ${e.decision} → ${e.offer ?? 'null'}${typeof e.score === 'number' ? ` (score ${e.score})` : ''}` : `${e.type} ${e.audience}`;
  return `${what} ${e.customer}${e.at ? ' at ' + e.at : ''}${e.reason ? ` (${e.reason})` : ''}`;
}

/** Whether an actual event is the one expected, in all but its time. */
function matches(want: ExpectedEvent, got: OutputEvent): boolean {
  if (want.type !== got.type || String(want.customer) !== got.customer || (want.reason !== undefined && want.reason !== got.reason)) return false;
  if (got.type !== 'decision') return want.audience === got.audience;
  if (want.decision !== got.decision || (want.offer ?? null) !== got.offer) return false;
  if (want.score === undefined) return true;
  return want.score === null ? got.score === null : got.score !== null && Math.abs(got.score - want.score) <= 1e-9;
}

export async function runCase(c: RuleCase): Promise<CaseOutcome> {
  const compiled = await compileFiles(c.rules);
  if (!compiled.plan) {
    return { case: c, passed: false, actual: [], failures: ['the rule files have errors:', formatDiagnostics(compiled)] };
  }
  const plan = compiled.plan;
  const actual: OutputEvent[] = [];
  const failures: string[] = [];
  let until: number | undefined;
  if (c.until !== undefined) {
    until = parseTime(c.until);
    if (until === undefined) return { case: c, passed: false, actual, failures: [`until "${c.until}" is not a time (ISO-8601 or epoch ms)`] };
  }
  const deployments: Deployment[] = [];
  for (const d of c.deploy) {
    const at = parseTime(d.at);
    if (at === undefined) return { case: c, passed: false, actual, failures: [`deploy at "${d.at}" is not a time (ISO-8601 or epoch ms)`] };
    const next = await compileFiles(d.rules);
    if (!next.plan) return { case: c, passed: false, actual, failures: [`the rule files deployed at ${d.at} have errors:`, formatDiagnostics(next)] };
    deployments.push({ at, plan: next.plan });
  }
  deployments.sort((a, b) => (a.at as number) - (b.at as number));
  for (let k = 0; k < deployments.length; k++) {
    const refused = ruleChangeRefusal(planRuleChange(k === 0 ? plan : deployments[k - 1]!.plan, deployments[k]!.plan));
    if (refused) return { case: c, passed: false, actual, failures: [`the rules deployed at ${new Date(deployments[k]!.at as number).toISOString()} are refused: ${refused}`] };
  }
  const records = () => c.events.map((value, i) => ({ value, cause: { line: i + 1 } }));
  await replay(plan, records(), {
    ...(until !== undefined ? { until } : {}),
    deployments, history: records,
    onOutput: (events) => { actual.push(...events); },
    onBad: (b) => failures.push(`event ${(b.record.cause as { line: number }).line} is a bad record: ${b.reason}`),
  });
  const n = Math.max(actual.length, c.expect.length);
  for (let i = 0; i < n; i++) {
    const want = c.expect[i];
    const got = actual[i];
    if (!want) { failures.push(`#${i + 1}: unexpected ${show(got!)}`); continue; }
    if (!got) { failures.push(`#${i + 1}: missing ${show(want)}`); continue; }
    if (!matches(want, got)) {
      failures.push(`#${i + 1}: expected ${show(want)}, got ${show(got)}`);
      continue;
    }
    if (want.at !== undefined) {
      const wantAt = parseTime(want.at);
      const slack = tolerance(plan, want);
      if (wantAt === undefined) failures.push(`#${i + 1}: "at" ${want.at} is not a time`);
      else if (Math.abs(Date.parse(got.at) - wantAt) > slack) {
        failures.push(`#${i + 1}: ${show(want)}: came at ${got.at}${slack ? ` (precision for this audience: ${slack / 60_000} min)` : ''}`);
      }
    }
  }
  return { case: c, passed: failures.length === 0, failures, actual };
}
