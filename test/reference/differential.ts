/**
 * One differential case: the engine (aud replay's code path: PartitionTask,
 * memory store, event clock) against the reference evaluator, on a random
 * rule file and stream. Equal means equal event for event: type, audience,
 * customer, at, version, reason (and for a decision event its decision,
 * offer and score), in the same order. And, in cases without a
 * rule change, each customer's state keeps its last enter/leave events as
 * its recent transitions.
 */
import { compileSources, formatDiagnostics } from '../../dsl/compile.js';
import type { InputRecord } from '../../engine/input-record.js';
import type { OutputEvent } from '../../engine/output-event.js';
import type { PartitionTask } from '../../engine/partition-task.js';
import { replay } from '../../engine/replay.js';
import { RECENT_TRANSITIONS } from '../../engine/transition-history.js';
import { ReferenceEvaluator, type RefOutput } from './evaluator.js';
import { runProfiles } from './profiles.js';
import { randomCase, type RandomCase } from './random-case.js';

export interface CaseResult {
  case: RandomCase;
  engine: RefOutput[];
  reference: RefOutput[];
  /** Empty when equal; else a description of the first difference. */
  mismatch: string;
}

function strip(e: OutputEvent): RefOutput {
  if (e.type === 'decision') return { type: 'decision', decision: e.decision, offer: e.offer, customer: e.customer, at: e.at, score: e.score, version: e.version, reason: e.reason };
  return { type: e.type, audience: e.audience, customer: e.customer, at: e.at, version: e.version, reason: e.reason };
}

/** An event as compared: a score to 12 significant digits (the reference's arithmetic may differ in the last bits). */
function comparable(e: RefOutput | undefined): string {
  if (e === undefined) return 'null';
  if (e.type !== 'decision' || e.score === null) return JSON.stringify(e);
  return JSON.stringify({ ...e, score: Number(e.score.toPrecision(12)) });
}

function compileCase(rules: string, maxTallyValues: number | undefined): ReturnType<typeof compileSources> {
  const compiled = compileSources(new Map([['random.aud', rules]]));
  if (compiled.plan && maxTallyValues !== undefined) {
    for (const slot of compiled.plan.slots) if (slot.kind === 'aggregate' && slot.maxValues !== undefined) slot.maxValues = maxTallyValues;
  }
  return compiled;
}

export async function runCase(seed: number): Promise<CaseResult> {
  const c = randomCase(seed);
  const compiled = compileCase(c.rules, c.maxTallyValues);
  const deployed = c.deployments.map((d) => ({ at: d.at, compiled: compileCase(d.rules, c.maxTallyValues) }));
  for (const r of [compiled, ...deployed.map((d) => d.compiled)]) {
    if (!r.plan) return { case: c, engine: [], reference: [], mismatch: `the generated rules do not check:\n${formatDiagnostics(r)}` };
  }
  const engine: RefOutput[] = [];
  const batchSize = 1 + (seed % 7) * 5;
  // Every other case keeps no customer decoded between batches: each batch
  // reads its customers from the store, so the state encoding (which copies
  // what did not change since the last encode) is compared too.
  const cacheCustomers = seed % 2 === 0 ? 0 : undefined;
  const records = (): InputRecord[] => c.events.map((value) => ({ value }));
  // Without a rule change, the transitions each customer's state keeps are its last RECENT_TRANSITIONS enter/leave events.
  let kept = '';
  const atEnd = async (task: PartitionTask): Promise<void> => {
    const byCustomer = new Map<string, RefOutput[]>();
    for (const e of engine) if (e.type !== 'decision') byCustomer.set(e.customer, [...(byCustomer.get(e.customer) ?? []), e]);
    for (const [customer, emitted] of byCustomer) {
      const got = JSON.stringify((await task.view(customer))!.transitions.map((t) => strip({ ...t, customer })));
      const want = JSON.stringify(emitted.slice(-RECENT_TRANSITIONS).reverse());
      if (got !== want) { kept = `transitions kept for ${customer}: engine ${got}\n     expected ${want}`; return; }
    }
  };
  // Identities and erasures: the reference re-keys the records by profile (profiles.ts).
  const profiles = compiled.plan!.source.identity !== undefined || c.events.some((e) => e['type'] === 'aud.forget');
  await replay(compiled.plan!, records(), {
    until: c.until, batchSize, onOutput: (events) => { engine.push(...events.map(strip)); },
    // The transitions a state keeps are its own id's since its last merge or erasure: compared where ids never change.
    ...(c.deployments.length === 0 && !profiles ? { atEnd } : {}),
    ...(cacheCustomers !== undefined ? { cacheCustomers } : {}),
    deployments: deployed.map((d) => ({ at: d.at, plan: d.compiled.plan! })), history: records,
  });
  if (profiles && c.deployments.length > 0) throw new Error(`seed ${seed}: identity and erasure cases have no rule changes`);
  const reference = profiles
    ? runProfiles(new ReferenceEvaluator(compiled.files, c.maxTallyValues), c.events, c.until)
    : ReferenceEvaluator.runDeployments(
      new ReferenceEvaluator(compiled.files, c.maxTallyValues),
      deployed.map((d) => ({ at: d.at, rules: new ReferenceEvaluator(d.compiled.files, c.maxTallyValues) })),
      c.events, c.until);
  let mismatch = '';
  const n = Math.max(engine.length, reference.length);
  for (let i = 0; i < n; i++) {
    const a = comparable(engine[i]);
    const b = comparable(reference[i]);
    if (a !== b) { mismatch = `#${i + 1}: engine ${a}\n     reference ${b}`; break; }
  }
  if (!mismatch) mismatch = kept;
  return { case: c, engine, reference, mismatch };
}

export function describeMismatch(r: CaseResult): string {
  return [
    `seed ${r.case.seed}: ${r.mismatch}`,
    '--- rules', r.case.rules,
    '--- events', ...r.case.events.map((e) => JSON.stringify(e)),
    `--- until ${new Date(r.case.until).toISOString()}`,
    ...r.case.deployments.flatMap((d) => [`--- deploy at ${new Date(d.at).toISOString()}`, d.rules]),
    ...(r.case.maxTallyValues !== undefined ? [`--- at most ${r.case.maxTallyValues} values per distinct/top`] : []),
    `--- engine (${r.engine.length})`, ...r.engine.map((e) => JSON.stringify(e)),
    `--- reference (${r.reference.length})`, ...r.reference.map((e) => JSON.stringify(e)),
  ].join('\n');
}
